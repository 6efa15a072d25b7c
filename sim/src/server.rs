//! Listener, optional TLS, per-connection HTTP serving and the kubeconfig.

use crate::{api, tls, Config, Shared};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Binds, spawns the accept loop, returns (url, CA PEM).
pub async fn serve(
    shared: Arc<Shared>,
    cfg: &Config,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(String, Option<String>)> {
    let listener = TcpListener::bind(cfg.addr).await?;
    let addr = listener.local_addr()?;
    let tls = if cfg.tls {
        Some(tls::generate()?)
    } else {
        None
    };
    let url = format!(
        "{}://{}",
        if tls.is_some() { "https" } else { "http" },
        addr
    );
    let ca = tls.as_ref().map(|t| t.ca_pem.clone());
    let acceptor = tls
        .as_ref()
        .map(|t| tokio_rustls::TlsAcceptor::from(t.config.clone()));
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                c = listener.accept() => c,
                _ = stop.changed() => break,
            };
            let Ok((stream, _)) = conn else { continue };
            let _ = stream.set_nodelay(true);
            let shared = shared.clone();
            let acceptor = acceptor.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(stream).await {
                            serve_conn(shared, TokioIo::new(s), stop).await
                        }
                    }
                    None => serve_conn(shared, TokioIo::new(stream), stop).await,
                }
            });
        }
    });
    Ok((url, ca))
}

/// Why a connection was cut on purpose (fault injection).
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}
impl std::error::Error for Dropped {}

async fn serve_conn<IO>(shared: Arc<Shared>, io: TokioIo<IO>, mut stop: watch::Receiver<bool>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let shared = shared.clone();
        async move {
            match api::handle(shared, req.map(axum::body::Body::new)).await {
                Some(resp) => Ok(resp),
                None => Err(Dropped),
            }
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {}
    }
}

/// A kubeconfig with one cluster/user/context named `sim`.
pub fn kubeconfig(url: &str, ca_pem: Option<&str>) -> String {
    use base64::Engine;
    let cluster = match ca_pem {
        Some(pem) => format!(
            "    certificate-authority-data: {}\n",
            base64::engine::general_purpose::STANDARD.encode(pem)
        ),
        None => String::new(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {url}\n{cluster}users:\n- name: sim\n  user:\n    token: sim-token\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n    namespace: default\ncurrent-context: sim\npreferences: {{}}\n"
    )
}
