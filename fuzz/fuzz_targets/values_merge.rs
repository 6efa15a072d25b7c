//! Values coalescing: fuzzed user values (YAML) through Helm's rules (aliases, tags,
//! conditions, import-values, globals) against a parent chart with four subcharts, plus
//! the plain `-f` deep merge of two fuzzed documents.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stackpkg::chart::Chart;
use stackpkg::values::{merge_maps, parse_values_text, prepare};

fn stack() -> &'static Chart {
    static CHART: OnceLock<Chart> = OnceLock::new();
    CHART.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/charts/stack"
        );
        stackpkg::chart::load_dir(std::path::Path::new(dir)).expect("fixture chart loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Two documents separated by a line of `---`: the second is merged over the first.
    let (a, b) = text.split_once("\n---\n").unwrap_or((text, ""));
    let Ok(mut base) = parse_values_text(a, "a.yaml") else {
        return;
    };
    if let Ok(over) = parse_values_text(b, "b.yaml") {
        merge_maps(&mut base, over);
    }
    let user = serde_json::Value::Object(base);
    if let Ok((_, values)) = prepare(stack(), &user) {
        // Coalesced values are what templates see: they must serialise.
        serde_json::to_vec(&values).expect("values serialise");
    }
});
