//! The first-party stacks (and Cassandra and Kafka alone) as a user runs them: the `stackpkg`
//! binary installs each with `--wait` into the simulator, upgrades it with a scale-out and a
//! scale-in, and uninstalls it. PVCs survive the uninstall; a second release of the same name
//! in another namespace shares nothing with the first (no cluster-scoped name, no Service, no
//! address pointing into the other namespace).
//!
//! The lifecycle-order tests at the end (decommission/drain/rollout order read from the
//! simulator's exec log) need the lifecycle engine, which is on another branch; they are
//! ignored until it merges.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::cluster::{stackpkg, start_blocking, text};
use kube_sim::{BlockingSimulator, Config, Timing};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const RELEASE_NAME: &str = "meta.stackpkg.io/release-name";
const RELEASE_NAMESPACE: &str = "meta.stackpkg.io/release-namespace";

struct Lab {
    sim: BlockingSimulator,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Lab {
    /// A simulator whose controllers are (nearly) instant.
    fn start() -> Lab {
        let (sim, dir, kubeconfig) = start_blocking(Config {
            nodes: 3,
            timing: Timing {
                pod_ready_ms: 1,
                job_run_ms: 1,
                pvc_bind_ms: 1,
                bookmark_ms: 1000,
            },
            ..Default::default()
        });
        // Elasticsearch's scale-down gate asks the cluster health through the pod proxy;
        // a healthy cluster answers 200 (with no rule the simulator answers 503).
        sim.set_proxy_rules(vec![kube_sim::ProxyRule {
            pod: None,
            port: None,
            path: Some("^/_cluster/health".into()),
            status: 200,
            body: Some(r#"{"status":"green","relocating_shards":0}"#.into()),
            times: None,
        }])
        .expect("proxy rules");
        Lab {
            sim,
            kubeconfig,
            _dir: dir,
        }
    }

    /// Runs the binary; a failure fails the test with its stderr.
    fn run(&self, args: &[&str]) -> String {
        let out = stackpkg(&self.kubeconfig, args);
        assert!(
            out.status.success(),
            "stackpkg {}\n{}",
            args.join(" "),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn objects(&self) -> Vec<Value> {
        self.sim.objects()
    }

    fn in_namespace(&self, kind: &str, ns: &str) -> Vec<Value> {
        self.objects()
            .into_iter()
            .filter(|o| o["kind"] == kind && o["metadata"]["namespace"] == ns)
            .collect()
    }

    fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        self.in_namespace(kind, ns)
            .into_iter()
            .find(|o| o["metadata"]["name"] == name)
    }
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or("")
}

/// One scaled workload of a case: its kind and name (under release `lab`), and the value path
/// that sets its size.
struct Scaled {
    kind: &'static str,
    name: &'static str,
    value: &'static str,
    sizes: [u64; 3],
}

struct Case {
    chart: &'static str,
    /// Extra `--set` for every install and upgrade.
    set: &'static [&'static str],
    scaled: &'static [Scaled],
    /// StatefulSets whose PVCs (`data-<name>-N`) must survive the uninstall.
    keeps_data_of: &'static [&'static str],
}

/// `tests.enabled=false` for the chart and each of its dependencies: test hooks belong to
/// `stackpkg test`; until hooks are implemented an install would apply them as plain pods, and
/// a finished test pod never becomes Ready for `--wait`.
fn no_test_hooks(chart: &str) -> Vec<String> {
    let meta: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("charts").join(chart).join("Chart.yaml")).unwrap(),
    )
    .unwrap();
    let mut out = vec!["tests.enabled=false".to_string()];
    for d in meta["dependencies"].as_array().into_iter().flatten() {
        let key = d["alias"].as_str().or(d["name"].as_str()).unwrap();
        if key != "common" {
            out.push(format!("{key}.tests.enabled=false"));
        }
    }
    out
}

fn set_args(case: &Case, step: usize) -> Vec<String> {
    let mut out = Vec::new();
    for s in no_test_hooks(case.chart) {
        out.push("--set".to_string());
        out.push(s);
    }
    for s in case.set {
        out.push("--set".to_string());
        out.push(s.to_string());
    }
    for s in case.scaled {
        out.push("--set".to_string());
        out.push(format!("{}={}", s.value, s.sizes[step]));
    }
    out
}

