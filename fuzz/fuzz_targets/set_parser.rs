//! `--set` family expressions: the first byte picks the flag, the rest is the expression.
//! Each expression is applied on top of the previous one's result, as repeated flags are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackpkg::values::strvals::parse_into;
use stackpkg::values::SetKind;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = match first % 5 {
        0 => SetKind::Typed,
        1 => SetKind::String,
        2 => SetKind::Json,
        3 => SetKind::File,
        _ => SetKind::Literal,
    };
    // `--set-file` never touches the disk here: the "file" holds its own name.
    let mut read_file = |p: &str| -> Result<String, String> {
        if p.len() % 2 == 0 {
            Ok(p.to_string())
        } else {
            Err(format!("cannot read {p}"))
        }
    };
    let mut base = serde_json::Map::new();
    for expr in text.split('\n') {
        let _ = parse_into(expr, kind, &mut base, &mut read_file);
    }
});
