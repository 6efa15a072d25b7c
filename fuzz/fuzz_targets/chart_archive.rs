//! Chart archives (.tgz bytes): gzip, tar, path confinement, limits, nested charts, and the
//! metadata-only reader `repo index` uses. Small limits keep each run fast.
//! Input that is not gzip is compressed first, so the fuzzer can reach the tar layer
//! without having to forge gzip checksums.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use stackpkg::chart::{load_archive_with_limits, read_archive_metadata, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_archive: 1 << 20,
        max_total: 4 << 20,
        max_file: 1 << 20,
        max_entries: 500,
    };
    let gz;
    let bytes = if data.starts_with(&[0x1f, 0x8b]) {
        data
    } else {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        gz = e.finish().unwrap();
        &gz
    };
    let _ = load_archive_with_limits(bytes, "fuzz.tgz", &limits);
    let _ = read_archive_metadata(bytes);
});
