//! Simulator set-up shared by the release and lifecycle tests: a simulator with its
//! kubeconfig in a fresh temporary folder (which also holds the test's charts), a client
//! connected to it, the binary run against it, and requests with the tests' defaults.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use kube_sim::{BlockingSimulator, Config, Simulator};
use serde_json::Value;
use stackpkg::action::install::{install, InstallRequest};
use stackpkg::action::revision::ApplySettings;
use stackpkg::action::upgrade::{UpgradeRequest, ValuesMode};
use stackpkg::kube::{Cluster, ConnectOptions, KubeCluster};
use stackpkg::release::lock::LockOptions;
use stackpkg::release::{Release, SecretsDriver};
use stackpkg::values::ValueOptions;

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The binary against `kubeconfig`, with the default storage whatever the caller's
/// environment says.
pub fn stackpkg_cmd(kubeconfig: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stackpkg"));
    c.env("KUBECONFIG", kubeconfig)
        .env_remove("STACKPKG_STORAGE");
    c
}

pub fn stackpkg(kubeconfig: &Path, args: &[&str]) -> Output {
    stackpkg_cmd(kubeconfig)
        .args(args)
        .output()
        .expect("binary runs")
}

/// A simulator for the binary; returns it, the temporary folder and the kubeconfig in it.
pub fn start_blocking(config: Config) -> (BlockingSimulator, tempfile::TempDir, PathBuf) {
    let sim = BlockingSimulator::start(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    (sim, dir, kc)
}

/// [`start_blocking`] for tests that run on tokio.
pub async fn start_sim(config: Config) -> (Simulator, tempfile::TempDir, PathBuf) {
    let sim = Simulator::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    (sim, dir, kc)
}

/// stackpkg's own client; `namespace` overrides the kubeconfig's.
pub async fn connect(kubeconfig: PathBuf, namespace: Option<&str>) -> Arc<dyn Cluster> {
    Arc::new(
        KubeCluster::connect(&ConnectOptions {
            kubeconfig: Some(kubeconfig),
            context: None,
            namespace: namespace.map(Into::into),
        })
        .await
        .unwrap(),
    )
}

/// A default simulator and a client connected to it.
pub async fn connected() -> (Simulator, Arc<dyn Cluster>, tempfile::TempDir) {
    let (sim, dir, kc) = start_sim(Config::default()).await;
    (sim, connect(kc, None).await, dir)
}

/// The simulator's requests from index `before` on, as `verb path`.
pub fn requests_since(sim: &Simulator, before: usize) -> Vec<String> {
    sim.requests()[before..]
        .iter()
        .map(|r| format!("{} {}", r.verb, r.path))
        .collect()
}

/// Text gzip cannot shrink much: xorshift from `seed` over a base64-like alphabet.
pub fn noise(len: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % 64) as usize] as char
        })
        .collect()
}

/// Progress output nobody reads.
pub fn quiet(_: &str) {}

pub fn lock() -> LockOptions {
    LockOptions::new(Duration::from_secs(30))
}

/// The CLI's settings with a short timeout.
pub fn settings() -> ApplySettings {
    ApplySettings {
        timeout: Duration::from_secs(10),
        ..ApplySettings::new(lock())
    }
}

/// `--set` for each of `set`.
pub fn values(set: &[&str]) -> ValueOptions {
    ValueOptions {
        set: set.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// The release actions' test bench: everything happens in namespace `apps`, and the chart
/// is `chart/` in `dir`. Test files add their own methods in `impl Env` blocks.
pub struct Env {
    pub sim: Simulator,
    pub cluster: Arc<dyn Cluster>,
    pub driver: SecretsDriver,
    pub dir: tempfile::TempDir,
    /// What every request made here carries.
    pub settings: ApplySettings,
}

impl Env {
    /// A simulator, a client with `apps` as its namespace, and `chart` (path → content)
    /// written to `chart/`.
    pub async fn with_chart(config: Config, chart: &[(&str, &str)]) -> Env {
        let (sim, dir, kc) = start_sim(config).await;
        super::write_tree(&dir.path().join("chart"), chart);
        let cluster = connect(kc, Some("apps")).await;
        let driver = SecretsDriver::new(cluster.clone());
        Env {
            sim,
            cluster,
            driver,
            dir,
            settings: settings(),
        }
    }

    pub fn chart(&self) -> stackpkg::chart::Chart {
        stackpkg::chart::load(&self.dir.path().join("chart")).unwrap()
    }

    pub fn install_req(&self, name: &str, set: &[&str]) -> InstallRequest {
        InstallRequest {
            name: name.into(),
            chart: self.chart(),
            values: values(set),
            namespace: "apps".into(),
            create_namespace: true,
            atomic: false,
            take_ownership: false,
            settings: self.settings.clone(),
        }
    }

    pub fn upgrade_req(&self, name: &str, set: &[&str]) -> UpgradeRequest {
        UpgradeRequest {
            name: name.into(),
            chart: self.chart(),
            values: values(set),
            values_mode: ValuesMode::Default,
            namespace: "apps".into(),
            install: false,
            create_namespace: false,
            force: false,
            atomic: false,
            take_ownership: false,
            settings: self.settings.clone(),
        }
    }

    /// Installs `name` with `set` as a test's starting point; an error fails the test.
    pub async fn install_ok(&self, name: &str, set: &[&str]) -> Release {
        install(
            &self.cluster,
            &self.driver,
            &self.install_req(name, set),
            &quiet,
        )
        .await
        .unwrap()
    }

    /// The object of `kind` named `name` in `apps`.
    pub fn find(&self, kind: &str, name: &str) -> Option<Value> {
        self.sim.objects().into_iter().find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == "apps"
        })
    }

    /// The names of the objects of `kind` in `apps`.
    pub fn names(&self, kind: &str) -> Vec<String> {
        self.sim
            .objects()
            .into_iter()
            .filter(|o| o["kind"] == kind && o["metadata"]["namespace"] == "apps")
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    }
}
