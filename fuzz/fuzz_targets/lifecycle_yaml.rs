//! lifecycle.yaml: YAML syntax, the JSON Schema, then the per-step rules (unique names,
//! durations, event/target combinations) of `lifecycle::spec::parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match stackpkg::lifecycle::spec::parse("fuzz/lifecycle.yaml", text, "sub/") {
        Ok(steps) => {
            // Accepted steps must carry the prefix and describe/serialize without panicking.
            for s in &steps {
                assert!(s.name.starts_with("sub/"));
                let _ = s.target.describe();
                if let Some(e) = &s.exec {
                    let _ = e.timeout();
                    let _ = stackpkg::lifecycle::spec::shell_words(&e.command);
                }
                if let Some(g) = &s.gate {
                    let _ = (g.interval(), g.timeout(), g.describe());
                }
            }
            let _ = serde_json::to_string(&steps).expect("steps serialize");
        }
        Err(e) => {
            // Every rejection names the file.
            assert!(e.to_string().contains("fuzz/lifecycle.yaml"), "{e}");
        }
    }
});
