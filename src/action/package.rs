//! `stackpkg package`: a chart folder into a reproducible `NAME-VERSION.tgz`.

use std::path::{Path, PathBuf};

/// Package `chart_dir` into `out_dir`; returns the written file and its sha256.
pub fn package(chart_dir: &Path, out_dir: &Path) -> crate::Result<(PathBuf, String)> {
    if !chart_dir.is_dir() {
        return Err(crate::Error::Usage(format!(
            "{}: package needs a chart folder",
            chart_dir.display()
        )));
    }
    let path = crate::chart::package(chart_dir, out_dir)?;
    let bytes =
        std::fs::read(&path).map_err(|e| crate::Error::io(path.display().to_string(), e))?;
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    Ok((path, digest))
}
