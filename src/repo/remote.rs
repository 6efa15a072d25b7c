//! Talking to configured repositories: refreshing the cache, looking charts up in it and
//! downloading packages with their digest checked.

use super::cache::CompactIndex;
use super::config::{Paths, RepoEntry};
use super::fsutil::{sha256_hex, write_atomic};
use super::http::{index_url, resolve_url, ClientOptions, HttpClient};
use super::index;
use super::version::{parse_version, Range};
use super::{RepoError, Result};

#[derive(Debug, Clone, serde::Serialize)]
pub struct UpdateReport {
    pub name: String,
    pub charts: usize,
    pub versions: usize,
    pub warnings: Vec<String>,
    /// The server said the index had not changed (ETag); the cache was kept.
    pub unchanged: bool,
}

pub fn client_for(entry: &RepoEntry) -> Result<HttpClient> {
    HttpClient::new(&ClientOptions::from_repo(entry), &entry.url)
}

/// Downloads and parses a repository's index and replaces its cache atomically: on any
/// failure the previous cache is left as it was.
///
/// With `conditional`, the ETag saved with the cache is sent as `If-None-Match`; a 304
/// answer keeps the cache without downloading or parsing anything.
pub fn update(paths: &Paths, entry: &RepoEntry, conditional: bool) -> Result<UpdateReport> {
    let client = client_for(entry)?;
    let url = index_url(&entry.url)?;
    let cache = paths.compact_file(&entry.name);
    let tag_file = etag_file(&cache);
    // The tag is only trusted for the same URL and while its cache file exists.
    let saved_tag = if conditional && cache.is_file() {
        std::fs::read_to_string(&tag_file)
            .ok()
            .and_then(|t| t.strip_prefix(&format!("{url}\n")).map(str::to_string))
    } else {
        None
    };
    let Some(resp) = client.get_if_changed(&url, saved_tag.as_deref())? else {
        let idx = CompactIndex::load(&cache)?;
        return Ok(UpdateReport {
            name: entry.name.clone(),
            charts: idx.charts.len(),
            versions: idx.charts.iter().map(|c| c.versions.len()).sum(),
            warnings: Vec::new(),
            unchanged: true,
        });
    };
    let parsed = index::parse_for_cache(&resp.body, &url)?;
    drop(resp.body);
    // Old tag out first: a crash between the two writes must not pair a new cache with
    // an old tag (or the reverse).
    let _ = std::fs::remove_file(&tag_file);
    CompactIndex::write(&parsed.index, &cache)?;
    if let Some(tag) = resp.etag {
        write_atomic(&tag_file, format!("{url}\n{tag}").as_bytes(), None)?;
    }
    Ok(UpdateReport {
        name: entry.name.clone(),
        charts: parsed.index.entries.len(),
        versions: parsed.index.entries.values().map(Vec::len).sum(),
        warnings: parsed.warnings,
        unchanged: false,
    })
}

fn etag_file(cache: &std::path::Path) -> std::path::PathBuf {
    cache.with_extension("etag")
}

/// Removes a repository's cache files.
pub fn remove_cache(paths: &Paths, name: &str) -> Result<()> {
    let cache = paths.compact_file(name);
    for p in [etag_file(&cache), cache] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RepoError::io(format!("removing {}", p.display()), e)),
        }
    }
    Ok(())
}

pub fn load_cache(paths: &Paths, name: &str) -> Result<CompactIndex> {
    let p = paths.compact_file(name);
    if !p.exists() {
        return Err(RepoError::NotFound(format!(
            "no cached index for repository {name:?}; run `stackpkg repo update {name}`"
        )));
    }
    CompactIndex::load(&p)
}

/// What a lookup found: enough to download and check a package.
#[derive(Debug, Clone)]
pub struct Found {
    pub name: String,
    pub version: String,
    pub urls: Vec<String>,
    pub digest: String,
}

/// Finds the newest version of `chart` matching `range` (or the newest stable one).
pub fn find(
    idx: &CompactIndex,
    repo_label: &str,
    chart: &str,
    range: Option<&Range>,
    devel: bool,
) -> Result<Found> {
    let c = idx.chart(chart).ok_or_else(|| {
        RepoError::NotFound(format!(
            "chart {chart:?} not found in repository {repo_label}"
        ))
    })?;
    let range = match (range, devel) {
        (Some(r), true) => r.clone().with_prerelease(),
        (Some(r), false) => r.clone(),
        (None, true) => Range::any_devel(),
        (None, false) => Range::any(),
    };
    let v = c
        .versions
        .iter()
        .find(|v| parse_version(idx.str(v.version)).is_some_and(|p| range.matches(&p)))
        .ok_or_else(|| {
            RepoError::NotFound(format!(
                "no version of {repo_label}/{chart} matches {:?} (newest is {})",
                range.as_str(),
                c.versions
                    .first()
                    .map(|v| idx.str(v.version))
                    .unwrap_or("none")
            ))
        })?;
    Ok(Found {
        name: chart.to_string(),
        version: idx.str(v.version).to_string(),
        urls: idx.list(v.urls).into_iter().map(str::to_string).collect(),
        digest: idx.str(v.digest).to_string(),
    })
}

/// Downloads a found package and checks the index digest before returning any bytes.
/// Returns the bytes and the URL they came from.
pub fn download(client: &HttpClient, repo_url: &str, f: &Found) -> Result<(Vec<u8>, String)> {
    let first = f.urls.first().ok_or_else(|| {
        RepoError::NotFound(format!("{} {} has no download URL", f.name, f.version))
    })?;
    let url = resolve_url(repo_url, first)?;
    if f.digest.is_empty() {
        return Err(RepoError::Invalid(format!(
            "the index has no digest for {} {}; refusing an unverifiable download",
            f.name, f.version
        )));
    }
    let bytes = client.get(&url)?;
    check_digest(&bytes, &f.digest, &url)?;
    Ok((bytes, url))
}

pub fn check_digest(bytes: &[u8], expected: &str, what: &str) -> Result<()> {
    let expected = expected.strip_prefix("sha256:").unwrap_or(expected);
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(RepoError::Digest {
            what: what.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}
