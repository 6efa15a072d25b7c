//! Chart dependencies: resolving Chart.yaml `dependencies` into `Chart.lock`, vendoring
//! the packages into `charts/`, rebuilding exactly from the lock, and reporting status.
//!
//! `Chart.lock` follows Helm's layout (`dependencies` with name/repository/version, a
//! `digest` of the Chart.yaml dependency list, `generated`) and adds each package's sha256
//! as `digest` per dependency, so `dep build` can refuse anything that changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cache::{build as build_compact, CompactIndex};
use super::config::{Paths, RepoConfig, RepoEntry};
use super::fsutil::{read, sha256_hex, write_atomic};
use super::http::{index_url, ClientOptions, HttpClient};
use super::indexgen::now_rfc3339;
use super::package::read_metadata;
use super::remote::{self, check_digest, find, Found};
use super::version::{parse_version, Range};
use super::{index, RepoError, Result};
use crate::chart::{ChartMetadata, Dependency};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedDependency {
    pub name: String,
    #[serde(default)]
    pub repository: String,
    pub version: String,
    /// sha256 of the vendored package.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartLock {
    pub dependencies: Vec<LockedDependency>,
    /// `sha256:` of the Chart.yaml dependency list the lock was made from.
    pub digest: String,
    pub generated: String,
}

