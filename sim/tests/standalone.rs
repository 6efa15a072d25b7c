//! The standalone entry (`--example kube-sim`): kubeconfig, `ready <url>`, both modes.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The example binary that `cargo test --workspace` builds alongside the tests.
fn example() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/examples/kube-sim");
    if bin.is_file() {
        return Some(bin);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} missing: build it with `cargo build --example kube-sim`",
            bin.display()
        );
    }
    eprintln!(
        "skipping: {} not built (cargo build --example kube-sim)",
        bin.display()
    );
    None
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn check(tls: bool) {
    let Some(bin) = example() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc.yaml");
    let mut cmd = Command::new(bin);
    cmd.arg("--kubeconfig")
        .arg(&kc)
        .args(["--addr", "127.0.0.1:0"]);
    if tls {
        cmd.arg("--tls");
    }
    let mut child = Child(cmd.stdout(Stdio::piped()).spawn().unwrap());
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("bad first line {line:?}"))
        .to_string();
    assert!(
        url.starts_with(if tls {
            "https://127.0.0.1:"
        } else {
            "http://127.0.0.1:"
        }),
        "{url}"
    );
    let text = std::fs::read_to_string(&kc).unwrap();
    assert!(text.contains(&url));
    assert_eq!(text.contains("certificate-authority-data"), tls);
    let cfg = kube::Config::from_custom_kubeconfig(
        Kubeconfig::from_yaml(&text).unwrap(),
        &KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let nss: Api<Namespace> = Api::all(client);
    let names: Vec<String> = nss
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.metadata.name.unwrap())
        .collect();
    assert!(names.contains(&"default".to_string()), "{names:?}");
}

#[tokio::test]
async fn standalone_plain_http() {
    check(false).await;
}

#[tokio::test]
async fn standalone_tls() {
    check(true).await;
}

#[test]
fn standalone_usage_errors_exit_2() {
    let Some(bin) = example() else { return };
    for args in [
        &[][..],
        &["--kubeconfig"][..],
        &["--kubeconfig", "x", "--addr", "nope"][..],
        &["--bogus"][..],
    ] {
        let out = Command::new(&bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("kube-sim:"),
            "{args:?}"
        );
    }
    let out = Command::new(&bin)
        .args(["--kubeconfig", "/nonexistent-dir/kc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-dir/kc"));
}
