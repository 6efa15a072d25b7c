//! Repository indexes: the full parser, the cache parser (with the fast block-style
//! scanner), and the cache's own encoding of whatever was accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackpkg::repo::index;

fuzz_target!(|data: &[u8]| {
    let full = index::parse(data, "fuzz/index.yaml");
    let light = index::parse_for_cache(data, "fuzz/index.yaml");
    // The fast path and the full parser must agree on whether an index is usable.
    assert_eq!(
        full.is_ok(),
        light.is_ok(),
        "parse and parse_for_cache disagree: {:?} vs {:?}",
        full.as_ref().err().map(|e| e.to_string()),
        light.as_ref().err().map(|e| e.to_string())
    );
    if let Ok(p) = full {
        let _ = p.index.to_yaml();
    }
});
