//! Repository commands: add, list, remove, update, index, search, pull, verify, sign.

use std::path::{Path, PathBuf};

use crate::repo::cache::CompactIndex;
use crate::repo::config::{validate_name, Paths, RepoConfig, RepoEntry};
use crate::repo::http::{index_url, parse_url};
use crate::repo::indexgen::{self, IndexOptions, IndexReport};
use crate::repo::remote::{self, UpdateReport};
use crate::repo::search::{self, SearchHit, SearchOptions};
use crate::repo::version::Range;
use crate::repo::{package, resolve_chart_ref, sign, ChartSource, RepoError, ResolveOptions};
use crate::Result;

/// `repo add`: checks the repository answers with a valid index, caches it, then saves the
/// config. A name already in use needs `force_update` unless nothing changes.
pub fn add(paths: &Paths, entry: RepoEntry, force_update: bool) -> Result<UpdateReport> {
    validate_name(&entry.name)?;
    parse_url(&entry.url)?;
    index_url(&entry.url)?;
    let file = paths.repositories_file();
    let mut cfg = RepoConfig::load(&file)?;
    if let Some(existing) = cfg.get(&entry.name) {
        if *existing != entry && !force_update {
            return Err(RepoError::Invalid(format!(
                "repository {:?} already exists with other settings; use --force-update to replace it",
                entry.name
            ))
            .into());
        }
    }
    let report = remote::update(paths, &entry, false)?;
    cfg.upsert(entry);
    cfg.save(&file)?;
    Ok(report)
}

pub fn list(paths: &Paths) -> Result<Vec<RepoEntry>> {
    Ok(RepoConfig::load(&paths.repositories_file())?.repositories)
}

/// `repo remove`: every name must exist; nothing is removed otherwise.
pub fn remove(paths: &Paths, names: &[String]) -> Result<()> {
    let file = paths.repositories_file();
    let mut cfg = RepoConfig::load(&file)?;
    for n in names {
        cfg.require(n)?;
    }
    for n in names {
        cfg.remove(n);
    }
    cfg.save(&file)?;
    for n in names {
        remote::remove_cache(paths, n)?;
    }
    Ok(())
}

/// `repo update [NAME…]`: refreshes each repository independently; one failure does not
/// stop the others, and each failure leaves that repository's old cache in place.
pub fn update(paths: &Paths, names: &[String]) -> Result<Vec<(String, Result<UpdateReport>)>> {
    let cfg = RepoConfig::load(&paths.repositories_file())?;
    let targets: Vec<&RepoEntry> = if names.is_empty() {
        cfg.repositories.iter().collect()
    } else {
        names
            .iter()
            .map(|n| cfg.require(n))
            .collect::<std::result::Result<_, _>>()?
    };
    if targets.is_empty() {
        return Err(RepoError::Invalid(
            "no repositories configured; add one with `stackpkg repo add NAME URL`".into(),
        )
        .into());
    }
    Ok(targets
        .into_iter()
        .map(|e| {
            (
                e.name.clone(),
                remote::update(paths, e, true).map_err(Into::into),
            )
        })
        .collect())
}

pub fn index(dir: &Path, opts: &IndexOptions) -> Result<IndexReport> {
    Ok(indexgen::write(dir, opts)?)
}

pub struct SearchRequest {
    pub keyword: Option<String>,
    pub version: Option<String>,
    pub versions: bool,
    pub devel: bool,
}

/// `search repo`: returns hits and warnings (repositories without a usable cache).
pub fn search(paths: &Paths, req: &SearchRequest) -> Result<(Vec<SearchHit>, Vec<String>)> {
    let cfg = RepoConfig::load(&paths.repositories_file())?;
    if cfg.repositories.is_empty() {
        return Err(RepoError::Invalid(
            "no repositories configured; add one with `stackpkg repo add NAME URL`".into(),
        )
        .into());
    }
    let range = req
        .version
        .as_deref()
        .map(Range::parse)
        .transpose()
        .map_err(RepoError::Invalid)?;
    let mut warnings = Vec::new();
    let mut loaded: Vec<(String, CompactIndex)> = Vec::new();
    for r in &cfg.repositories {
        match remote::load_cache(paths, &r.name) {
            Ok(c) => loaded.push((r.name.clone(), c)),
            Err(e) => warnings.push(e.to_string()),
        }
    }
    let opts = SearchOptions {
        keyword: req.keyword.clone(),
        range,
        all_versions: req.versions,
        devel: req.devel,
    };
    Ok((search::search(&loaded, &opts), warnings))
}

