//! Reading chart archives safely: every entry must stay inside the single top folder,
//! only regular files and folders are accepted, and sizes are capped before anything
//! is decompressed into memory (decompression bombs).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Component;

use flate2::read::GzDecoder;

use super::load::{from_files, parse_chart_yaml};
use super::{one_line, Chart, ChartError, ChartFile, ChartMetadata, ChartOrigin};

/// Size and count limits for archives (and, per file and in total, for folders).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Compressed size of one package.
    pub max_archive: u64,
    /// Uncompressed size of all files of a chart, nested archives included.
    pub max_total: u64,
    /// Uncompressed size of one file.
    pub max_file: u64,
    /// Number of entries in one archive.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_archive: 20 << 20,
            max_total: 100 << 20,
            max_file: 5 << 20,
            max_entries: 10_000,
        }
    }
}

/// Uncompressed bytes still allowed, shared across nested archives.
#[derive(Debug)]
pub(crate) struct Budget {
    remaining: u64,
    limit: u64,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Self {
        Budget {
            remaining: limits.max_total,
            limit: limits.max_total,
        }
    }

    pub(crate) fn take(&mut self, n: u64, origin: &str) -> Result<(), ChartError> {
        if n > self.remaining {
            return Err(ChartError::TooLarge {
                origin: origin.to_string(),
                what: "total uncompressed size".into(),
                limit: self.limit,
            });
        }
        self.remaining -= n;
        Ok(())
    }
}

/// Load a chart archive with explicit limits (tests use small ones).
pub fn load_archive_with_limits(
    bytes: &[u8],
    origin: &str,
    limits: &Limits,
) -> Result<Chart, ChartError> {
    let mut budget = Budget::new(limits);
    load_nested(bytes, origin, limits, &mut budget, 0)
}

pub(crate) fn load_nested(
    bytes: &[u8],
    origin: &str,
    limits: &Limits,
    budget: &mut Budget,
    depth: usize,
) -> Result<Chart, ChartError> {
    if bytes.len() as u64 > limits.max_archive {
        return Err(ChartError::TooLarge {
            origin: origin.to_string(),
            what: format!("package size ({} bytes)", bytes.len()),
            limit: limits.max_archive,
        });
    }
    let (top, files) = read_entries(bytes, origin, limits, budget, false)?;
    let chart_origin = ChartOrigin(format!("{origin}:{top}"));
    from_files(files, chart_origin, limits, budget, depth)
}

/// Read only `Chart.yaml` of an archive (for `repo index`): stops at that entry.
pub fn read_archive_metadata(bytes: &[u8]) -> Result<ChartMetadata, ChartError> {
    let limits = Limits::default();
    if bytes.len() as u64 > limits.max_archive {
        return Err(ChartError::TooLarge {
            origin: "<archive>".into(),
            what: format!("package size ({} bytes)", bytes.len()),
            limit: limits.max_archive,
        });
    }
    let mut budget = Budget::new(&limits);
    let (top, files) = read_entries(bytes, "<archive>", &limits, &mut budget, true)?;
    let file = format!("{top}/Chart.yaml");
    let f = files
        .iter()
        .find(|f| f.path == "Chart.yaml")
        .ok_or_else(|| ChartError::MissingChartYaml(format!("<archive>:{top}")))?;
    let text = std::str::from_utf8(&f.data).map_err(|e| ChartError::Content {
        file: file.clone(),
        message: format!("not valid UTF-8 ({e})"),
    })?;
    parse_chart_yaml(text, &file)
}

