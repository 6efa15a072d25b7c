//! The HTTP client for repositories: TLS options, credentials, size limits and redirects.
//!
//! Redirects are followed here rather than by reqwest so the credential rule is explicit:
//! credentials go only to the scheme, host and port of the repository's own URL, and a
//! redirect elsewhere is followed without them.

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};

use super::config::RepoEntry;
use super::{RepoError, Result};

/// Largest body we accept (index or package): a bad server must not exhaust memory.
pub const MAX_BODY: usize = 1 << 30;
const MAX_REDIRECTS: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    Basic { username: String, password: String },
    Bearer(String),
}

#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
    pub credentials: Option<Credentials>,
}

impl ClientOptions {
    pub fn from_repo(r: &RepoEntry) -> Self {
        let credentials = match (&r.username, &r.password) {
            (Some(u), p) => Some(Credentials::Basic {
                username: u.clone(),
                password: p.clone().unwrap_or_default(),
            }),
            (None, Some(p)) => Some(Credentials::Bearer(p.clone())),
            (None, None) => None,
        };
        ClientOptions {
            ca_file: r.ca_file.clone(),
            cert_file: r.cert_file.clone(),
            key_file: r.key_file.clone(),
            insecure_skip_tls_verify: r.insecure_skip_tls_verify,
            credentials,
        }
    }
}

pub struct Response {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub url: String,
    pub etag: Option<String>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_string()
    }
}

/// A blocking client over a private current-thread runtime (the CLI is synchronous).
pub struct HttpClient {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    credentials: Option<Credentials>,
    /// Scheme, host and port the credentials belong to.
    auth_origin: Option<reqwest::Url>,
}

/// reqwest is built without a default crypto provider (to keep aws-lc-rs out); install ring.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Replaces the password of every `scheme://user:password@host` in `text` with `***`, so a
/// URL typed with credentials in it is never echoed back in errors or listings.
pub fn redact_credentials(text: &str) -> String {
    static USERINFO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*):[^/?#@\s]*@")
            .expect("a valid pattern")
    });
    USERINFO.replace_all(text, "$1:***@").into_owned()
}

pub fn parse_url(url: &str) -> Result<Url> {
    let u = Url::parse(url).map_err(|e| RepoError::Http {
        url: url.to_string(),
        msg: format!("invalid URL: {e}"),
    })?;
    match u.scheme() {
        "http" | "https" => Ok(u),
        s => Err(RepoError::Http {
            url: url.to_string(),
            msg: format!("unsupported scheme {s:?} (use http or https)"),
        }),
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

impl HttpClient {
    /// `base_url` is the repository URL the credentials belong to.
    pub fn new(opts: &ClientOptions, base_url: &str) -> Result<Self> {
        install_crypto_provider();
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| RepoError::io(format!("reading {}", p.display()), e))
        };
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(600))
            .user_agent(concat!("stackpkg/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &opts.ca_file {
            let pem = read(ca)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                RepoError::Invalid(format!("{}: not a PEM certificate: {e}", ca.display()))
            })?;
            if certs.is_empty() {
                return Err(RepoError::Invalid(format!(
                    "{}: no certificate found",
                    ca.display()
                )));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        match (&opts.cert_file, &opts.key_file) {
            (Some(c), Some(k)) => {
                let mut pem = read(c)?;
                pem.push(b'\n');
                pem.extend(read(k)?);
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    RepoError::Invalid(format!(
                        "{} / {}: invalid client certificate or key: {e}",
                        c.display(),
                        k.display()
                    ))
                })?;
                b = b.identity(id);
            }
            (None, None) => {}
            _ => {
                return Err(RepoError::Invalid(
                    "--cert-file and --key-file must be given together".into(),
                ))
            }
        }
        if opts.insecure_skip_tls_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        let client = b
            .build()
            .map_err(|e| RepoError::Invalid(format!("cannot set up HTTP client: {e}")))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RepoError::io("starting the HTTP runtime", e))?;
        let auth_origin = if opts.credentials.is_some() {
            Some(parse_url(base_url)?)
        } else {
            None
        };
        Ok(HttpClient {
            rt,
            client,
            credentials: opts.credentials.clone(),
            auth_origin,
        })
    }

    /// GET that must succeed with 2xx; returns the body.
    pub fn get(&self, url: &str) -> Result<Vec<u8>> {
        let r = self.request(Method::GET, url, None)?;
        if !r.status.is_success() {
            return Err(RepoError::Http {
                url: url.to_string(),
                msg: format!("HTTP {}: {}", r.status, short(&r.text())),
            });
        }
        Ok(r.body)
    }

    /// Any request; GETs follow redirects (without credentials across origins).
    pub fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<(Vec<u8>, String)>,
    ) -> Result<Response> {
        self.request_with(method, url, body, None)
    }

    /// GET with `If-None-Match`: `Ok(None)` when the server answers 304 Not Modified.
    pub fn get_if_changed(&self, url: &str, etag: Option<&str>) -> Result<Option<Response>> {
        let r = self.request_with(Method::GET, url, None, etag)?;
        if r.status == StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(None);
        }
        if !r.status.is_success() {
            return Err(RepoError::Http {
                url: url.to_string(),
                msg: format!("HTTP {}: {}", r.status, short(&r.text())),
            });
        }
        Ok(Some(r))
    }

    fn request_with(
        &self,
        method: Method,
        url: &str,
        body: Option<(Vec<u8>, String)>,
        if_none_match: Option<&str>,
    ) -> Result<Response> {
        let mut current = parse_url(url)?;
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.client.request(method.clone(), current.clone());
            let with_creds = matches!(&self.auth_origin, Some(o) if same_origin(o, &current));
            if with_creds {
                req = match &self.credentials {
                    Some(Credentials::Basic { username, password }) => {
                        req.basic_auth(username, Some(password))
                    }
                    Some(Credentials::Bearer(t)) => req.bearer_auth(t),
                    None => req,
                };
            }
            if let Some(tag) = if_none_match {
                req = req.header(reqwest::header::IF_NONE_MATCH, tag);
            }
            if let Some((data, ct)) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, ct.as_str())
                    .body(data.clone());
            }
            let cur = current.to_string();
            let http_err = |msg: String| RepoError::Http {
                url: cur.clone(),
                msg,
            };
            let (status, location, etag, data) = self.rt.block_on(async {
                let mut resp = req.send().await.map_err(|e| http_err(describe(&e)))?;
                let status = resp.status();
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let etag = resp
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                if let Some(len) = resp.content_length() {
                    if len as usize > MAX_BODY {
                        return Err(http_err(format!("response of {len} bytes is too large")));
                    }
                }
                let mut data = Vec::new();
                while let Some(chunk) = resp
                    .chunk()
                    .await
                    .map_err(|e| http_err(format!("reading body: {}", describe(&e))))?
                {
                    if data.len() + chunk.len() > MAX_BODY {
                        return Err(http_err("response body is too large".into()));
                    }
                    data.extend_from_slice(&chunk);
                }
                Ok::<_, RepoError>((status, location, etag, data))
            })?;
            let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            if redirect && method == Method::GET {
                let loc = location
                    .ok_or_else(|| http_err(format!("HTTP {status} without a Location header")))?;
                current = current
                    .join(&loc)
                    .map_err(|e| http_err(format!("bad redirect Location {loc:?}: {e}")))?;
                if !matches!(current.scheme(), "http" | "https") {
                    return Err(http_err(format!("redirect to unsupported URL {current}")));
                }
                continue;
            }
            return Ok(Response {
                status,
                body: data,
                url: cur,
                etag,
            });
        }
        Err(RepoError::Http {
            url: url.to_string(),
            msg: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }
}

