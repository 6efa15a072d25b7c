//! Garbage in, an error out — never a panic: mutated packages (compressed and
//! uncompressed), random Chart.yaml text and random version constraints.

mod common;

use std::io::Read;

use common::{fixture, gzip, raw_tgz, Kind};
use stackpkg::chart::{self, constraint::Constraint};

/// xorshift64*: a fixed seed keeps failures reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn text(&mut self, alphabet: &[&str], max: usize) -> String {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

fn stack_package() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = chart::package(&fixture("stack"), dir.path()).unwrap();
    std::fs::read(p).unwrap()
}

#[test]
fn mutated_packages_never_panic() {
    let good = stack_package();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&good[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut ok, mut err) = (0, 0);
    for i in 0..400 {
        // Alternate between damaging the tar stream (re-gzipped, so the tar parser sees
        // it) and the compressed bytes; sometimes truncate instead.
        let mut bytes = if i % 2 == 0 {
            tar.clone()
        } else {
            good.clone()
        };
        if rng.below(4) == 0 {
            let cut = rng.below(bytes.len());
            bytes.truncate(cut);
        } else {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
        }
        if i % 2 == 0 {
            bytes = gzip(&bytes);
        }
        match chart::load_archive(&bytes, "fuzz.tgz") {
            Ok(c) => {
                ok += 1;
                assert!(!c.metadata.name.is_empty());
            }
            Err(e) => {
                err += 1;
                let msg = e.to_string();
                assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
            }
        }
        let _ = chart::read_archive_metadata(&bytes);
    }
    assert!(err > 0 && ok + err == 400);
}

#[test]
fn random_chart_yaml_never_panics() {
    let alphabet = [
        "apiVersion",
        "name",
        "version",
        "v2",
        "v1",
        ": ",
        "\n",
        "  ",
        "- ",
        "1.0.0",
        "x",
        "[",
        "]",
        "{",
        "}",
        ",",
        "\"",
        "'",
        "dependencies",
        "alias",
        "condition",
        "import-values",
        "kubeVersion",
        ">=1.2",
        "||",
        "&a",
        "*a",
        "<<",
        "!!str",
        "null",
        "~",
        "#",
        "type",
        "library",
        "?",
        "|",
        "\t",
        "é",
        "0x1F",
        "1e999",
    ];
    let mut rng = Rng(42);
    for _ in 0..800 {
        let text = rng.text(&alphabet, 40);
        let tgz = raw_tgz(&[("c/Chart.yaml", Kind::File, text.as_bytes())]);
        if let Err(e) = chart::load_archive(&tgz, "c.tgz") {
            let msg = e.to_string();
            assert!(msg.starts_with("c.tgz") && !msg.contains('\n'), "{msg:?}");
        }
    }
}

#[test]
fn random_constraints_never_panic() {
    let alphabet = [
        "0",
        "1",
        "9",
        "18446744073709551616",
        ".",
        "x",
        "*",
        "^",
        "~",
        ">",
        "<",
        "=",
        "!",
        "|",
        ",",
        " ",
        "-",
        "+",
        "v",
        "rc",
        "a",
    ];
    let mut rng = Rng(7);
    let v = semver::Version::new(1, 2, 3);
    for _ in 0..5000 {
        let text = rng.text(&alphabet, 16);
        if let Ok(c) = Constraint::parse(&text) {
            let _ = c.matches(&v);
        }
        let _ = chart::constraint::parse_lenient_version(&text);
    }
}
