//! Release records as stored in Secrets: gzip(JSON). Whatever decodes must encode and
//! decode again to the same record. Input that is not gzip is compressed first, so the
//! fuzzer reaches the JSON layer without forging gzip checksums.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use stackpkg::release::codec::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let gz;
    let bytes = if data.starts_with(&[0x1f, 0x8b]) {
        data
    } else {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        gz = e.finish().unwrap();
        &gz
    };
    if let Ok(r) = decode(bytes, "fuzz-record") {
        let again = decode(&encode(&r), "re-encoded").expect("an encoded record decodes");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::to_value(&again).unwrap()
        );
    }
});
