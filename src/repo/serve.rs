//! `repo serve`: a chart repository server. It serves `index.yaml` (with ETag and gzip)
//! and the packages, plus a ChartMuseum-compatible API to upload, list and delete charts.
//!
//! All index changes go through one async mutex: an upload checks for a duplicate, stores
//! the package, updates the in-memory index and rewrites `index.yaml` atomically before the
//! next upload starts, so concurrent uploads never lose an entry. Files live behind the
//! [`Storage`] trait (local disk here) so an object store can be added without touching
//! the HTTP layer.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::json;
use tokio::sync::Mutex;

use super::fsutil::{sha256_hex, write_atomic};
use super::index::{self, IndexEntry, IndexFile};
use super::indexgen::now_rfc3339;
use super::package::read_metadata;
use super::{RepoError, Result};

/// Where packages and the index are kept. Names are flat file names (`x-1.0.0.tgz`).
pub trait Storage: Send + Sync + 'static {
    /// Names of all stored objects.
    fn list(&self) -> Result<Vec<String>>;
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Stores atomically: readers see the old object or the new one, never a part.
    fn put(&self, name: &str, data: &[u8]) -> Result<()>;
    /// Returns whether the object existed.
    fn delete(&self, name: &str) -> Result<bool>;
}

/// Storage in a local folder.
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| RepoError::io(format!("creating {}", root.display()), e))?;
        Ok(LocalStorage {
            root: root.to_path_buf(),
        })
    }
}

/// Object names are single path segments of a safe alphabet.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
}