fn check_size(lab: &Lab, ns: &str, s: &Scaled, want: u64) {
    let w = lab
        .get(s.kind, ns, s.name)
        .unwrap_or_else(|| panic!("no {} {ns}/{}", s.kind, s.name));
    assert_eq!(
        w["spec"]["replicas"], want,
        "{} {ns}/{} spec.replicas",
        s.kind, s.name
    );
    assert_eq!(
        w["status"]["readyReplicas"].as_u64().unwrap_or(0),
        want,
        "{} {ns}/{} ready after --wait: {}",
        s.kind,
        s.name,
        w["status"]
    );
    if s.kind == "StatefulSet" {
        let pods: BTreeSet<String> = lab
            .in_namespace("Pod", ns)
            .iter()
            .map(|p| name(p).to_string())
            .filter(|n| {
                n.strip_prefix(&format!("{}-", s.name))
                    .is_some_and(|i| i.parse::<u64>().is_ok())
            })
            .collect();
        let want_pods: BTreeSet<String> = (0..want).map(|i| format!("{}-{i}", s.name)).collect();
        assert_eq!(pods, want_pods, "pods of {ns}/{}", s.name);
    }
}

/// The objects two releases of one name in two namespaces made: nothing cluster-scoped shares a
/// name, every namespaced object belongs to the release of its own namespace, and no address in
/// one namespace's objects points into the other.
fn check_isolated(lab: &Lab, a: &str, b: &str) {
    let mut cluster_scoped: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut services: BTreeMap<String, usize> = BTreeMap::new();
    let svc_ns = regex::Regex::new(r"\.([a-z0-9-]+)\.svc(\.cluster\.local)?\b").unwrap();
    for o in lab.objects() {
        let ann = &o["metadata"]["annotations"];
        let Some(rel_ns) = ann[RELEASE_NAMESPACE].as_str() else {
            continue;
        };
        if ann[RELEASE_NAME] != "lab" || (rel_ns != a && rel_ns != b) {
            continue;
        }
        let id = format!("{} {}", o["kind"].as_str().unwrap_or(""), name(&o));
        match o["metadata"]["namespace"].as_str() {
            None => {
                cluster_scoped
                    .entry(id.clone())
                    .or_default()
                    .insert(rel_ns.into());
            }
            Some(ns) => assert_eq!(
                ns, rel_ns,
                "{id} in {ns} belongs to the release in {rel_ns}"
            ),
        }
        if o["kind"] == "Service" {
            *services.entry(rel_ns.to_string()).or_default() += 1;
            let sel = &o["spec"]["selector"];
            assert_eq!(
                sel["app.kubernetes.io/instance"],
                "lab",
                "Service {rel_ns}/{} selects only its release's pods: {sel}",
                name(&o)
            );
            assert_ne!(o["spec"]["type"], "ExternalName", "{id}");
        }
        let text = o.to_string();
        for cap in svc_ns.captures_iter(&text) {
            let ns = &cap[1];
            if ns == a || ns == b {
                assert_eq!(ns, rel_ns, "{id} in {rel_ns} points into namespace {ns}");
            }
        }
    }
    assert!(
        services.get(a).is_some_and(|n| *n > 0) && services.get(b) == services.get(a),
        "both releases have their own Services: {services:?}"
    );
    for (id, owners) in cluster_scoped {
        assert_eq!(
            owners.len(),
            1,
            "cluster-scoped {id} is shared by {owners:?}"
        );
    }
}

fn release_workloads(lab: &Lab, ns: &str) -> Vec<String> {
    lab.objects()
        .into_iter()
        .filter(|o| {
            o["metadata"]["namespace"] == ns
                && ["StatefulSet", "Deployment", "Service", "ConfigMap", "Job"]
                    .contains(&o["kind"].as_str().unwrap_or(""))
                && o["metadata"]["annotations"][RELEASE_NAME] == "lab"
        })
        .map(|o| format!("{} {}", o["kind"].as_str().unwrap(), name(&o)))
        .collect()
}

fn chart_path(chart: &str) -> String {
    root().join("charts").join(chart).display().to_string()
}

