//! Chart.yaml: syntax, shape and every field rule (name, semver, kubeVersion, dependencies).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(md) = stackpkg::chart::parse_chart_yaml(text, "fuzz/Chart.yaml") {
        // Accepted metadata must have a version the rest of the code can compare.
        let _ = stackpkg::chart::constraint::parse_lenient_version(&md.version);
    }
});