fn dep_err(path: &Path, msg: impl Into<String>) -> RepoError {
    RepoError::Dependency {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Reads a chart folder's Chart.yaml.
pub fn read_chart_yaml(chart_dir: &Path) -> Result<ChartMetadata> {
    let p = chart_dir.join("Chart.yaml");
    let bytes = read(&p)?;
    serde_yaml::from_slice(&bytes).map_err(|e| dep_err(&p, e.to_string()))
}

/// What the lock's digest covers: the fields that decide resolution.
pub fn dependencies_digest(deps: &[Dependency]) -> String {
    let v: Vec<_> = deps
        .iter()
        .map(|d| serde_json::json!([d.name, d.version, d.repository]))
        .collect();
    format!(
        "sha256:{}",
        sha256_hex(serde_json::to_string(&v).expect("json").as_bytes())
    )
}

pub fn read_lock(chart_dir: &Path) -> Result<Option<ChartLock>> {
    let p = chart_dir.join("Chart.lock");
    match std::fs::read(&p) {
        Ok(b) => serde_yaml::from_slice(&b)
            .map(Some)
            .map_err(|e| dep_err(&p, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RepoError::io(format!("reading {}", p.display()), e)),
    }
}

/// Where a dependency comes from.
enum Source {
    /// Already in `charts/`; nothing to fetch.
    Vendored,
    Local(PathBuf),
    Repo(RepoEntry),
}

fn source_of(chart_dir: &Path, d: &Dependency, cfg: &RepoConfig) -> Result<Source> {
    let r = d.repository.trim();
    let chart_yaml = chart_dir.join("Chart.yaml");
    if r.is_empty() {
        return Ok(Source::Vendored);
    }
    if let Some(p) = r.strip_prefix("file://") {
        return Ok(Source::Local(chart_dir.join(p)));
    }
    if let Some(name) = r.strip_prefix('@').or_else(|| r.strip_prefix("alias:")) {
        return cfg.get(name).cloned().map(Source::Repo).ok_or_else(|| {
            dep_err(
                &chart_yaml,
                format!(
                    "dependency {}: no repository named {name:?} (see `stackpkg repo list`)",
                    d.name
                ),
            )
        });
    }
    if r.starts_with("http://") || r.starts_with("https://") {
        let entry = cfg.by_url(r).cloned().unwrap_or_else(|| RepoEntry {
            name: String::new(),
            url: r.trim_end_matches('/').to_string(),
            ..Default::default()
        });
        return Ok(Source::Repo(entry));
    }
    Err(dep_err(
        &chart_yaml,
        format!(
            "dependency {}: unsupported repository {r:?} (use https://…, @name or file://…)",
            d.name
        ),
    ))
}

/// Fetches each needed repository index once.
struct Indexes<'a> {
    paths: &'a Paths,
    fetched: BTreeMap<String, (HttpClient, CompactIndex)>,
}

impl Indexes<'_> {
    fn get(&mut self, e: &RepoEntry) -> Result<&(HttpClient, CompactIndex)> {
        if !self.fetched.contains_key(&e.url) {
            let client = HttpClient::new(&ClientOptions::from_repo(e), &e.url)?;
            let idx = if e.name.is_empty() {
                let url = index_url(&e.url)?;
                let parsed = index::parse_for_cache(&client.get(&url)?, &url)?;
                CompactIndex::from_bytes(build_compact(&parsed.index))
                    .map_err(RepoError::Invalid)?
            } else {
                remote::update(self.paths, e, true)?;
                remote::load_cache(self.paths, &e.name)?
            };
            self.fetched.insert(e.url.clone(), (client, idx));
        }
        Ok(&self.fetched[&e.url])
    }
}

/// Packages a `file://` dependency; checks its name and version against Chart.yaml.
fn package_local(
    chart_dir: &Path,
    d: &Dependency,
    dir: &Path,
    range: &Range,
) -> Result<(String, Vec<u8>)> {
    let staging = tempfile::tempdir().map_err(|e| RepoError::io("creating a temp folder", e))?;
    let out = crate::chart::package(dir, staging.path()).map_err(|e| {
        dep_err(
            &chart_dir.join("Chart.yaml"),
            format!("dependency {}: {e}", d.name),
        )
    })?;
    let bytes = read(&out)?;
    let md = read_metadata(&bytes, &dir.display().to_string())?;
    if md.name != d.name {
        return Err(dep_err(
            &chart_dir.join("Chart.yaml"),
            format!(
                "dependency {}: {} holds chart {:?}",
                d.name,
                dir.display(),
                md.name
            ),
        ));
    }
    let ok = parse_version(&md.version).is_some_and(|v| range.matches(&v));
    if !ok {
        return Err(dep_err(
            &chart_dir.join("Chart.yaml"),
            format!(
                "dependency {}: {} is version {}, which does not match {:?}",
                d.name,
                dir.display(),
                md.version,
                range.as_str()
            ),
        ));
    }
    Ok((md.version, bytes))
}

fn range_of(chart_dir: &Path, d: &Dependency) -> Result<Range> {
    Range::parse(&d.version).map_err(|e| {
        dep_err(
            &chart_dir.join("Chart.yaml"),
            format!("dependency {}: {e}", d.name),
        )
    })
}

/// A resolved dependency ready to vendor.
struct Fetched {
    lock: LockedDependency,
    bytes: Vec<u8>,
}

/// `dep update`: resolves the newest matching versions, vendors them and writes the lock.
pub fn update(paths: &Paths, chart_dir: &Path) -> Result<ChartLock> {
    let md = read_chart_yaml(chart_dir)?;
    let cfg = RepoConfig::load(&paths.repositories_file())?;
    let mut indexes = Indexes {
        paths,
        fetched: BTreeMap::new(),
    };
    let mut fetched = Vec::new();
    for d in &md.dependencies {
        let range = range_of(chart_dir, d)?;
        match source_of(chart_dir, d, &cfg)? {
            Source::Vendored => continue,
            Source::Local(dir) => {
                let (version, bytes) = package_local(chart_dir, d, &dir, &range)?;
                fetched.push(Fetched {
                    lock: LockedDependency {
                        name: d.name.clone(),
                        repository: d.repository.clone(),
                        version,
                        digest: sha256_hex(&bytes),
                    },
                    bytes,
                });
            }
            Source::Repo(entry) => {
                let (client, idx) = indexes.get(&entry)?;
                let found = find(idx, &entry.url, &d.name, Some(&range), false)?;
                let (bytes, _) = remote::download(client, &entry.url, &found)?;
                fetched.push(Fetched {
                    lock: LockedDependency {
                        name: d.name.clone(),
                        repository: d.repository.clone(),
                        version: found.version,
                        digest: sha256_hex(&bytes),
                    },
                    bytes,
                });
            }
        }
    }
    let lock = ChartLock {
        dependencies: fetched.iter().map(|f| f.lock.clone()).collect(),
        digest: dependencies_digest(&md.dependencies),
        generated: now_rfc3339(),
    };
    vendor(chart_dir, &fetched)?;
    let text = serde_yaml::to_string(&lock).expect("lock serialises");
    write_atomic(&chart_dir.join("Chart.lock"), text.as_bytes(), None)?;
    Ok(lock)
}

/// `dep build`: fetches exactly what the lock names and checks every digest.
pub fn build(paths: &Paths, chart_dir: &Path) -> Result<ChartLock> {
    let md = read_chart_yaml(chart_dir)?;
    let lock_path = chart_dir.join("Chart.lock");
    let lock = read_lock(chart_dir)?
        .ok_or_else(|| dep_err(&lock_path, "no Chart.lock; run `stackpkg dep update` first"))?;
    if lock.digest != dependencies_digest(&md.dependencies) {
        return Err(dep_err(
            &lock_path,
            "out of date with Chart.yaml dependencies; run `stackpkg dep update`",
        ));
    }
    let cfg = RepoConfig::load(&paths.repositories_file())?;
    let mut indexes = Indexes {
        paths,
        fetched: BTreeMap::new(),
    };
    let mut fetched = Vec::new();
    for l in &lock.dependencies {
        let d = md
            .dependencies
            .iter()
            .find(|d| d.name == l.name && d.repository == l.repository)
            .ok_or_else(|| dep_err(&lock_path, format!("{} is not in Chart.yaml", l.name)))?;
        let exact = Range::parse(&format!("={}", l.version)).map_err(RepoError::Invalid)?;
        let bytes = match source_of(chart_dir, d, &cfg)? {
            Source::Vendored => continue,
            Source::Local(dir) => package_local(chart_dir, d, &dir, &exact)?.1,
            Source::Repo(entry) => {
                let (client, idx) = indexes.get(&entry)?;
                let found: Found = find(idx, &entry.url, &l.name, Some(&exact), true)?;
                remote::download(client, &entry.url, &found)?.0
            }
        };
        if !l.digest.is_empty() {
            check_digest(
                &bytes,
                &l.digest,
                &format!("{} {} (Chart.lock)", l.name, l.version),
            )?;
        }
        fetched.push(Fetched {
            lock: l.clone(),
            bytes,
        });
    }
    vendor(chart_dir, &fetched)?;
    Ok(lock)
}

/// Writes the packages into `charts/`, replacing older packages of the same charts. The new
/// files are complete (temp + rename) before any old one is removed.
fn vendor(chart_dir: &Path, fetched: &[Fetched]) -> Result<()> {
    let charts = chart_dir.join("charts");
    std::fs::create_dir_all(&charts)
        .map_err(|e| RepoError::io(format!("creating {}", charts.display()), e))?;
    let mut keep = Vec::new();
    for f in fetched {
        let name = format!("{}-{}.tgz", f.lock.name, f.lock.version);
        write_atomic(&charts.join(&name), &f.bytes, None)?;
        keep.push(name);
    }
    for entry in std::fs::read_dir(&charts)
        .map_err(|e| RepoError::io(format!("reading {}", charts.display()), e))?
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".tgz") || keep.contains(&file) {
            continue;
        }
        // An older package of one of the charts we just vendored.
        let stale = fetched.iter().any(|f| {
            file.strip_prefix(&format!("{}-", f.lock.name))
                .and_then(|rest| rest.strip_suffix(".tgz"))
                .is_some_and(|v| parse_version(v).is_some())
        });
        if stale {
            let p = entry.path();
            std::fs::remove_file(&p)
                .map_err(|e| RepoError::io(format!("removing {}", p.display()), e))?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepStatus {
    pub name: String,
    pub version: String,
    pub repository: String,
    /// `ok`, `missing`, `wrong version`, `lock out of date` or `unpacked` (a folder).
    pub status: String,
}

/// `dep list`: what Chart.yaml asks for against what `charts/` and the lock hold.
pub fn list(chart_dir: &Path) -> Result<Vec<DepStatus>> {
    let md = read_chart_yaml(chart_dir)?;
    let lock = read_lock(chart_dir)?;
    let lock_current = lock
        .as_ref()
        .is_some_and(|l| l.digest == dependencies_digest(&md.dependencies));
    let present = vendored_versions(&chart_dir.join("charts"));
    let mut out = Vec::new();
    for d in &md.dependencies {
        let locked = lock
            .as_ref()
            .and_then(|l| l.dependencies.iter().find(|x| x.name == d.name));
        let status = if lock.is_some() && !lock_current && !d.repository.is_empty() {
            "lock out of date".to_string()
        } else {
            match present.get(&d.name) {
                None => "missing".to_string(),
                Some(versions) => {
                    let wanted = |v: &str| match locked {
                        Some(l) => v == l.version,
                        None => Range::parse(&d.version)
                            .ok()
                            .zip(parse_version(v))
                            .is_some_and(|(r, v)| r.matches(&v)),
                    };
                    if versions.iter().any(|v| wanted(v)) {
                        "ok".to_string()
                    } else {
                        "wrong version".to_string()
                    }
                }
            }
        };
        out.push(DepStatus {
            name: d.name.clone(),
            version: d.version.clone(),
            repository: d.repository.clone(),
            status,
        });
    }
    Ok(out)
}

/// Chart name → versions found in `charts/` (packages and unpacked folders).
fn vendored_versions(charts: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(charts) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let md = if p.is_dir() {
            read_chart_yaml(&p).ok()
        } else if p.extension().is_some_and(|x| x == "tgz") {
            std::fs::read(&p)
                .ok()
                .and_then(|b| read_metadata(&b, &p.display().to_string()).ok())
        } else {
            None
        };
        if let Some(md) = md {
            out.entry(md.name).or_default().push(md.version);
        }
    }
    out
}
