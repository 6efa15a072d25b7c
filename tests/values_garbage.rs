//! Garbage in, an error out — never a panic: random YAML for values files and random
//! `--set` family expressions.

use stackpkg::values::{self, ValueOptions};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn text(&mut self, alphabet: &[&str], max: usize) -> String {
        let n = (self.next() % (max as u64 + 1)) as usize;
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn random_values_yaml_never_panics() {
    let alphabet = [
        "a",
        "b",
        ": ",
        "\n",
        "  ",
        "- ",
        "1",
        "1.5",
        ".nan",
        "[",
        "]",
        "{",
        "}",
        ",",
        "\"",
        "'",
        "&x",
        "*x",
        "<<: ",
        "!!binary ",
        "null",
        "~",
        "---",
        "#",
        "?",
        "|",
        ">",
        "\t",
        "é",
        "%YAML 1.2",
    ];
    let mut rng = Rng(99);
    for _ in 0..3000 {
        let text = rng.text(&alphabet, 30);
        if let Err(e) = values::parse_values_text(&text, "v.yaml") {
            let msg = e.to_string();
            assert!(msg.starts_with("v.yaml"), "{msg}");
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }
}

#[test]
fn random_set_expressions_never_panic() {
    let alphabet = [
        "a", "b", "0", "1", "99999", ".", "[", "]", "=", ",", "{", "}", "\\", "\"", ":", "null",
        "true", " ", "é", "-",
    ];
    let mut rng = Rng(1234);
    for i in 0..4000 {
        let expr = rng.text(&alphabet, 20);
        let mut opts = ValueOptions::default();
        match i % 4 {
            0 => opts.set.push(expr.clone()),
            1 => opts.set_string.push(expr.clone()),
            2 => opts.set_json.push(expr.clone()),
            _ => opts.set_literal.push(expr.clone()),
        }
        match opts.load() {
            Ok(v) => assert!(v.is_object()),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.starts_with("--set"), "{msg}");
                assert!(msg.contains("(at column "), "{msg}");
            }
        }
    }
}