/// install (two namespaces), upgrade out, upgrade in, uninstall one; the other is untouched.
fn install_scale_uninstall(case: &Case) {
    let lab = Lab::start();
    let chart = chart_path(case.chart);
    let a = format!("{}-a", case.chart);
    let b = format!("{}-b", case.chart);
    for ns in [&a, &b] {
        let mut args: Vec<String> = [
            "install",
            "lab",
            &chart,
            "-n",
            ns,
            "--create-namespace",
            "--wait",
            "--timeout",
            "60s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(set_args(case, 0));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = lab.run(&argv);
        assert!(out.contains("STATUS: deployed"), "{out}");
        for s in case.scaled {
            check_size(&lab, ns, s, s.sizes[0]);
        }
    }
    check_isolated(&lab, &a, &b);

    for (step, what) in [(1, "scale-out"), (2, "scale-in")] {
        let mut args: Vec<String> = [
            "upgrade",
            "lab",
            &chart,
            "-n",
            &a,
            "--wait",
            "--timeout",
            "60s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(set_args(case, step));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = lab.run(&argv);
        assert!(
            out.contains(&format!("REVISION: {}", step + 1)),
            "{what}: {out}"
        );
        for s in case.scaled {
            check_size(&lab, &a, s, s.sizes[step]);
        }
    }

    // The StatefulSets' claims (made by the controller, not applied by the release).
    let claims = |lab: &Lab| -> BTreeSet<String> {
        lab.in_namespace("PersistentVolumeClaim", &a)
            .iter()
            .filter(|p| p["metadata"]["annotations"][RELEASE_NAME].is_null())
            .map(|p| name(p).to_string())
            .collect()
    };
    let pvcs_before = claims(&lab);
    lab.run(&["uninstall", "lab", "-n", &a]);
    let left = release_workloads(&lab, &a);
    assert!(left.is_empty(), "left behind by uninstall in {a}: {left:?}");
    let pvcs_after = claims(&lab);
    assert_eq!(pvcs_after, pvcs_before, "PVCs survive uninstall");
    for sts in case.keeps_data_of {
        let most = case
            .scaled
            .iter()
            .find(|s| s.name == *sts)
            .map_or(1, |s| *s.sizes.iter().max().unwrap());
        for i in 0..most {
            let want = format!("data-{sts}-{i}");
            assert!(
                pvcs_after.contains(&want),
                "{want} missing after uninstall: {pvcs_after:?}"
            );
        }
    }
    // The release of the same name in the other namespace is whole.
    for s in case.scaled {
        check_size(&lab, &b, s, s.sizes[0]);
    }
    assert!(lab.run(&["list", "-n", &b]).contains("lab"));
}

#[test]
fn cassandra_installs_scales_and_uninstalls() {
    install_scale_uninstall(&Case {
        chart: "cassandra",
        set: &[],
        scaled: &[Scaled {
            kind: "StatefulSet",
            name: "lab-cassandra",
            value: "replicaCount",
            sizes: [3, 4, 2],
        }],
        keeps_data_of: &["lab-cassandra"],
    });
}

#[test]
fn kafka_installs_scales_and_uninstalls() {
    // Split roles: the controller quorum stays put while brokers scale.
    install_scale_uninstall(&Case {
        chart: "kafka",
        set: &["kraft.roles=split"],
        scaled: &[Scaled {
            kind: "StatefulSet",
            name: "lab-kafka-broker",
            value: "broker.replicaCount",
            sizes: [3, 5, 3],
        }],
        keeps_data_of: &["lab-kafka-broker", "lab-kafka-controller"],
    });
}

#[test]
fn streaming_analytics_installs_scales_and_uninstalls() {
    install_scale_uninstall(&Case {
        chart: "streaming-analytics",
        set: &[],
        scaled: &[
            Scaled {
                kind: "Deployment",
                name: "lab-spark-worker",
                value: "spark.worker.replicaCount",
                sizes: [2, 4, 1],
            },
            Scaled {
                kind: "StatefulSet",
                name: "lab-mongodb",
                value: "mongodb.replicaSet.replicaCount",
                sizes: [3, 5, 3],
            },
        ],
        keeps_data_of: &["lab-kafka", "lab-mongodb", "lab-zookeeper"],
    });
}

#[test]
fn realtime_cep_installs_scales_and_uninstalls() {
    install_scale_uninstall(&Case {
        chart: "realtime-cep",
        set: &[],
        scaled: &[
            Scaled {
                kind: "StatefulSet",
                name: "lab-cassandra",
                value: "cassandra.replicaCount",
                sizes: [3, 4, 3],
            },
            Scaled {
                kind: "Deployment",
                name: "lab-storm-supervisor",
                value: "storm.supervisor.replicaCount",
                sizes: [2, 3, 1],
            },
        ],
        keeps_data_of: &["lab-cassandra", "lab-kafka", "lab-redis"],
    });
}

#[test]
fn ml_workbench_installs_scales_and_uninstalls() {
    install_scale_uninstall(&Case {
        chart: "ml-workbench",
        set: &[],
        scaled: &[Scaled {
            kind: "Deployment",
            name: "lab-dask-worker",
            value: "dask.worker.replicaCount",
            sizes: [2, 4, 1],
        }],
        keeps_data_of: &[],
    });
}

#[test]
fn search_analytics_installs_scales_and_uninstalls() {
    install_scale_uninstall(&Case {
        chart: "search-analytics",
        set: &[],
        scaled: &[Scaled {
            kind: "StatefulSet",
            name: "lab-elasticsearch",
            value: "elasticsearch.data.replicaCount",
            sizes: [3, 4, 2],
        }],
        keeps_data_of: &["lab-elasticsearch", "lab-kafka"],
    });
}

/// TensorFlow's model volume is a PVC the chart renders itself, marked
/// `helm.sh/resource-policy: keep`; uninstall leaves it, as Helm does.
#[test]
fn tensorflow_models_volume_survives_uninstall() {
    let lab = Lab::start();
    install(&lab, "tensorflow", "ml", &[]);
    let pvc = lab
        .get("PersistentVolumeClaim", "ml", "lab-tensorflow-models")
        .expect("models PVC");
    assert_eq!(
        pvc["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    lab.run(&["uninstall", "lab", "-n", "ml"]);
    assert!(lab
        .get("PersistentVolumeClaim", "ml", "lab-tensorflow-models")
        .is_some());
}

// ---- Lifecycle order (needs the lifecycle engine) ----

/// (pod, command) of every exec in the namespace, in start order, with its finish time.
fn execs(lab: &Lab, ns: &str) -> Vec<(String, Vec<String>, String)> {
    lab.sim
        .execs()
        .into_iter()
        .filter(|e| e.namespace == ns)
        .map(|e| (e.pod, e.command, e.finished.unwrap_or_default()))
        .collect()
}

/// Time of the first write to a workload (its scale-down or template change).
fn first_write(lab: &Lab, ns: &str, resource: &str, name: &str, after: &str) -> String {
    let path = format!("/apis/apps/v1/namespaces/{ns}/{resource}/{name}");
    lab.sim
        .requests()
        .into_iter()
        .filter(|r| {
            r.path == path
                && ["patch", "update"].contains(&r.verb.as_str())
                && r.time.as_str() > after
        })
        .map(|r| r.time)
        .next()
        .unwrap_or_else(|| panic!("no write to {path}"))
}

fn install(lab: &Lab, chart: &str, ns: &str, set: &[&str]) -> String {
    let hooks = no_test_hooks(chart);
    let chart = chart_path(chart);
    let mut args = vec![
        "install",
        "lab",
        &chart,
        "-n",
        ns,
        "--create-namespace",
        "--wait",
    ];
    for s in set.iter().copied().chain(hooks.iter().map(String::as_str)) {
        args.extend(["--set", s]);
    }
    lab.run(&args);
    kube_now()
}

fn upgrade(lab: &Lab, chart: &str, ns: &str, set: &[&str]) {
    let hooks = no_test_hooks(chart);
    let chart = chart_path(chart);
    let mut args = vec!["upgrade", "lab", &chart, "-n", ns, "--wait"];
    for s in set.iter().copied().chain(hooks.iter().map(String::as_str)) {
        args.extend(["--set", s]);
    }
    lab.run(&args);
}

/// Now in the simulator's timestamp format (RFC 3339, microseconds, UTC), for ordering.
fn kube_now() -> String {
    format!("{:.6}", jiff::Timestamp::now())
}

fn pods_running(execs: &[(String, Vec<String>, String)], command: &[&str]) -> Vec<String> {
    execs
        .iter()
        .filter(|(_, c, _)| c.iter().map(String::as_str).eq(command.iter().copied()))
        .map(|(p, _, _)| p.clone())
        .collect()
}

#[test]
fn cassandra_scale_in_decommissions_highest_ordinal_first_before_the_statefulset_shrinks() {
    let lab = Lab::start();
    let t0 = install(&lab, "cassandra", "ring", &["replicaCount=4"]);
    upgrade(&lab, "cassandra", "ring", &["replicaCount=2"]);
    let ex = execs(&lab, "ring");
    assert_eq!(
        pods_running(&ex, &["nodetool", "decommission"]),
        ["lab-cassandra-3", "lab-cassandra-2"]
    );
    let shrink = first_write(&lab, "ring", "statefulsets", "lab-cassandra", &t0);
    let last = ex
        .iter()
        .filter(|(_, c, _)| c.join(" ") == "nodetool decommission")
        .map(|(_, _, f)| f.clone())
        .max()
        .unwrap();
    assert!(
        last < shrink,
        "decommission finished {last}, StatefulSet written {shrink}"
    );
    // Each decommission is followed by its gate in the same pod before the next one starts.
    let order: Vec<String> = ex
        .iter()
        .filter(|(p, _, _)| p == "lab-cassandra-3" || p == "lab-cassandra-2")
        .map(|(p, c, _)| format!("{p} {}", c[0]))
        .collect();
    let first_gate = order
        .iter()
        .position(|l| l == "lab-cassandra-3 /bin/sh")
        .unwrap();
    let second = order
        .iter()
        .position(|l| l == "lab-cassandra-2 nodetool")
        .unwrap();
    assert!(first_gate < second, "{order:?}");
}

#[test]
fn cassandra_uninstall_drains_every_node_highest_ordinal_first() {
    let lab = Lab::start();
    install(&lab, "cassandra", "ring", &[]);
    lab.run(&["uninstall", "lab", "-n", "ring"]);
    let ex = execs(&lab, "ring");
    assert_eq!(
        pods_running(&ex, &["nodetool", "drain"]),
        ["lab-cassandra-2", "lab-cassandra-1", "lab-cassandra-0"]
    );
}

#[test]
fn kafka_image_change_rolls_one_broker_at_a_time_with_the_gate_between() {
    let lab = Lab::start();
    install(&lab, "kafka", "bus", &[]);
    let before: BTreeMap<String, String> = lab
        .in_namespace("Pod", "bus")
        .iter()
        .map(|p| {
            (
                name(p).to_string(),
                p["metadata"]["uid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    upgrade(&lab, "kafka", "bus", &["image.tag=4.1.1"]);
    // Every broker was replaced...
    for p in lab.in_namespace("Pod", "bus") {
        if let Some(old) = before.get(name(&p)) {
            assert_ne!(
                p["metadata"]["uid"].as_str().unwrap(),
                old,
                "{} replaced",
                name(&p)
            );
            assert!(p["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap()
                .ends_with(":4.1.1"));
        }
    }
    // ...highest ordinal first, each gated on under-replicated partitions before the next.
    let gates: Vec<String> = execs(&lab, "bus")
        .into_iter()
        .filter(|(_, c, _)| c.join(" ").contains("--under-replicated-partitions"))
        .map(|(p, _, _)| p)
        .collect();
    let mut firsts = Vec::new();
    for p in gates {
        if !firsts.contains(&p) {
            firsts.push(p);
        }
    }
    assert_eq!(firsts, ["lab-kafka-2", "lab-kafka-1", "lab-kafka-0"]);
}

#[test]
fn hdfs_and_elasticsearch_scale_in_drain_removed_nodes_first() {
    let lab = Lab::start();
    install(&lab, "hadoop", "dfs", &["hdfs.datanode.replicaCount=4"]);
    upgrade(&lab, "hadoop", "dfs", &["hdfs.datanode.replicaCount=2"]);
    let ex = execs(&lab, "dfs");
    assert_eq!(
        pods_running(&ex, &["/bin/bash", "/scripts/decommission-datanode.sh"]),
        ["lab-hadoop-datanode-3", "lab-hadoop-datanode-2"]
    );
    assert!(!pods_running(&ex, &["/bin/bash", "/scripts/datanode-decommissioned.sh"]).is_empty());

    install(&lab, "elasticsearch", "search", &["data.replicaCount=4"]);
    upgrade(&lab, "elasticsearch", "search", &["data.replicaCount=3"]);
    let drained: Vec<String> = execs(&lab, "search")
        .into_iter()
        .filter(|(_, c, _)| {
            c.join(" ")
                .contains("cluster.routing.allocation.exclude._name")
        })
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(drained, ["lab-elasticsearch-3"]);
}

#[test]
fn lifecycle_time_format_matches_the_simulator() {
    // The ordering assertions above compare kube_now() with the simulator's timestamps.
    let lab = Lab::start();
    let before = kube_now();
    lab.run(&["list", "-A"]);
    let t = lab.sim.requests().last().expect("a request").time.clone();
    let after = kube_now();
    assert_eq!(t.len(), before.len(), "{t} vs {before}");
    assert!(
        before.as_str() <= t.as_str() && t.as_str() <= after.as_str(),
        "{before} {t} {after}"
    );
}