/// `pull`: resolves, checks the digest (and signature if asked), then writes the package
/// (or its extracted folder) atomically. Returns what was written.
pub fn pull(
    paths: &Paths,
    reference: &str,
    opts: &ResolveOptions,
    untar: bool,
    dest: &Path,
) -> Result<PathBuf> {
    let resolved = resolve_chart_ref(reference, opts, paths)?;
    let (bytes, origin) = match resolved.source {
        ChartSource::Archive { bytes, origin } => (bytes, origin),
        ChartSource::Dir(d) => {
            return Err(RepoError::Invalid(format!(
                "{} is a chart folder; there is nothing to pull",
                d.display()
            ))
            .into())
        }
    };
    let md = package::read_metadata(&bytes, &origin)?;
    if untar {
        let target = dest.join(&md.name);
        package::extract(&bytes, &origin, &target)?;
        return Ok(target);
    }
    let target = dest.join(format!("{}-{}.tgz", md.name, md.version));
    crate::repo::fsutil::write_atomic(&target, &bytes, None)?;
    if let Some(sig) = resolved.signature {
        crate::repo::fsutil::write_atomic(&sign::sig_path(&target), sig.as_bytes(), None)?;
    }
    Ok(target)
}

pub fn verify(file: &Path, keyring: &Path) -> Result<String> {
    let bytes = crate::repo::fsutil::read(file)?;
    package::read_metadata(&bytes, &file.display().to_string())?;
    Ok(sign::verify_file(file, keyring)?)
}

pub fn keygen(secret: &Path, public: &Path) -> Result<String> {
    Ok(sign::generate_files(secret, public)?)
}

pub fn sign_package(file: &Path, key: &Path) -> Result<PathBuf> {
    let bytes = crate::repo::fsutil::read(file)?;
    package::read_metadata(&bytes, &file.display().to_string())?;
    Ok(sign::sign_file(file, key)?)
}

/// `repo serve`: runs until Ctrl-C / SIGTERM. `on_ready` gets the bound address and the
/// startup warnings once the server is listening.
pub fn serve(
    opts: crate::repo::serve::ServeOptions,
    on_ready: impl FnOnce(std::net::SocketAddr, &[String]),
) -> Result<()> {
    use crate::repo::serve;
    let (app, tls, warnings) = serve::prepare(&opts)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::Error::io("starting the server runtime", e))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&opts.addr)
            .await
            .map_err(|e| crate::Error::io(format!("binding {}", opts.addr), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| crate::Error::io("reading the bound address", e))?;
        on_ready(addr, &warnings);
        let shutdown = async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {},
                            _ = term.recv() => {},
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        serve::run(listener, app, tls, shutdown).await?;
        Ok(())
    })
}

/// `push`: uploads a package (and its `.minisig`, if present) to a stackpkg or
/// ChartMuseum-compatible server. `repo` is a configured name or a URL. Returns the URL.
pub fn push(
    paths: &Paths,
    chart: &Path,
    repo: &str,
    username: Option<String>,
    password: Option<String>,
) -> Result<String> {
    use crate::repo::http::{ClientOptions, Credentials, HttpClient};
    let bytes = crate::repo::fsutil::read(chart)?;
    package::read_metadata(&bytes, &chart.display().to_string())?;
    let (url, mut opts) = if repo.starts_with("http://") || repo.starts_with("https://") {
        (
            repo.trim_end_matches('/').to_string(),
            ClientOptions::default(),
        )
    } else {
        let cfg = RepoConfig::load(&paths.repositories_file())?;
        let e = cfg.require(repo)?;
        (
            e.url.clone(),
            crate::repo::http::ClientOptions::from_repo(e),
        )
    };
    match (username, password) {
        (Some(u), p) => {
            opts.credentials = Some(Credentials::Basic {
                username: u,
                password: p.unwrap_or_default(),
            })
        }
        (None, Some(t)) => opts.credentials = Some(Credentials::Bearer(t)),
        (None, None) => {}
    }
    let client = HttpClient::new(&opts, &url)?;
    let api = crate::repo::http::resolve_url(&url, "api/charts")?;
    let r = client.request(
        reqwest::Method::POST,
        &api,
        Some((bytes, "application/gzip".into())),
    )?;
    let server_msg = |r: &crate::repo::http::Response| {
        serde_json::from_slice::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| r.text())
    };
    if !r.status.is_success() {
        return Err(RepoError::Http {
            url: api,
            msg: format!("upload refused (HTTP {}): {}", r.status, server_msg(&r)),
        }
        .into());
    }
    let sig = sign::sig_path(chart);
    if sig.is_file() {
        let data = crate::repo::fsutil::read(&sig)?;
        let prov = crate::repo::http::resolve_url(&url, "api/prov")?;
        let r = client.request(
            reqwest::Method::POST,
            &prov,
            Some((data, "text/plain".into())),
        )?;
        if !r.status.is_success() {
            return Err(RepoError::Http {
                url: prov,
                msg: format!(
                    "signature upload refused (HTTP {}): {}",
                    r.status,
                    server_msg(&r)
                ),
            }
            .into());
        }
    }
    Ok(url)
}