impl Storage for LocalStorage {
    fn list(&self) -> Result<Vec<String>> {
        let rd = std::fs::read_dir(&self.root)
            .map_err(|e| RepoError::io(format!("reading {}", self.root.display()), e))?;
        let mut out = Vec::new();
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                if let Some(n) = e.file_name().to_str() {
                    if safe_name(n) {
                        out.push(n.to_string());
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        if !safe_name(name) {
            return Ok(None);
        }
        match std::fs::read(self.root.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RepoError::io(format!("reading {name}"), e)),
        }
    }

    fn put(&self, name: &str, data: &[u8]) -> Result<()> {
        if !safe_name(name) {
            return Err(RepoError::Invalid(format!("unsafe object name {name:?}")));
        }
        write_atomic(&self.root.join(name), data, None)
    }

    fn delete(&self, name: &str) -> Result<bool> {
        if !safe_name(name) {
            return Ok(false);
        }
        match std::fs::remove_file(self.root.join(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(RepoError::io(format!("deleting {name}"), e)),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer T`, or basic auth with password T (Helm only speaks basic).
    Token(String),
    Basic {
        username: String,
        password: String,
    },
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub dir: PathBuf,
    pub addr: String,
    pub auth: Option<Auth>,
    pub allow_overwrite: bool,
    pub max_upload_size: usize,
    /// Absolute base URL for index entries; relative (`x-1.0.0.tgz`) otherwise.
    pub base_url: Option<String>,
    /// (certificate chain, private key) PEM files for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// The index as served: bytes, gzip bytes and ETag are computed once per change.
struct Served {
    index: IndexFile,
    yaml: Bytes,
    gz: Bytes,
    etag: String,
}

impl Served {
    fn new(index: IndexFile) -> Self {
        let yaml = Bytes::from(index.to_yaml());
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&yaml).expect("writing to memory");
        let gz = Bytes::from(enc.finish().expect("writing to memory"));
        let etag = format!("\"{}\"", &sha256_hex(&yaml)[..32]);
        Served {
            index,
            yaml,
            gz,
            etag,
        }
    }
}

struct AppState {
    storage: Arc<dyn Storage>,
    served: Mutex<Served>,
    auth: Option<Auth>,
    allow_overwrite: bool,
    base_url: Option<String>,
    max_upload_size: usize,
}

type Shared = Arc<AppState>;

fn package_name(name: &str, version: &str) -> String {
    format!("{name}-{version}.tgz")
}

/// Builds the starting index: the stored `index.yaml` (its `created` dates and any entries
/// pointing elsewhere are kept), reconciled with the packages actually stored.
pub fn initial_index(
    storage: &dyn Storage,
    base_url: Option<&str>,
) -> Result<(IndexFile, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut idx = match storage.get("index.yaml")? {
        Some(b) => match index::parse(&b, "index.yaml") {
            Ok(p) => {
                warnings.extend(p.warnings);
                p.index
            }
            Err(e) => {
                warnings.push(format!("rebuilding the index: {e}"));
                IndexFile::new()
            }
        },
        None => IndexFile::new(),
    };
    let names = storage.list()?;
    let stored: std::collections::BTreeSet<&str> = names.iter().map(String::as_str).collect();
    // Drop entries for local packages that are gone.
    let mut gone = Vec::new();
    for (n, versions) in &idx.entries {
        for e in versions {
            let local = e.urls.first().map(|u| local_object(u, base_url));
            if let Some(Some(obj)) = local {
                if !stored.contains(obj.as_str()) {
                    gone.push((n.clone(), e.version.clone()));
                }
            }
        }
    }
    for (n, v) in gone {
        warnings.push(format!("dropping {n} {v}: its package is missing"));
        idx.remove(&n, &v);
    }
    for name in names.iter().filter(|n| n.ends_with(".tgz")) {
        let Some(bytes) = storage.get(name)? else {
            continue;
        };
        let md = match read_metadata(&bytes, name) {
            Ok(md) => md,
            Err(e) => {
                warnings.push(format!("skipping {e}"));
                continue;
            }
        };
        let digest = sha256_hex(&bytes);
        if let Some(e) = idx.get(&md.name, &md.version) {
            if e.digest == digest {
                continue;
            }
        }
        let created = now_rfc3339();
        idx.upsert(IndexEntry::from_metadata(
            &md,
            digest,
            created,
            url_for(name, base_url),
        ));
    }
    Ok((idx, warnings))
}

fn url_for(object: &str, base_url: Option<&str>) -> String {
    match base_url {
        Some(b) => format!("{}/{object}", b.trim_end_matches('/')),
        None => object.to_string(),
    }
}

/// The object name an index URL refers to, if it is one of ours.
fn local_object(url: &str, base_url: Option<&str>) -> Option<String> {
    let rel = match base_url {
        Some(b) => url.strip_prefix(&format!("{}/", b.trim_end_matches('/')))?,
        None if url.contains("://") => return None,
        None => url,
    };
    safe_name(rel).then(|| rel.to_string())
}

pub fn router(storage: Arc<dyn Storage>, index: IndexFile, opts: &ServeOptions) -> Router {
    let state = Arc::new(AppState {
        storage,
        served: Mutex::new(Served::new(index)),
        auth: opts.auth.clone(),
        allow_overwrite: opts.allow_overwrite,
        base_url: opts.base_url.clone(),
        max_upload_size: opts.max_upload_size,
    });
    let protected = Router::new()
        .route("/index.yaml", get(get_index))
        .route("/api/charts", get(list_charts).post(upload))
        .route("/api/prov", axum::routing::post(upload_signature))
        .route("/api/charts/{name}", get(list_versions))
        .route(
            "/api/charts/{name}/{version}",
            get(get_version).delete(delete_version),
        )
        .route("/{file}", get(get_file))
        .layer(middleware::from_fn_with_state(state.clone(), check_auth));
    Router::new()
        .route("/health", get(|| async { Json(json!({"healthy": true})) }))
        .merge(protected)
        .layer(DefaultBodyLimit::max(opts.max_upload_size))
        .with_state(state)
}

fn err(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn check_auth(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let Some(auth) = &st.auth else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let basic = given
        .strip_prefix("Basic ")
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let ok = match auth {
        Auth::Token(t) => {
            given
                .strip_prefix("Bearer ")
                .is_some_and(|g| ct_eq(g.trim().as_bytes(), t.as_bytes()))
                || basic
                    .as_deref()
                    .and_then(|b| b.split_once(':'))
                    .is_some_and(|(_, p)| ct_eq(p.as_bytes(), t.as_bytes()))
        }
        Auth::Basic { username, password } => basic
            .as_deref()
            .and_then(|b| b.split_once(':'))
            .is_some_and(|(u, p)| {
                ct_eq(u.as_bytes(), username.as_bytes()) & ct_eq(p.as_bytes(), password.as_bytes())
            }),
    };
    if ok {
        next.run(req).await
    } else {
        let mut r = err(StatusCode::UNAUTHORIZED, "unauthorized");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"stackpkg\""),
        );
        r
    }
}

async fn get_index(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let (yaml, gz, etag) = {
        let s = st.served.lock().await;
        (s.yaml.clone(), s.gz.clone(), s.etag.clone())
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut b = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CONTENT_TYPE, "application/x-yaml")
        .header(header::VARY, "Accept-Encoding");
    if matches {
        return b
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("valid response");
    }
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.trim().split(';').next() == Some("gzip"))
        });
    let body = if gzip {
        b = b.header(header::CONTENT_ENCODING, "gzip");
        gz
    } else {
        yaml
    };
    b.body(Body::from(body)).expect("valid response")
}

async fn get_file(State(st): State<Shared>, UrlPath(file): UrlPath<String>) -> Response {
    let allowed = file.ends_with(".tgz") || file.ends_with(".tgz.minisig");
    if !allowed || !safe_name(&file) {
        return err(StatusCode::NOT_FOUND, format!("{file}: not found"));
    }
    let storage = st.storage.clone();
    let name = file.clone();
    match tokio::task::spawn_blocking(move || storage.get(&name)).await {
        Ok(Ok(Some(b))) => {
            ([(header::CONTENT_TYPE, "application/gzip")], Body::from(b)).into_response()
        }
        Ok(Ok(None)) => err(StatusCode::NOT_FOUND, format!("{file}: not found")),
        Ok(Err(e)) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn list_charts(State(st): State<Shared>) -> Response {
    let s = st.served.lock().await;
    Json(&s.index.entries).into_response()
}

async fn list_versions(State(st): State<Shared>, UrlPath(name): UrlPath<String>) -> Response {
    let s = st.served.lock().await;
    match s.index.entries.get(&name) {
        Some(v) => Json(v).into_response(),
        None => err(StatusCode::NOT_FOUND, format!("chart {name} not found")),
    }
}

async fn get_version(
    State(st): State<Shared>,
    UrlPath((name, version)): UrlPath<(String, String)>,
) -> Response {
    let s = st.served.lock().await;
    match s.index.get(&name, &version) {
        Some(e) => Json(e).into_response(),
        None => err(
            StatusCode::NOT_FOUND,
            format!("chart {name} {version} not found"),
        ),
    }
}

async fn delete_version(
    State(st): State<Shared>,
    UrlPath((name, version)): UrlPath<(String, String)>,
) -> Response {
    let mut s = st.served.lock().await;
    let Some(entry) = s.index.get(&name, &version).cloned() else {
        return err(
            StatusCode::NOT_FOUND,
            format!("chart {name} {version} not found"),
        );
    };
    let mut next = s.index.clone();
    next.remove(&name, &version);
    if let Err(e) = commit_index(&st, &mut s, next).await {
        return err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    // The index no longer points at the package; removing the file can now not dangle.
    if let Some(obj) = entry
        .urls
        .first()
        .and_then(|u| local_object(u, st.base_url.as_deref()))
    {
        let storage = st.storage.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = storage.delete(&format!("{obj}.minisig"));
            storage.delete(&obj)
        })
        .await;
    }
    Json(json!({"deleted": true})).into_response()
}

/// Writes the new index to storage, then swaps it in.
async fn commit_index(st: &Shared, s: &mut Served, next: IndexFile) -> Result<()> {
    let served = tokio::task::spawn_blocking(move || Served::new(next))
        .await
        .map_err(|e| RepoError::Invalid(e.to_string()))?;
    let storage = st.storage.clone();
    let yaml = served.yaml.clone();
    tokio::task::spawn_blocking(move || storage.put("index.yaml", &yaml))
        .await
        .map_err(|e| RepoError::Invalid(e.to_string()))??;
    *s = served;
    Ok(())
}

async fn upload(State(st): State<Shared>, headers: HeaderMap, req: Request) -> Response {
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > st.max_upload_size) {
        return too_large();
    }
    let (chart, signature) = if multipart {
        match read_multipart(req).await {
            Ok(x) => x,
            Err(r) => return r,
        }
    } else {
        match axum::body::to_bytes(req.into_body(), st.max_upload_size).await {
            Ok(b) => (b, None),
            Err(e) => return body_error(e),
        }
    };
    store_chart(&st, chart, signature).await
}

fn body_error(e: axum::Error) -> Response {
    let msg = e.to_string();
    let inner = std::error::Error::source(&e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    if msg.contains("length limit") || inner.contains("length limit") {
        too_large()
    } else {
        err(
            StatusCode::BAD_REQUEST,
            format!("reading the upload: {msg}"),
        )
    }
}

async fn read_multipart(req: Request) -> std::result::Result<(Bytes, Option<Bytes>), Response> {
    use axum::extract::FromRequest;
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| err(StatusCode::BAD_REQUEST, e.to_string()))?;
    let (mut chart, mut sig) = (None, None);
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let status = e.status();
                return Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
                    err(status, "upload is larger than --max-upload-size")
                } else {
                    err(
                        StatusCode::BAD_REQUEST,
                        format!("bad multipart upload: {}", e.body_text()),
                    )
                });
            }
        };
        let name = field.name().unwrap_or("").to_string();
        let data = field.bytes().await.map_err(|e| {
            err(
                e.status(),
                format!("bad multipart upload: {}", e.body_text()),
            )
        })?;
        match name.as_str() {
            "chart" => chart = Some(data),
            "signature" | "prov" => sig = Some(data),
            _ => {}
        }
    }
    let chart =
        chart.ok_or_else(|| err(StatusCode::BAD_REQUEST, "no \"chart\" field in the upload"))?;
    Ok((chart, sig))
}

async fn store_chart(st: &Shared, chart: Bytes, signature: Option<Bytes>) -> Response {
    if chart.is_empty() {
        return err(StatusCode::BAD_REQUEST, "empty upload");
    }
    let data = chart.clone();
    let md = match tokio::task::spawn_blocking(move || read_metadata(&data, "upload")).await {
        Ok(Ok(md)) => md,
        Ok(Err(e)) => return err(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => return err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if let Some(sig) = &signature {
        if std::str::from_utf8(sig).map_or(true, |s| !s.starts_with("untrusted comment:")) {
            return err(
                StatusCode::BAD_REQUEST,
                "signature is not a minisign signature",
            );
        }
    }
    let object = package_name(&md.name, &md.version);
    let mut s = st.served.lock().await;
    if s.index.get(&md.name, &md.version).is_some() && !st.allow_overwrite {
        return err(
            StatusCode::CONFLICT,
            format!(
                "{} {} already exists (the server does not allow overwrites)",
                md.name, md.version
            ),
        );
    }
    let digest = sha256_hex(&chart);
    let storage = st.storage.clone();
    let obj = object.clone();
    let put = tokio::task::spawn_blocking(move || {
        storage.put(&obj, &chart)?;
        if let Some(sig) = signature {
            storage.put(&format!("{obj}.minisig"), &sig)?;
        }
        Ok::<_, RepoError>(())
    })
    .await;
    match put {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let mut next = s.index.clone();
    next.upsert(IndexEntry::from_metadata(
        &md,
        digest,
        now_rfc3339(),
        url_for(&object, st.base_url.as_deref()),
    ));
    if let Err(e) = commit_index(st, &mut s, next).await {
        return err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    (StatusCode::CREATED, Json(json!({"saved": true}))).into_response()
}

/// `POST /api/prov`: a signature for an already uploaded package; the package is named by
/// the signature's trusted comment (`file:NAME-VERSION.tgz`).
async fn upload_signature(State(st): State<Shared>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return err(StatusCode::BAD_REQUEST, "signature is not text");
    };
    let Some(file) = text
        .lines()
        .find_map(|l| l.strip_prefix("trusted comment: file:"))
        .map(str::trim)
    else {
        return err(
            StatusCode::BAD_REQUEST,
            "signature has no `trusted comment: file:NAME` line",
        );
    };
    if !file.ends_with(".tgz") || !safe_name(file) {
        return err(
            StatusCode::BAD_REQUEST,
            format!("signature names an invalid file {file:?}"),
        );
    }
    let _guard = st.served.lock().await;
    let storage = st.storage.clone();
    let (f, b) = (file.to_string(), body.clone());
    let r = tokio::task::spawn_blocking(move || {
        if storage.get(&f)?.is_none() {
            return Ok(false);
        }
        storage.put(&format!("{f}.minisig"), &b)?;
        Ok::<_, RepoError>(true)
    })
    .await;
    match r {
        Ok(Ok(true)) => (StatusCode::CREATED, Json(json!({"saved": true}))).into_response(),
        Ok(Ok(false)) => err(StatusCode::NOT_FOUND, format!("{file}: no such package")),
        Ok(Err(e)) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn load_tls(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    super::http::install_crypto_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect())
        .map_err(|e| RepoError::Invalid(format!("{}: bad certificate PEM: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(RepoError::Invalid(format!(
            "{}: no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| RepoError::Invalid(format!("{}: bad private key PEM: {e}", key.display())))?;
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| RepoError::Invalid(format!("TLS setup: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Prepares storage, index and TLS (everything that can fail before listening).
pub fn prepare(
    opts: &ServeOptions,
) -> Result<(Router, Option<tokio_rustls::TlsAcceptor>, Vec<String>)> {
    if !opts.dir.is_dir() {
        return Err(RepoError::Invalid(format!(
            "{} is not a folder",
            opts.dir.display()
        )));
    }
    if let Some(u) = &opts.base_url {
        super::http::parse_url(u)?;
    }
    let storage: Arc<dyn Storage> = Arc::new(LocalStorage::new(&opts.dir)?);
    let (idx, warnings) = initial_index(storage.as_ref(), opts.base_url.as_deref())?;
    // Persist the reconciled index so static copies of DIR are complete too.
    storage.put("index.yaml", idx.to_yaml().as_bytes())?;
    let tls = opts.tls.as_ref().map(|(c, k)| load_tls(c, k)).transpose()?;
    Ok((router(storage, idx, opts), tls, warnings))
}

/// Serves on an already bound listener until `shutdown` resolves.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let Some(acceptor) = tls else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| RepoError::io("serving", e));
    };
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // A failed handshake only affects that client.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
        });
    }
}

/// A server on a background thread (tests, benchmarks). Dropping it stops the server.
pub struct ServerHandle {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a server for `opts` on its own thread; `opts.addr` may use port 0.
pub fn spawn(opts: &ServeOptions) -> Result<ServerHandle> {
    let (app, tls, _warnings) = prepare(opts)?;
    let std_listener = std::net::TcpListener::bind(&opts.addr)
        .map_err(|e| RepoError::io(format!("binding {}", opts.addr), e))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| RepoError::io("configuring the listener", e))?;
    let addr = std_listener
        .local_addr()
        .map_err(|e| RepoError::io("reading the bound address", e))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            let _ = run(listener, app, tls, async {
                let _ = rx.await;
            })
            .await;
        });
    });
    Ok(ServerHandle {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    })
}

fn too_large() -> Response {
    err(
        StatusCode::PAYLOAD_TOO_LARGE,
        "upload is larger than --max-upload-size",
    )
}
