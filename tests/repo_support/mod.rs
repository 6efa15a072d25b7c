//! Shared helpers for the repository tests: running the binary with private config and
//! cache folders, building packages, and a scriptable static HTTP server.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stackpkg"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("STACKPKG_CONFIG_HOME", self.path("config"))
            .env("STACKPKG_CACHE_HOME", self.path("cache"))
            .stdin(Stdio::null());
        c
    }
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "stackpkg {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    /// Runs and asserts exit code 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "stackpkg {args:?} should fail: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    }
    pub fn with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut c = self.cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

/// A chart package with a Chart.yaml (plus `extra` files) built in memory.
pub fn package(name: &str, version: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let chart_yaml = format!(
        "apiVersion: v2\nname: {name}\nversion: {version}\ndescription: The {name} chart\nkeywords: [data]\n"
    );
    let mut files: Vec<(String, String)> = vec![(format!("{name}/Chart.yaml"), chart_yaml)];
    files.push((format!("{name}/values.yaml"), "replicas: 1\n".into()));
    for (p, c) in extra {
        files.push((format!("{name}/{p}"), c.to_string()));
    }
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (p, c) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(c.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, p, c.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

pub fn write_package(dir: &Path, name: &str, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(format!("{name}-{version}.tgz"));
    std::fs::write(&p, package(name, version, &[])).unwrap();
    p
}

/// What the static server answers for a path.
#[derive(Clone)]
pub enum Reply {
    Bytes(Vec<u8>),
    Redirect(String),
    /// Announces the full length but sends only the first half, then drops the connection.
    Truncated(Vec<u8>),
    Status(u16),
}

#[derive(Default)]
pub struct StaticState {
    pub routes: HashMap<String, Reply>,
    /// (path, Authorization header) of every request.
    pub seen: Vec<(String, Option<String>)>,
    /// Basic-auth value required, if any (e.g. "Basic dTpw").
    pub require_auth: Option<String>,
}

pub struct StaticServer {
    pub state: Arc<Mutex<StaticState>>,
    pub addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl StaticServer {
    pub fn start(bind: &str) -> Self {
        let state = Arc::new(Mutex::new(StaticState::default()));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let l = std::net::TcpListener::bind(bind).unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                let _ = axum::serve(l, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        StaticServer {
            state,
            addr,
            _stop: tx,
        }
    }
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn set(&self, path: &str, r: Reply) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), r);
    }
    pub fn seen(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().seen.clone()
    }
}

async fn handle(State(st): State<Arc<Mutex<StaticState>>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (reply, required) = {
        let mut s = st.lock().unwrap();
        s.seen.push((path.clone(), auth.clone()));
        (s.routes.get(&path).cloned(), s.require_auth.clone())
    };
    if let Some(req_auth) = required {
        if auth.as_deref() != Some(req_auth.as_str()) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    match reply {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Reply::Bytes(b)) => b.into_response(),
        Some(Reply::Status(s)) => StatusCode::from_u16(s).unwrap().into_response(),
        Some(Reply::Redirect(to)) => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, to)
            .body(Body::empty())
            .unwrap(),
        Some(Reply::Truncated(b)) => {
            let half = b[..b.len() / 2].to_vec();
            let stream = futures_stream(half);
            Response::builder()
                .header(header::CONTENT_LENGTH, b.len())
                .body(Body::from_stream(stream))
                .unwrap()
        }
    }
}

fn futures_stream(
    half: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send {
    struct S(Option<Vec<u8>>, bool);
    impl futures_core::Stream for S {
        type Item = Result<axum::body::Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            if let Some(b) = self.0.take() {
                return std::task::Poll::Ready(Some(Ok(b.into())));
            }
            if !self.1 {
                self.1 = true;
                return std::task::Poll::Ready(Some(Err(std::io::Error::other("cut"))));
            }
            std::task::Poll::Ready(None)
        }
    }
    S(Some(half), false)
}

/// An index.yaml for packages served at `base` (name, version, bytes).
pub fn index_for(pkgs: &[(&str, &str, &[u8])]) -> String {
    let mut s = String::from("apiVersion: v1\nentries:\n");
    let mut names: Vec<&str> = pkgs.iter().map(|p| p.0).collect();
    names.sort();
    names.dedup();
    for n in names {
        s.push_str(&format!("  {n}:\n"));
        for (pn, v, b) in pkgs.iter().filter(|p| p.0 == n) {
            use sha2::Digest;
            let d = hex::encode(sha2::Sha256::digest(b));
            s.push_str(&format!(
                "  - name: {pn}\n    version: {v}\n    apiVersion: v2\n    description: The {pn} chart\n    urls: [{pn}-{v}.tgz]\n    digest: {d}\n"
            ));
        }
    }
    s
}
