//! The request budget of an install: at most one request per object plus 10, measured on a
//! 200-object chart (5 kinds in 2 API groups) through the simulator's request log.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cluster::{connect, quiet, start_sim};
use kube_sim::Config;
use stackpkg::action::install::{install, InstallRequest};
use stackpkg::action::revision::ApplySettings;
use stackpkg::release::lock::LockOptions;
use stackpkg::release::{SecretsDriver, Status};
use stackpkg::values::ValueOptions;

/// `copies` × (ServiceAccount, ConfigMap, Secret, Service, Deployment).
pub fn write_wide_chart(dir: &Path, copies: usize) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: wide\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), format!("copies: {copies}\n")).unwrap();
    std::fs::write(
        dir.join("templates/all.yaml"),
        r#"{% for i in range(values.copies) %}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ release.name }}-sa-{{ i }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-cm-{{ i }}
data:
  index: "{{ i }}"
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ release.name }}-secret-{{ i }}
stringData:
  token: "t{{ i }}"
---
apiVersion: v1
kind: Service
metadata:
  name: {{ release.name }}-svc-{{ i }}
spec:
  selector: {app: "{{ release.name }}-{{ i }}"}
  ports:
    - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ release.name }}-deploy-{{ i }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: "{{ release.name }}-{{ i }}"}
  template:
    metadata:
      labels: {app: "{{ release.name }}-{{ i }}"}
    spec:
      containers:
        - name: app
          image: app:1
{% endfor %}
"#,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_of_200_objects_costs_at_most_objects_plus_10_requests() {
    let (sim, dir, kc) = start_sim(Config::default()).await;
    write_wide_chart(&dir.path().join("wide"), 40);
    let cluster = connect(kc, Some("perf")).await;
    let driver = SecretsDriver::new(cluster.clone());
    let req = InstallRequest {
        name: "big".into(),
        chart: stackpkg::chart::load(&dir.path().join("wide")).unwrap(),
        values: ValueOptions::default(),
        namespace: "perf".into(),
        create_namespace: true,
        atomic: false,
        take_ownership: false,
        settings: ApplySettings {
            timeout: Duration::from_secs(30),
            ..ApplySettings::new(LockOptions::new(Duration::from_secs(60)))
        },
    };
    let before = sim.requests().len();
    let rel = install(&cluster, &driver, &req, &quiet).await.unwrap();
    assert_eq!(rel.status, Status::Deployed);
    let objects = rel.resources.len();
    assert_eq!(objects, 200);
    let log: Vec<String> = sim.requests()[before..]
        .iter()
        .filter(|r| {
            !(r.verb == "patch" && r.status < 300 && !r.path.contains("/secrets/stackpkg.release"))
        })
        .map(|r| format!("{} {}?{} -> {}", r.verb, r.path, r.query, r.status))
        .collect();
    let used = sim.requests().len() - before;
    eprintln!("install of {objects} objects: {used} API requests");
    assert!(
        used <= objects + 10,
        "{used} requests for {objects} objects; besides the object applies: {log:#?}"
    );
    // Every object was really created, in the namespace.
    let in_ns = sim
        .objects()
        .into_iter()
        .filter(|o| {
            o["metadata"]["namespace"] == "perf"
                && o["metadata"]["annotations"]["meta.stackpkg.io/release-name"] == "big"
        })
        .count();
    assert_eq!(in_ns, 200);
}
