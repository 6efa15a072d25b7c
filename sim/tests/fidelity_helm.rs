//! The real helm against the simulator: install --wait, list, upgrade, rollback, uninstall
//! of a `helm create` chart, with effects checked through the API.

mod common;

use kube_sim::{BlockingSimulator, Config};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn helm(bin: &Path, home: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn deployment(objs: &[Value]) -> Option<Value> {
    objs.iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "demo-app")
        .cloned()
}

fn release_secrets(objs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = objs
        .iter()
        .filter(|o| o["kind"] == "Secret" && o["metadata"]["labels"]["owner"] == "helm")
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn helm_lifecycle_against_the_simulator() {
    let Some(tools) = common::tools() else { return };
    let sim = BlockingSimulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let kc = home.join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let bin = tools.join("helm");
    let h = |args: &[&str]| helm(&bin, home, &kc, args);
    h(&["create", home.join("app").to_str().unwrap()]);
    let chart = home.join("app");
    let chart = chart.to_str().unwrap();

    // install --wait: returns only once the Deployment reports ready.
    let out = h(&["install", "demo", chart, "--wait", "--timeout", "60s"]);
    assert!(out.contains("STATUS: deployed"), "{out}");
    let objs = sim.objects();
    let d = deployment(&objs).expect("deployment created");
    assert_eq!(d["status"]["readyReplicas"], 1);
    assert!(objs
        .iter()
        .any(|o| o["kind"] == "Service" && o["metadata"]["name"] == "demo-app"));
    assert!(objs
        .iter()
        .any(|o| o["kind"] == "ServiceAccount" && o["metadata"]["name"] == "demo-app"));
    assert_eq!(release_secrets(&objs), ["sh.helm.release.v1.demo.v1"]);

    let out = h(&["list", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["status"], "deployed");

    // upgrade changes the live object.
    h(&[
        "upgrade",
        "demo",
        chart,
        "--set",
        "replicaCount=3",
        "--wait",
        "--timeout",
        "60s",
    ]);
    let d = deployment(&sim.objects()).unwrap();
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["status"]["readyReplicas"], 3);

    // rollback to revision 1 restores it.
    h(&["rollback", "demo", "1", "--wait", "--timeout", "60s"]);
    let objs = sim.objects();
    let d = deployment(&objs).unwrap();
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(release_secrets(&objs).len(), 3);
    let out = h(&["history", "demo", "-o", "json"]);
    let hist: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hist.as_array().unwrap().len(), 3);
    assert_eq!(hist[2]["status"], "deployed");

    // uninstall removes the resources and the release records.
    h(&["uninstall", "demo", "--wait", "--timeout", "60s"]);
    let objs = sim.objects();
    assert!(deployment(&objs).is_none());
    assert!(release_secrets(&objs).is_empty());
    assert!(
        !objs.iter().any(|o| o["kind"] == "Pod"),
        "pods were collected"
    );
    let out = h(&["list", "-o", "json"]);
    assert_eq!(out.trim(), "[]");

    let failures: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.status >= 500 || r.status == 0)
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}