/// Check an entry path and split it into (top folder, path inside the chart).
fn split_entry_path(raw: &str, origin: &str) -> Result<(String, String), ChartError> {
    let unsafe_entry = |reason: &str| ChartError::UnsafeEntry {
        origin: origin.to_string(),
        entry: raw.to_string(),
        reason: reason.to_string(),
    };
    let b = raw.as_bytes();
    let drive = b.len() > 1 && b[0].is_ascii_alphabetic() && b[1] == b':';
    if raw.starts_with('/') || raw.contains('\\') || drive {
        return Err(unsafe_entry("absolute path"));
    }
    let mut parts = Vec::new();
    for comp in std::path::Path::new(raw).components() {
        match comp {
            Component::Normal(p) => parts.push(
                p.to_str()
                    .ok_or_else(|| unsafe_entry("path is not valid UTF-8"))?
                    .to_string(),
            ),
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_entry("path contains '..'")),
            Component::RootDir | Component::Prefix(_) => return Err(unsafe_entry("absolute path")),
        }
    }
    if parts.is_empty() {
        return Err(unsafe_entry("empty path"));
    }
    let top = parts.remove(0);
    Ok((top, parts.join("/")))
}

/// Read and check every entry. With `metadata_only`, stop after the top `Chart.yaml`.
fn read_entries(
    bytes: &[u8],
    origin: &str,
    limits: &Limits,
    budget: &mut Budget,
    metadata_only: bool,
) -> Result<(String, Vec<ChartFile>), ChartError> {
    // Library messages may quote raw header bytes; keep the error on one line.
    let bad = |message: String| ChartError::BadArchive {
        origin: origin.to_string(),
        message: one_line(&message),
    };
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("cannot read tar stream ({e})")))?;
    let mut top: Option<String> = None;
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(ChartError::TooLarge {
                origin: origin.to_string(),
                what: format!("entry count (more than {})", limits.max_entries),
                limit: limits.max_entries as u64,
            });
        }
        let mut entry = entry.map_err(|e| bad(format!("corrupt entry ({e})")))?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let (entry_top, rel) = split_entry_path(&raw, origin)?;
        let unsafe_entry = |reason: &str| ChartError::UnsafeEntry {
            origin: origin.to_string(),
            entry: raw.clone(),
            reason: reason.to_string(),
        };
        match &top {
            None => top = Some(entry_top),
            Some(t) if *t != entry_top => {
                return Err(unsafe_entry(&format!(
                    "outside the chart folder {t:?} (an archive holds exactly one chart)"
                )))
            }
            Some(_) => {}
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(unsafe_entry("links are not allowed in chart archives"));
        }
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(unsafe_entry("only regular files and folders are allowed"));
        }
        if rel.is_empty() {
            return Err(unsafe_entry(
                "a file at the top level, outside the chart folder",
            ));
        }
        let declared = entry.header().size().unwrap_or(u64::MAX);
        if declared > limits.max_file {
            return Err(ChartError::TooLarge {
                origin: format!("{origin}:{raw}"),
                what: "file size".into(),
                limit: limits.max_file,
            });
        }
        // Never trust the header alone: read at most one byte past the limit.
        let mut data = Vec::new();
        (&mut entry)
            .take(limits.max_file + 1)
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("corrupt entry {raw:?} ({e})")))?;
        if data.len() as u64 > limits.max_file {
            return Err(ChartError::TooLarge {
                origin: format!("{origin}:{raw}"),
                what: "file size".into(),
                limit: limits.max_file,
            });
        }
        budget.take(data.len() as u64, origin)?;
        if !seen.insert(rel.clone()) {
            return Err(unsafe_entry("the same path appears twice"));
        }
        let done = metadata_only && rel == "Chart.yaml";
        files.push(ChartFile { path: rel, data });
        if done {
            break;
        }
    }
    let top = top.ok_or_else(|| bad("the archive is empty".into()))?;
    if !metadata_only {
        // The tar reader stops at the end-of-archive blocks, before gzip's CRC trailer: read
        // on to the end so a corrupted package is refused (found by the bad-input corpus).
        // The padding after the last entry is small; more than a file's worth is refused.
        let rest = std::io::copy(
            &mut archive.into_inner().take(limits.max_file + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| bad(format!("corrupt gzip stream ({e})")))?;
        if rest > limits.max_file {
            return Err(bad("too much data after the end of the tar stream".into()));
        }
    }
    Ok((top, files))
}
