//! A Kubernetes API server simulator for stackpkg's tests. Test-only: never linked into
//! the `stackpkg` binary.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = kube_sim::Simulator::start(kube_sim::Config::default()).await?;
//! sim.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?;
//! println!("{}", sim.url());
//! # Ok(()) }
//! ```

mod api;
mod controllers;
mod discovery;
pub mod exec;
pub mod faults;
mod kinds;
pub mod patch;
pub mod podio;
mod protobuf;
pub mod registry;
pub mod selectors;
mod server;
pub mod store;
mod tls;
pub mod util;

pub use exec::{ExecRecord, ExecRule};
pub use faults::FaultRule;
pub use podio::{LogRule, ProxyRecord, ProxyRule};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Controller timing knobs (milliseconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// From pod creation to Running and Ready.
    pub pod_ready_ms: u64,
    /// From a Job pod becoming Running to it finishing.
    pub job_run_ms: u64,
    /// From PVC creation to Bound.
    pub pvc_bind_ms: u64,
    /// Interval between watch bookmarks (when the client allows them).
    pub bookmark_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            pod_ready_ms: 50,
            job_run_ms: 100,
            pvc_bind_ms: 10,
            bookmark_ms: 1000,
        }
    }
}

/// Pods carrying this annotation (directly or from their template) stay unready.
pub const UNREADY_ANNOTATION: &str = "sim.stackpkg.io/unready";
/// Job pods carrying this annotation fail instead of completing.
pub const FAIL_ANNOTATION: &str = "sim.stackpkg.io/fail";

/// Simulator settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub tls: bool,
    pub timing: Timing,
    /// Simulated nodes (for DaemonSets and pod placement).
    pub nodes: usize,
    /// Seed of the fault-injection random source.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            timing: Timing::default(),
            nodes: 1,
            seed: 1,
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub verb: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub time: String,
}

/// Mutable simulator state besides the object store.
pub(crate) struct SimState {
    pub requests: Vec<RequestRecord>,
    pub execs: Vec<ExecRecord>,
    pub faults: faults::Faults,
    pub exec_rules: Vec<exec::CompiledRule>,
    pub log_rules: Vec<podio::CompiledLogRule>,
    pub proxy_rules: Vec<podio::CompiledProxyRule>,
    pub proxies: Vec<ProxyRecord>,
    pub timing: Timing,
}

pub(crate) struct Shared {
    pub store: Mutex<store::Store>,
    pub sim: Mutex<SimState>,
    /// Wakes the controllers after every write.
    pub notify: Notify,
    pub nodes: usize,
    pub seed: u64,
}

impl Shared {
    fn new(cfg: &Config) -> Self {
        Shared {
            store: Mutex::new(store::Store::default()),
            sim: Mutex::new(SimState {
                requests: Vec::new(),
                execs: Vec::new(),
                faults: faults::Faults::new(cfg.seed),
                exec_rules: Vec::new(),
                log_rules: Vec::new(),
                proxy_rules: Vec::new(),
                proxies: Vec::new(),
                timing: cfg.timing.clone(),
            }),
            notify: Notify::new(),
            nodes: cfg.nodes.max(1),
            seed: cfg.seed,
        }
    }

    /// The cluster's baseline: `default`, `kube-system`, `kube-public` and the nodes.
    pub fn bootstrap(&self) {
        let mut st = self.store.lock().expect("store lock");
        st.clear();
        let o = store::WriteOpts::default();
        let ns = st
            .registry
            .find("", "v1", "namespaces")
            .cloned()
            .expect("builtin");
        for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let _ = st.create(&ns, "", serde_json::json!({"metadata": {"name": n}}), &o);
        }
        let node = st
            .registry
            .find("", "v1", "nodes")
            .cloned()
            .expect("builtin");
        for i in 1..=self.nodes {
            let name = format!("sim-node-{i}");
            let _ = st.create(
                &node,
                "",
                serde_json::json!({
                    "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]}
                }),
                &o,
            );
        }
        drop(st);
        self.notify.notify_one();
    }

    pub fn reset(&self) {
        {
            let mut s = self.sim.lock().expect("sim lock");
            s.requests.clear();
            s.execs.clear();
            s.faults = faults::Faults::new(self.seed);
            s.exec_rules.clear();
            s.log_rules.clear();
            s.proxy_rules.clear();
            s.proxies.clear();
        }
        self.bootstrap();
    }
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    shared: Arc<Shared>,
    url: String,
    ca_pem: Option<String>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
}

