//! Chart references as `install`, `upgrade`, `template` and `pull` accept them:
//! `REPO/CHART` of a configured repository, a chart folder, a `.tgz` path, or an
//! `http(s)://…/x.tgz` URL, with an optional version range.

use std::path::{Path, PathBuf};

use super::config::{Paths, RepoConfig};
use super::http::{ClientOptions, HttpClient};
use super::remote::{download, find, load_cache};
use super::sign::{self, PublicKey};
use super::version::Range;
use super::{RepoError, Result};

#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// A version range (`--version`); only meaningful for `REPO/CHART`.
    pub version: Option<String>,
    pub devel: bool,
    /// Refuse packages without a valid signature from `keyring`.
    pub verify: bool,
    pub keyring: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum ChartSource {
    /// A chart folder on disk.
    Dir(PathBuf),
    /// A package in memory (digest and, if asked, signature already checked).
    Archive { bytes: Vec<u8>, origin: String },
}

#[derive(Debug, Clone)]
pub struct ResolvedChart {
    pub source: ChartSource,
    /// The detached signature that came with the package, if one was fetched.
    pub signature: Option<String>,
}

/// Resolves a chart reference. The chart module loads the result (`chart::load` for
/// `Dir`, `chart::load_archive` for `Archive`).
pub fn resolve_chart_ref(
    reference: &str,
    opts: &ResolveOptions,
    paths: &Paths,
) -> Result<ResolvedChart> {
    let keys = keyring(opts)?;
    if reference.starts_with("https://") || reference.starts_with("http://") {
        let client = HttpClient::new(&ClientOptions::default(), reference)?;
        let bytes = client.get(reference)?;
        let signature = fetch_sig(&client, reference, keys.as_deref())?;
        check_sig(&bytes, signature.as_deref(), keys.as_deref(), reference)?;
        return Ok(ResolvedChart {
            source: ChartSource::Archive {
                bytes,
                origin: reference.to_string(),
            },
            signature,
        });
    }
    let path = Path::new(reference);
    if path.is_dir() {
        if opts.verify {
            return Err(RepoError::Signature(format!(
                "{reference}: a chart folder cannot be verified; package and sign it"
            )));
        }
        return Ok(ResolvedChart {
            source: ChartSource::Dir(path.to_path_buf()),
            signature: None,
        });
    }
    if path.is_file() {
        let bytes = super::fsutil::read(path)?;
        let signature = std::fs::read_to_string(sign::sig_path(path)).ok();
        check_sig(&bytes, signature.as_deref(), keys.as_deref(), reference)?;
        return Ok(ResolvedChart {
            source: ChartSource::Archive {
                bytes,
                origin: reference.to_string(),
            },
            signature,
        });
    }
    let Some((repo, chart)) = reference
        .split_once('/')
        .filter(|(r, c)| !r.is_empty() && !c.is_empty() && !c.contains('/') && !r.starts_with('.'))
    else {
        return Err(RepoError::NotFound(format!(
            "chart reference {reference:?}: no such file or folder, and not REPO/CHART"
        )));
    };
    let cfg = RepoConfig::load(&paths.repositories_file())?;
    let entry = cfg.get(repo).ok_or_else(|| {
        RepoError::NotFound(format!(
            "chart reference {reference:?}: no such file or folder, and no repository named {repo:?}"
        ))
    })?;
    let range = opts
        .version
        .as_deref()
        .map(Range::parse)
        .transpose()
        .map_err(RepoError::Invalid)?;
    let idx = load_cache(paths, repo)?;
    let found = find(&idx, repo, chart, range.as_ref(), opts.devel)?;
    let client = super::remote::client_for(entry)?;
    let (bytes, url) = download(&client, &entry.url, &found)?;
    let signature = fetch_sig(&client, &url, keys.as_deref())?;
    check_sig(&bytes, signature.as_deref(), keys.as_deref(), &url)?;
    Ok(ResolvedChart {
        source: ChartSource::Archive { bytes, origin: url },
        signature,
    })
}

fn keyring(opts: &ResolveOptions) -> Result<Option<Vec<PublicKey>>> {
    match (&opts.keyring, opts.verify) {
        (Some(k), true) => Ok(Some(sign::load_keyring(k)?)),
        (None, true) => Err(RepoError::Invalid("--verify needs --keyring".into())),
        _ => Ok(None),
    }
}

/// Fetches `URL.minisig` only when verification is asked for.
fn fetch_sig(client: &HttpClient, url: &str, keys: Option<&[PublicKey]>) -> Result<Option<String>> {
    if keys.is_none() {
        return Ok(None);
    }
    let sig_url = format!("{url}.{}", sign::SIG_EXT);
    match client.get(&sig_url) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(_) => Ok(None),
    }
}

fn check_sig(data: &[u8], sig: Option<&str>, keys: Option<&[PublicKey]>, what: &str) -> Result<()> {
    let Some(keys) = keys else { return Ok(()) };
    let sig = sig.ok_or_else(|| {
        RepoError::Signature(format!(
            "{what}: the package is unsigned (no .{} file)",
            sign::SIG_EXT
        ))
    })?;
    sign::verify(data, sig, keys, what).map(|_| ())
}
