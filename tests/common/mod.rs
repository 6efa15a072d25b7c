//! Helpers shared by the integration tests; each test crate uses a subset.
#![allow(dead_code)]

pub mod cluster;

use std::io::Write;
use std::path::{Path, PathBuf};

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/charts")
        .join(rel)
}

pub enum Kind {
    File,
    Dir,
    Symlink(&'static str),
    HardLink(&'static str),
    Fifo,
}

/// A gzipped tar built header by header, so tests can write entries that `tar::Builder`
/// refuses (`../x`, absolute paths, links).
/// One archive entry: path, type, content.
pub type Entry<'a> = (&'a str, Kind, &'a [u8]);

pub fn raw_tgz(entries: &[Entry]) -> Vec<u8> {
    let mut tar = Vec::new();
    for (name, kind, data) in entries {
        let mut h = tar::Header::new_gnu();
        {
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name = [0; 100];
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        h.set_mode(0o644);
        h.set_mtime(0);
        match kind {
            Kind::File => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
            }
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
            }
            Kind::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name(t).unwrap();
                h.set_size(0);
            }
            Kind::HardLink(t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_link_name(t).unwrap();
                h.set_size(0);
            }
            Kind::Fifo => {
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_size(0);
            }
        }
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        if matches!(kind, Kind::File) {
            tar.extend_from_slice(data);
            let pad = (512 - data.len() % 512) % 512;
            tar.extend(std::iter::repeat_n(0u8, pad));
        }
    }
    tar.extend(std::iter::repeat_n(0u8, 1024));
    gzip(&tar)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

pub const CHART_YAML: &[u8] = b"apiVersion: v2\nname: demo\nversion: 0.1.0\n";

/// Write files (relative path → content) under a fresh temporary folder.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// The helm binary from `scripts/install-tools.sh`. Missing: a failure under CI, else a
/// printed reason and `None` so the caller returns early.
pub fn helm() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/helm");
    if p.is_file() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "helm is missing at {} (run scripts/install-tools.sh)",
            p.display()
        );
    }
    eprintln!(
        "skipping: helm not installed at {} (run scripts/install-tools.sh)",
        p.display()
    );
    None
}
