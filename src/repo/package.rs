//! Reading chart packages (`.tgz`) as a repository sees them: the Chart.yaml inside, checked
//! enough to index the package, and safe extraction for `pull --untar`.

use std::io::Read;
use std::path::{Component, Path};

use flate2::read::GzDecoder;

use super::version::parse_version;
use super::{RepoError, Result};
use crate::chart::ChartMetadata;

/// Chart.yaml larger than this is not a chart's metadata.
const MAX_CHART_YAML: u64 = 1 << 20;
/// Extraction stops past this many bytes (a gzip bomb must not fill the disk).
const MAX_EXTRACTED: u64 = 512 << 20;

/// Reads and checks the `CHART/Chart.yaml` of a package.
pub fn read_metadata(bytes: &[u8], origin: &str) -> Result<ChartMetadata> {
    let bad = |msg: String| RepoError::Package {
        origin: origin.to_string(),
        msg,
    };
    let mut ar = tar::Archive::new(GzDecoder::new(bytes));
    let entries = ar
        .entries()
        .map_err(|e| bad(format!("not a gzip tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("not a gzip tar archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("bad path in archive: {e}")))?
            .into_owned();
        let parts: Vec<_> = path.components().collect();
        let is_chart_yaml = parts.len() == 2
            && matches!(parts[0], Component::Normal(_))
            && parts[1].as_os_str() == "Chart.yaml";
        if !is_chart_yaml {
            continue;
        }
        if entry.size() > MAX_CHART_YAML {
            return Err(bad("Chart.yaml is larger than 1 MiB".into()));
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| bad(format!("reading Chart.yaml: {e}")))?;
        let md: ChartMetadata =
            serde_yaml::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        check_metadata(&md).map_err(|m| bad(format!("{}: {m}", path.display())))?;
        let dir = parts[0].as_os_str().to_string_lossy();
        if dir != md.name {
            return Err(bad(format!(
                "chart {:?} is packaged in folder {dir:?}; expected {:?}",
                md.name, md.name
            )));
        }
        return Ok(md);
    }
    Err(bad("no CHART/Chart.yaml in the archive".into()))
}

/// The checks a repository needs before indexing a chart.
pub fn check_metadata(md: &ChartMetadata) -> std::result::Result<(), String> {
    if md.name.is_empty() {
        return Err("name is empty".into());
    }
    if !md
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || md.name.starts_with('.')
    {
        return Err(format!(
            "name {:?} has characters charts may not use",
            md.name
        ));
    }
    if parse_version(&md.version).is_none() || md.version.starts_with('v') {
        return Err(format!("version {:?} is not semver", md.version));
    }
    if !matches!(md.api_version.as_str(), "v1" | "v2") {
        return Err(format!("apiVersion {:?} is not v1 or v2", md.api_version));
    }
    Ok(())
}

/// Extracts a package into `dest` (which must not exist): into a temp folder beside it,
/// then one rename, so a failed extraction leaves nothing behind.
pub fn extract(bytes: &[u8], origin: &str, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(RepoError::Invalid(format!(
            "{} already exists; remove it or pick another --destination",
            dest.display()
        )));
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    // Folders this call creates are removed again if extraction fails: a failed pull
    // leaves nothing behind, not even an empty --destination (found by the corpus).
    let mut created = Vec::new();
    let mut p = Some(parent);
    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        created.push(d.to_path_buf());
        p = d.parent();
    }
    let result = extract_new(bytes, origin, parent, dest);
    if result.is_err() {
        for d in &created {
            let _ = std::fs::remove_dir(d);
        }
    }
    result
}