impl Simulator {
    /// Starts serving on `cfg.addr` (a random loopback port by default).
    pub async fn start(cfg: Config) -> std::io::Result<Simulator> {
        let shared = Arc::new(Shared::new(&cfg));
        shared.bootstrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let (url, ca_pem) = server::serve(shared.clone(), &cfg, rx.clone()).await?;
        tokio::spawn(controllers::run(shared.clone(), rx));
        Ok(Simulator {
            shared,
            url,
            ca_pem,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:PORT` or `https://…`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// PEM of the generated CA (TLS mode only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A kubeconfig for this server (context `sim`, namespace `default`).
    pub fn kubeconfig_yaml(&self) -> String {
        server::kubeconfig(&self.url, self.ca_pem.as_deref())
    }

    /// Writes the kubeconfig atomically (temp file + rename).
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        let tmp = match dir {
            Some(d) => d.join(format!(
                ".{}.tmp{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("kubeconfig"),
                std::process::id()
            )),
            None => Path::new(&format!(".kubeconfig.tmp{}", std::process::id())).to_path_buf(),
        };
        std::fs::write(&tmp, self.kubeconfig_yaml())?;
        std::fs::rename(&tmp, path)
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.sim.lock().expect("sim lock").requests.clone()
    }

    pub fn execs(&self) -> Vec<ExecRecord> {
        self.shared.sim.lock().expect("sim lock").execs.clone()
    }

    pub fn objects(&self) -> Vec<Value> {
        self.shared.store.lock().expect("store lock").snapshot()
    }

    /// Replaces the fault rules (`vec![]` clears them).
    pub fn set_faults(&self, rules: Vec<FaultRule>) -> Result<(), String> {
        self.shared.sim.lock().expect("sim lock").faults.set(rules)
    }

    /// Replaces the exec rules; regexes are checked here.
    pub fn set_exec_rules(&self, rules: Vec<ExecRule>) -> Result<(), String> {
        let compiled = exec::compile(rules)?;
        self.shared.sim.lock().expect("sim lock").exec_rules = compiled;
        Ok(())
    }

    /// Replaces the pod log rules; regexes are checked here.
    pub fn set_log_rules(&self, rules: Vec<LogRule>) -> Result<(), String> {
        let compiled = podio::compile_logs(rules)?;
        self.shared.sim.lock().expect("sim lock").log_rules = compiled;
        Ok(())
    }

    /// Replaces the pod proxy rules; regexes and statuses are checked here.
    pub fn set_proxy_rules(&self, rules: Vec<ProxyRule>) -> Result<(), String> {
        let compiled = podio::compile_proxy(rules)?;
        self.shared.sim.lock().expect("sim lock").proxy_rules = compiled;
        Ok(())
    }

    /// Proxied pod requests in arrival order.
    pub fn proxies(&self) -> Vec<ProxyRecord> {
        self.shared.sim.lock().expect("sim lock").proxies.clone()
    }

    /// Watch streams currently open (each holds one event subscription).
    pub fn active_watches(&self) -> usize {
        self.shared
            .store
            .lock()
            .expect("store lock")
            .tx
            .receiver_count()
    }

    /// The active fault rules.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.sim.lock().expect("sim lock").faults.rules()
    }

    pub fn set_timing(&self, timing: Timing) {
        self.shared.sim.lock().expect("sim lock").timing = timing;
        self.shared.notify.notify_one();
    }

    /// Clears objects (back to the bootstrap namespaces and nodes), logs, faults and rules.
    pub fn reset(&self) {
        self.shared.reset();
    }

    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A simulator on its own runtime thread, for plain `#[test]`s that spawn binaries.
pub struct BlockingSimulator {
    sim: Option<Simulator>,
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl BlockingSimulator {
    pub fn start(cfg: Config) -> std::io::Result<BlockingSimulator> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kube-sim".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let r = Simulator::start(cfg).await;
                    let _ = tx.send(r);
                    let _ = stop_rx.await;
                });
            })?;
        let sim = rx
            .recv()
            .map_err(|_| std::io::Error::other("simulator thread ended early"))??;
        Ok(BlockingSimulator {
            sim: Some(sim),
            thread: Some(thread),
            stop: Some(stop_tx),
        })
    }
}

impl std::ops::Deref for BlockingSimulator {
    type Target = Simulator;
    fn deref(&self) -> &Simulator {
        self.sim.as_ref().expect("present until drop")
    }
}

impl Drop for BlockingSimulator {
    fn drop(&mut self) {
        drop(self.sim.take());
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
