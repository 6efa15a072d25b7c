//! The real kubectl against the simulator (TLS mode): get/create/apply (client- and
//! server-side)/wait/exec/delete, with effects checked through the API.

mod common;

use kube_sim::{BlockingSimulator, Config, ExecRule};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

struct Kubectl<'a> {
    bin: std::path::PathBuf,
    kubeconfig: std::path::PathBuf,
    home: &'a Path,
}

impl Kubectl<'_> {
    fn run(&self, args: &[&str], stdin_file: Option<&Path>) -> (i32, String, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home)
            .env_remove("KUBERNETES_SERVICE_HOST");
        if let Some(f) = stdin_file {
            cmd.stdin(std::fs::File::open(f).unwrap());
        }
        let out = cmd.output().expect("kubectl runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args, None);
        assert_eq!(code, 0, "kubectl {args:?} failed: {err}\n{out}");
        out
    }
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:IMAGE
        ports: [{containerPort: 80}]
        env: [{name: MODE, value: "a"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
"#;

fn object<'a>(objs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

#[test]
fn kubectl_works_against_the_simulator() {
    let Some(tools) = common::tools() else { return };
    let sim = BlockingSimulator::start(Config {
        tls: true,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let k = Kubectl {
        bin: tools.join("kubectl"),
        kubeconfig,
        home: dir.path(),
    };
    let manifest = dir.path().join("app.yaml");
    std::fs::write(&manifest, DEPLOYMENT.replace("IMAGE", "1.25")).unwrap();
    let m = manifest.to_str().unwrap();

    let out = k.ok(&["get", "namespaces", "-o", "name"]);
    assert!(out.contains("namespace/default"), "{out}");
    let out = k.ok(&["version", "-o", "json"]);
    assert!(out.contains("\"minor\": \"34\""), "{out}");

    // create
    let out = k.ok(&["create", "-f", m]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let (code, _, err) = k.run(&["create", "-f", m], None);
    assert_eq!(code, 1);
    assert!(err.contains("AlreadyExists"), "{err}");

    // wait
    k.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=20s",
    ]);
    let pods = k.ok(&["get", "pods", "-l", "app=web", "-o", "name"]);
    assert_eq!(pods.lines().count(), 2, "{pods}");
    let pod = pods
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("pod/")
        .to_string();
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        &format!("pod/{pod}"),
        "--timeout=20s",
    ]);

    // client-side apply: strategic merge patch against the live object
    std::fs::write(
        &manifest,
        DEPLOYMENT
            .replace("IMAGE", "1.26")
            .replace("\"a\"", "\"b\""),
    )
    .unwrap();
    let out = k.ok(&["apply", "-f", m]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let objs = sim.objects();
    let d = object(&objs, "Deployment", "web").unwrap();
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.26");
    assert_eq!(c["env"][0]["value"], "b");
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
    assert_eq!(d["metadata"]["generation"], 2);

    // server-side apply with its own field manager
    std::fs::write(&manifest, DEPLOYMENT.replace("IMAGE", "1.27")).unwrap();
    let out = k.ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=ops",
        "-f",
        m,
    ]);
    assert!(out.contains("serverside-applied"), "{out}");
    let objs = sim.objects();
    let d = object(&objs, "Deployment", "web").unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    let managers: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"ops"), "{managers:?}");
    // A second manager changing an owned field conflicts.
    std::fs::write(&manifest, DEPLOYMENT.replace("IMAGE", "1.28")).unwrap();
    let (code, _, err) = k.run(
        &["apply", "--server-side", "--field-manager=other", "-f", m],
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("conflict") && err.contains("ops"), "{err}");

    // The rollout replaced the pods; pick a current one.
    k.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let pods = k.ok(&["get", "pods", "-l", "app=web", "-o", "name"]);
    assert_eq!(pods.lines().count(), 2, "{pods}");
    let pod = pods
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("pod/")
        .to_string();
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        &format!("pod/{pod}"),
        "--timeout=20s",
    ]);

    // exec: answers from rules; exit codes come through
    sim.set_exec_rules(vec![
        ExecRule {
            command: Some("^cat /etc/hostname$".into()),
            stdout: Some(format!("{pod}\n")),
            ..Default::default()
        },
        ExecRule {
            command: Some("^false$".into()),
            stderr: Some("nope\n".into()),
            exit_code: Some(4),
            ..Default::default()
        },
    ])
    .unwrap();
    let out = k.ok(&["exec", &pod, "--", "cat", "/etc/hostname"]);
    assert_eq!(out, format!("{pod}\n"));
    let (code, _, err) = k.run(&["exec", &pod, "-c", "nginx", "--", "false"], None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("nope"), "{err}");
    let execs = sim.execs();
    assert_eq!(execs.len(), 2);
    assert_eq!(execs[0].command, ["cat", "/etc/hostname"]);
    assert_eq!(execs[1].exit_code, Some(4));

    // get output formats and selectors
    let out = k.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.status.readyReplicas}",
    ]);
    assert_eq!(out, "2");
    let out = k.ok(&["get", "all"]);
    assert!(
        out.contains("deployment.apps/web") && out.contains("replicaset.apps/web-"),
        "{out}"
    );

    // delete: owner and, through garbage collection, its pods
    k.ok(&["delete", "-f", m, "--wait=true", "--timeout=20s"]);
    k.ok(&[
        "wait",
        "--for=delete",
        &format!("pod/{pod}"),
        "--timeout=20s",
    ]);
    let objs = sim.objects();
    assert!(object(&objs, "Deployment", "web").is_none());
    assert!(object(&objs, "ConfigMap", "settings").is_none());
    assert!(
        !objs.iter().any(|o| o["kind"] == "Pod"),
        "pods were collected"
    );
    let (code, _, err) = k.run(&["get", "deployment", "web"], None);
    assert_eq!(code, 1);
    assert!(err.contains("NotFound"), "{err}");

    // The unknown paths kubectl probed got proper 404 statuses, nothing else failed.
    let unexpected: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.status >= 500 || r.status == 0)
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

#[test]
fn kubectl_applies_crds_and_custom_resources() {
    let Some(tools) = common::tools() else { return };
    let sim = BlockingSimulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let k = Kubectl {
        bin: tools.join("kubectl"),
        kubeconfig,
        home: dir.path(),
    };
    let crd = dir.path().join("crd.yaml");
    std::fs::write(
        &crd,
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusters.data.example.com}
spec:
  group: data.example.com
  scope: Namespaced
  names: {plural: clusters, singular: cluster, kind: Cluster, shortNames: [dc]}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#,
    )
    .unwrap();
    k.ok(&["apply", "-f", crd.to_str().unwrap()]);
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/clusters.data.example.com",
        "--timeout=10s",
    ]);
    let cr = dir.path().join("cr.yaml");
    for size in [3, 5] {
        std::fs::write(&cr, format!("apiVersion: data.example.com/v1\nkind: Cluster\nmetadata: {{name: c1}}\nspec: {{size: {size}}}\n")).unwrap();
        k.ok(&["apply", "-f", cr.to_str().unwrap()]);
    }
    let out = k.ok(&["get", "dc", "c1", "-o", "jsonpath={.spec.size}"]);
    assert_eq!(out, "5");
    k.ok(&["delete", "cluster", "c1"]);
    assert!(!sim.objects().iter().any(|o| o["kind"] == "Cluster"));
}
