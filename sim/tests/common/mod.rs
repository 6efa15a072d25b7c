//! Shared helpers for the simulator's integration tests.
#![allow(dead_code)]

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;
use kube_sim::{Config, Simulator};
use serde_json::Value;
use std::time::Duration;

pub async fn start() -> (Simulator, Client) {
    start_with(Config::default()).await
}

pub async fn start_with(cfg: Config) -> (Simulator, Client) {
    let sim = Simulator::start(cfg).await.expect("simulator starts");
    let client = client_for(&sim).await;
    (sim, client)
}

pub async fn client_for(sim: &Simulator) -> Client {
    Client::try_from(config_for(sim).await).expect("client")
}

pub async fn config_for(sim: &Simulator) -> kube::Config {
    let kc = Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).expect("kubeconfig parses");
    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kube config")
}

/// A client without kube-rs's built-in retry of 429/503/504, to see raw faults.
pub async fn client_without_retry(sim: &Simulator) -> Client {
    let mut cfg = config_for(sim).await;
    cfg.default_retry = false;
    Client::try_from(cfg).expect("client")
}

/// Raw request through the kube client; returns (status, body).
pub async fn raw(client: &Client, method: &str, path: &str, ct: &str, body: &str) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ct)
        .body(body.as_bytes().to_vec())
        .expect("request");
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    use http_body_util::BodyExt;
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

/// Polls `f` until it returns Some or the deadline passes.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Directory of the peer tools (kubectl, helm), or None when they are not installed.
/// With CI set, missing tools are a failure.
pub fn tools() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin");
    if dir.join("kubectl").is_file() && dir.join("helm").is_file() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "kubectl/helm missing in {}: run scripts/install-tools.sh",
            dir.display()
        );
    }
    eprintln!(
        "skipping: kubectl/helm not installed in {} (run scripts/install-tools.sh)",
        dir.display()
    );
    None
}