fn extract_new(bytes: &[u8], origin: &str, parent: &Path, dest: &Path) -> Result<()> {
    let bad = |msg: String| RepoError::Package {
        origin: origin.to_string(),
        msg,
    };
    std::fs::create_dir_all(parent)
        .map_err(|e| RepoError::io(format!("creating {}", parent.display()), e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".stackpkg-untar-")
        .tempdir_in(parent)
        .map_err(|e| RepoError::io(format!("creating a temp folder in {}", parent.display()), e))?;
    let mut ar = tar::Archive::new(GzDecoder::new(bytes));
    let mut total = 0u64;
    let mut top: Option<std::ffi::OsString> = None;
    for entry in ar
        .entries()
        .map_err(|e| bad(format!("not a gzip tar archive: {e}")))?
    {
        let mut entry = entry.map_err(|e| bad(format!("corrupt archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("bad path: {e}")))?
            .into_owned();
        let mut parts = Vec::new();
        for c in path.components() {
            match c {
                Component::Normal(p) => parts.push(p.to_os_string()),
                Component::CurDir => {}
                _ => return Err(bad(format!("unsafe path {}", path.display()))),
            }
        }
        if parts.is_empty() {
            continue;
        }
        match &top {
            None => top = Some(parts[0].clone()),
            Some(t) if *t != parts[0] => {
                return Err(bad("files outside the chart's top folder".into()))
            }
            _ => {}
        }
        let rel: std::path::PathBuf = parts[1..].iter().collect();
        let target = tmp.path().join(rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target)
                .map_err(|e| RepoError::io(format!("creating {}", target.display()), e))?;
        } else if kind.is_file() {
            total += entry.size();
            if total > MAX_EXTRACTED {
                return Err(bad("archive expands to more than 512 MiB".into()));
            }
            if let Some(p) = target.parent() {
                std::fs::create_dir_all(p)
                    .map_err(|e| RepoError::io(format!("creating {}", p.display()), e))?;
            }
            let mut f = std::fs::File::create(&target)
                .map_err(|e| RepoError::io(format!("writing {}", target.display()), e))?;
            std::io::copy(&mut entry.by_ref().take(MAX_EXTRACTED), &mut f)
                .map_err(|e| bad(format!("extracting {}: {e}", path.display())))?;
        } else {
            return Err(bad(format!(
                "{} is not a regular file or folder",
                path.display()
            )));
        }
    }
    if top.is_none() {
        return Err(bad("empty archive".into()));
    }
    // Read on to gzip's CRC trailer, which the tar reader stops short of.
    std::io::copy(
        &mut ar.into_inner().take(MAX_EXTRACTED),
        &mut std::io::sink(),
    )
    .map_err(|e| bad(format!("corrupt gzip stream: {e}")))?;
    let kept = tmp.keep();
    std::fs::rename(&kept, dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept);
        RepoError::io(format!("moving into {}", dest.display()), e)
    })?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a package in memory from (path, contents) pairs.
    pub(crate) fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (p, c) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(c.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, p, c.as_bytes()).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn reads_metadata() {
        let t = tgz(&[
            ("kafka/values.yaml", "a: 1"),
            (
                "kafka/Chart.yaml",
                "apiVersion: v2\nname: kafka\nversion: 1.2.3\n",
            ),
        ]);
        let md = read_metadata(&t, "k.tgz").unwrap();
        assert_eq!((md.name.as_str(), md.version.as_str()), ("kafka", "1.2.3"));
    }

    #[test]
    fn garbage_packages_are_rejected_with_reason() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not gzip".to_vec(), "gzip"),
            (Vec::new(), "archive"),
            (tgz(&[("x/values.yaml", "")]), "no CHART/Chart.yaml"),
            (tgz(&[("x/Chart.yaml", ":::")]), "Chart.yaml"),
            (
                tgz(&[("x/Chart.yaml", "apiVersion: v2\nname: x\nversion: one\n")]),
                "not semver",
            ),
            (
                tgz(&[("y/Chart.yaml", "apiVersion: v2\nname: x\nversion: 1.0.0\n")]),
                "folder",
            ),
            (
                tgz(&[(
                    "x/Chart.yaml",
                    "apiVersion: v2\nname: ../x\nversion: 1.0.0\n",
                )]),
                "characters",
            ),
        ];
        for (bytes, want) in cases {
            let e = read_metadata(&bytes, "up.tgz").unwrap_err().to_string();
            assert!(e.contains("up.tgz") && e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn extraction_is_safe_and_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let good = tgz(&[
            ("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"),
            ("c/templates/a.yaml", "x"),
        ]);
        let dest = dir.path().join("c");
        extract(&good, "c.tgz", &dest).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("templates/a.yaml")).unwrap(),
            "x"
        );
        assert!(extract(&good, "c.tgz", &dest).is_err(), "existing dest");

        let two_tops = tgz(&[("c/Chart.yaml", "x"), ("d/evil", "x")]);
        let d2 = dir.path().join("d2");
        assert!(extract(&two_tops, "e.tgz", &d2).is_err());
        assert!(!d2.exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp folder left behind");
    }
}
