//! Deterministic packaging: the same files always give the same bytes (and sha256).
//! Entries are sorted, owners/modes/mtimes fixed, the gzip header carries no name or time.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};

use super::archive::Limits;
use super::load::load_dir_with_files;
use super::{archive_name, io_err, ChartError, ChartFile};

/// Fixed modification time of every entry (2000-01-01T00:00:00Z): zero confuses some
/// tools, and any fixed value keeps packages reproducible.
const MTIME: u64 = 946_684_800;

/// Package the chart folder `dir` into `out_dir/NAME-VERSION.tgz` and return that path.
/// The chart is fully loaded (and so validated) first; the file is written to a
/// temporary name and renamed, so a failure never leaves half a package behind.
pub fn package(dir: &Path, out_dir: &Path) -> Result<PathBuf, ChartError> {
    let (chart, files) = load_dir_with_files(dir)?;
    let bytes = package_bytes(&chart.metadata.name, &files)?;
    let limits = Limits::default();
    if bytes.len() as u64 > limits.max_archive {
        return Err(ChartError::TooLarge {
            origin: dir.display().to_string(),
            what: format!("package size ({} bytes)", bytes.len()),
            limit: limits.max_archive,
        });
    }
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let dest = out_dir.join(archive_name(&chart.metadata));
    let mut tmp = tempfile::NamedTempFile::new_in(out_dir).map_err(io_err(out_dir))?;
    tmp.write_all(&bytes).map_err(io_err(&dest))?;
    tmp.as_file().sync_all().map_err(io_err(&dest))?;
    tmp.persist(&dest).map_err(|e| ChartError::Io {
        path: dest.display().to_string(),
        source: e.error,
    })?;
    Ok(dest)
}

/// The `.tgz` bytes of a chart named `name` holding `files` (paths relative to its root).
pub fn package_bytes(name: &str, files: &[ChartFile]) -> Result<Vec<u8>, ChartError> {
    let mut sorted: Vec<&ChartFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::best());
    let mut builder = tar::Builder::new(gz);
    builder.mode(tar::HeaderMode::Deterministic);
    let err =
        |e: std::io::Error| ChartError::Invalid(format!("cannot build archive for {name}: {e}"));
    for f in sorted {
        let mut header = tar::Header::new_gnu();
        header.set_size(f.data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(MTIME);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, format!("{name}/{}", f.path), f.data.as_slice())
            .map_err(err)?;
    }
    let gz = builder.into_inner().map_err(err)?;
    gz.finish().map_err(err)
}
