//! `repo index DIR`: builds `index.yaml` from the packages in a folder.
//!
//! Output is deterministic: entries sorted by name, versions newest first, `created` kept
//! from the previous index (DIR/index.yaml or `--merge`) for packages whose digest did not
//! change, and `generated` set to the newest `created` so re-indexing unchanged packages
//! gives identical bytes.

use std::path::{Path, PathBuf};

use super::fsutil::{read, sha256_hex, write_atomic};
use super::index::{self, IndexEntry, IndexFile};
use super::package::read_metadata;
use super::{RepoError, Result};

#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// Absolute base URL for the `urls`; relative URLs otherwise.
    pub url: Option<String>,
    /// An existing index whose entries are kept (and whose `created` dates are reused).
    pub merge: Option<PathBuf>,
}

#[derive(Debug)]
pub struct IndexReport {
    pub path: PathBuf,
    pub packages: usize,
    pub warnings: Vec<String>,
}

/// Now as RFC 3339 UTC; `SOURCE_DATE_EPOCH` wins for reproducible builds.
pub fn now_rfc3339() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    t.to_string()
}

fn find_packages(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| RepoError::io(format!("reading folder {}", dir.display()), e))?;
    for e in rd {
        let e = e.map_err(|e| RepoError::io(format!("reading folder {}", dir.display()), e))?;
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let p = e.path();
        let ft = e
            .file_type()
            .map_err(|e| RepoError::io(format!("reading {}", p.display()), e))?;
        if ft.is_dir() {
            find_packages(&p, out)?;
        } else if ft.is_file() && name.to_string_lossy().ends_with(".tgz") {
            out.push(p);
        }
    }
    Ok(())
}

fn load_previous(path: &Path, warnings: &mut Vec<String>) -> Result<IndexFile> {
    let bytes = read(path)?;
    let parsed = index::parse(&bytes, &path.display().to_string())?;
    warnings.extend(parsed.warnings);
    Ok(parsed.index)
}

/// Builds the index of `dir` (without writing it).
pub fn build(dir: &Path, opts: &IndexOptions) -> Result<(IndexFile, Vec<String>)> {
    let mut warnings = Vec::new();
    let own = dir.join("index.yaml");
    let previous = if own.is_file() {
        match load_previous(&own, &mut warnings) {
            Ok(i) => Some(i),
            Err(e) => {
                warnings.push(format!("ignoring the old index: {e}"));
                None
            }
        }
    } else {
        None
    };
    let merge = opts
        .merge
        .as_deref()
        .map(|m| load_previous(m, &mut warnings))
        .transpose()?;
    let mut pkgs = Vec::new();
    find_packages(dir, &mut pkgs)?;
    pkgs.sort();
    let now = now_rfc3339();
    let mut out = IndexFile::new();
    for p in &pkgs {
        let origin = p.display().to_string();
        let bytes = read(p)?;
        let md = match read_metadata(&bytes, &origin) {
            Ok(md) => md,
            Err(e) => {
                warnings.push(format!("skipping {e}"));
                continue;
            }
        };
        let digest = sha256_hex(&bytes);
        let rel = p
            .strip_prefix(dir)
            .unwrap_or(p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let url = match &opts.url {
            Some(base) => format!("{}/{rel}", base.trim_end_matches('/')),
            None => rel,
        };
        if let Some(dup) = out.get(&md.name, &md.version) {
            warnings.push(format!(
                "skipping {origin}: {} {} is already indexed from {}",
                md.name,
                md.version,
                dup.urls.join(", ")
            ));
            continue;
        }
        let created = [previous.as_ref(), merge.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|i| i.get(&md.name, &md.version))
            .find(|e| e.digest == digest)
            .and_then(|e| e.created.clone())
            .unwrap_or_else(|| now.clone());
        out.upsert(IndexEntry::from_metadata(&md, digest, created, url));
    }
    if let Some(m) = merge {
        for (_, versions) in m.entries {
            for e in versions {
                if out.get(&e.name, &e.version).is_none() {
                    out.upsert(e);
                }
            }
        }
    }
    out.generated = Some(
        out.entries
            .values()
            .flatten()
            .filter_map(|e| e.created.clone())
            .max()
            .unwrap_or(now),
    );
    Ok((out, warnings))
}

/// Builds and writes `DIR/index.yaml` atomically.
pub fn write(dir: &Path, opts: &IndexOptions) -> Result<IndexReport> {
    if !dir.is_dir() {
        return Err(RepoError::Invalid(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    let (idx, warnings) = build(dir, opts)?;
    let path = dir.join("index.yaml");
    write_atomic(&path, idx.to_yaml().as_bytes(), None)?;
    Ok(IndexReport {
        path,
        packages: idx.entries.values().map(Vec::len).sum(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::package::tests::tgz;

    fn chart(name: &str, version: &str) -> Vec<u8> {
        tgz(&[(
            &format!("{name}/Chart.yaml"),
            &format!("apiVersion: v2\nname: {name}\nversion: {version}\ndescription: d\n"),
        )])
    }

    #[test]
    fn index_is_deterministic_and_keeps_created() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a-1.0.0.tgz"), chart("a", "1.0.0")).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/b-0.1.0.tgz"), chart("b", "0.1.0")).unwrap();
        std::fs::write(d.path().join("broken.tgz"), b"garbage").unwrap();
        let r = write(d.path(), &IndexOptions::default()).unwrap();
        assert_eq!(r.packages, 2);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("broken.tgz"));
        let first = std::fs::read_to_string(d.path().join("index.yaml")).unwrap();
        assert!(first.contains("- sub/b-0.1.0.tgz"), "{first}");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        write(d.path(), &IndexOptions::default()).unwrap();
        let second = std::fs::read_to_string(d.path().join("index.yaml")).unwrap();
        assert_eq!(first, second, "unchanged packages give identical bytes");

        // A changed package gets a new digest and a new created date.
        std::fs::write(
            d.path().join("a-1.0.0.tgz"),
            tgz(&[
                ("a/Chart.yaml", "apiVersion: v2\nname: a\nversion: 1.0.0\n"),
                ("a/x", "y"),
            ]),
        )
        .unwrap();
        write(
            d.path(),
            &IndexOptions {
                url: Some("https://h/c/".into()),
                merge: None,
            },
        )
        .unwrap();
        let third = std::fs::read_to_string(d.path().join("index.yaml")).unwrap();
        assert_ne!(first, third);
        assert!(third.contains("https://h/c/a-1.0.0.tgz"));
    }

    #[test]
    fn merge_keeps_foreign_entries() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a-1.0.0.tgz"), chart("a", "1.0.0")).unwrap();
        let m = d.path().join("old.yaml");
        std::fs::write(
            &m,
            "apiVersion: v1\nentries:\n  z:\n  - {name: z, version: 9.0.0, urls: [https://x/z.tgz], digest: ff, created: '2020-01-01T00:00:00Z'}\n",
        )
        .unwrap();
        let (idx, _) = build(
            d.path(),
            &IndexOptions {
                url: None,
                merge: Some(m),
            },
        )
        .unwrap();
        assert_eq!(idx.entries.len(), 2);
        assert_eq!(
            idx.entries["z"][0].created.as_deref(),
            Some("2020-01-01T00:00:00Z")
        );
    }
}