/// reqwest's top-level message hides the cause (e.g. the TLS error); show the chain.
fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > 200 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else {
        line.to_string()
    }
}

/// Resolves a chart URL from an index against the repository URL (relative URLs are how
/// `repo index` without `--url` writes them).
pub fn resolve_url(repo_url: &str, chart_url: &str) -> Result<String> {
    if chart_url.starts_with("http://") || chart_url.starts_with("https://") {
        return Ok(chart_url.to_string());
    }
    let mut base = parse_url(repo_url)?;
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    base.join(chart_url)
        .map(|u| u.to_string())
        .map_err(|e| RepoError::Http {
            url: chart_url.to_string(),
            msg: format!("cannot resolve against {repo_url}: {e}"),
        })
}

/// The index URL of a repository URL.
pub fn index_url(repo_url: &str) -> Result<String> {
    resolve_url(repo_url, "index.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_credentials("GET https://ci:s3cr:et@h:8080/x failed; see http://h/y"),
            "GET https://ci:***@h:8080/x failed; see http://h/y"
        );
        assert_eq!(redact_credentials("http://tok@h/a"), "http://tok@h/a");
        assert_eq!(redact_credentials("no url: a:b@c"), "no url: a:b@c");
    }

    #[test]
    fn urls_resolve_like_helm() {
        assert_eq!(
            resolve_url("https://h/charts", "a-1.0.0.tgz").unwrap(),
            "https://h/charts/a-1.0.0.tgz"
        );
        assert_eq!(
            resolve_url("https://h/charts/", "sub/a.tgz").unwrap(),
            "https://h/charts/sub/a.tgz"
        );
        assert_eq!(
            resolve_url("https://h/charts", "https://cdn/x.tgz").unwrap(),
            "https://cdn/x.tgz"
        );
        assert_eq!(
            index_url("http://h:8080").unwrap(),
            "http://h:8080/index.yaml"
        );
        assert!(index_url("ftp://h").is_err());
        assert!(index_url("not a url").is_err());
    }

    #[test]
    fn origin_comparison_includes_port() {
        let a = Url::parse("http://127.0.0.1:80/x").unwrap();
        let b = Url::parse("http://127.0.0.1/y").unwrap();
        let c = Url::parse("http://127.0.0.1:81/x").unwrap();
        assert!(same_origin(&a, &b));
        assert!(!same_origin(&a, &c));
    }
}
