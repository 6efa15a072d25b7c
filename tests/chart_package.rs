//! Deterministic packaging: same files → same bytes, whatever the disk's mtimes, modes
//! or file creation order; sorted entries under the chart-named top folder.

mod common;

use std::io::Read;

use common::{fixture, write_tree};
use sha2::{Digest, Sha256};
use stackpkg::chart;

fn sha(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path, reverse: bool) {
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    if reverse {
        entries.reverse();
    }
    std::fs::create_dir_all(to).unwrap();
    for e in entries {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target, reverse);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn same_files_give_the_same_sha256() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let pa = chart::package(&fixture("stack"), a.path()).unwrap();
    // A copy made in reverse order, later (other mtimes), with other modes.
    let copy = tempfile::tempdir().unwrap();
    let src = copy.path().join("stack");
    copy_tree(&fixture("stack"), &src, true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            src.join("README.md"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let pb = chart::package(&src, b.path()).unwrap();
    assert_eq!(pa.file_name().unwrap(), "stack-1.2.3.tgz");
    assert_eq!(sha(&pa), sha(&pb));
    // Packaging twice into the same place overwrites with identical bytes.
    let again = chart::package(&fixture("stack"), a.path()).unwrap();
    assert_eq!(sha(&pa), sha(&again));

    // A changed file changes the digest.
    std::fs::write(src.join("README.md"), "changed\n").unwrap();
    let pc = chart::package(&src, copy.path()).unwrap();
    assert_ne!(sha(&pa), sha(&pc));
}

#[test]
fn entries_are_sorted_normalised_and_under_the_chart_name() {
    let dir = tempfile::tempdir().unwrap();
    // The folder name differs from the chart name: the archive uses the chart name.
    let src = dir.path().join("some-folder");
    write_tree(
        &src,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.3.0\n"),
            ("templates/z.yaml", "z"),
            ("templates/a.yaml", "a"),
            ("values.yaml", "x: 1\n"),
            (".stackpkgignore", "*.swp\n"),
            ("templates/.a.yaml.swp", "junk"),
        ],
    );
    let out = chart::package(&src, &dir.path().join("dist")).unwrap();
    assert_eq!(out, dir.path().join("dist/demo-0.3.0.tgz"));
    let bytes = std::fs::read(&out).unwrap();
    // gzip header: no file name flag, mtime 0.
    assert_eq!(&bytes[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0]);
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header();
        assert_eq!(h.mode().unwrap(), 0o644);
        assert_eq!(h.uid().unwrap(), 0);
        assert_eq!(h.gid().unwrap(), 0);
        assert_eq!(h.mtime().unwrap(), 946_684_800);
        assert!(h.entry_type().is_file());
        names.push(e.path().unwrap().display().to_string());
        let mut s = Vec::new();
        e.read_to_end(&mut s).unwrap();
    }
    assert_eq!(
        names,
        [
            "demo/.stackpkgignore",
            "demo/Chart.yaml",
            "demo/templates/a.yaml",
            "demo/templates/z.yaml",
            "demo/values.yaml"
        ]
    );
}

#[test]
fn long_paths_survive_the_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("files/{}/{}.txt", "d".repeat(80), "f".repeat(60));
    write_tree(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.3.0\n"),
            (&long, "deep"),
        ],
    );
    let out = chart::package(dir.path(), dir.path()).unwrap();
    let c = chart::load(&out).unwrap();
    assert_eq!(c.file(&long).unwrap().data, b"deep");
}

#[test]
fn an_invalid_chart_is_not_packaged_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let e = chart::package(&fixture("bad/semver"), &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("field version"), "{e}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}
