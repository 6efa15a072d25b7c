//! The first-party charts under charts/: every chart renders with its defaults and with each
//! of its `ci/*.yaml` value files, deterministically; every object passes the engine's strict
//! Kubernetes schema check and `kubernetes-validate --strict` for the two newest Kubernetes
//! versions that tool knows; two releases never share an object; and each system's wiring
//! (seeds, ids, server lists, mirrored limits) is what its operators expect.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use stackpkg::action::{self, template::TemplateRequest};
use stackpkg::chart::ChartMetadata;
use stackpkg::manifest::{self, k8s_schema, Object};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Application charts under charts/ (library charts render nothing).
fn chart_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("charts")).unwrap() {
        let dir = entry.unwrap().path();
        let meta = dir.join("Chart.yaml");
        if !meta.is_file() {
            continue;
        }
        let m: ChartMetadata = serde_yaml::from_str(&std::fs::read_to_string(meta).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        if !m.is_library() {
            out.push(dir);
        }
    }
    out.sort();
    assert!(
        out.len() >= 4,
        "expected the first-party charts, found {out:?}"
    );
    out
}

fn ci_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir.join("ci"))
        .unwrap_or_else(|e| panic!("{}/ci: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    out.sort();
    out
}

fn read_values(file: Option<&Path>) -> Value {
    match file {
        None => json!({}),
        Some(p) => serde_yaml::from_str::<Option<Value>>(&std::fs::read_to_string(p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .unwrap_or(json!({})),
    }
}

#[derive(Debug)]
struct Output {
    objects: Vec<Object>,
    stream: String,
    notes: String,
}

/// What `stackpkg template` does: load, coalesce and validate values, render, sort, check.
fn template(dir: &Path, release: &str, namespace: &str, user: &Value) -> Result<Output, String> {
    let chart = stackpkg::chart::load(dir).map_err(|e| e.to_string())?;
    let req = TemplateRequest {
        release_name: release.into(),
        namespace: namespace.into(),
        ..Default::default()
    };
    let out = action::template::render_chart(&chart, user, &req).map_err(|e| e.to_string())?;
    Ok(Output {
        stream: manifest::to_yaml_stream(&out.objects),
        objects: out.objects,
        notes: out.notes.unwrap_or_default(),
    })
}

fn must(dir: &Path, release: &str, namespace: &str, user: &Value) -> Output {
    template(dir, release, namespace, user)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.file_name().unwrap().to_string_lossy()))
}

fn chart_dir(name: &str) -> PathBuf {
    root().join("charts").join(name)
}

/// `.tools/bin/kubernetes-validate`, or None (and a printed reason) when it is not installed;
/// under CI its absence fails the test.
fn kubernetes_validate() -> Option<PathBuf> {
    let bin = root().join(".tools/bin/kubernetes-validate");
    if bin.is_file() {
        return Some(bin);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{} is missing; run scripts/install-tools.sh", bin.display());
    }
    eprintln!(
        "skipping kubernetes-validate: {} is missing (run scripts/install-tools.sh)",
        bin.display()
    );
    None
}

/// The two newest Kubernetes versions kubernetes-validate ships strict schemas for.
fn newest_kube_versions() -> Vec<String> {
    let venv_lib = root().join(".tools/venv/lib");
    let mut versions: Vec<(u64, u64, String)> = Vec::new();
    for py in std::fs::read_dir(&venv_lib).unwrap() {
        let dir = py
            .unwrap()
            .path()
            .join("site-packages/kubernetes_validate/kubernetes-json-schema");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            let Some(v) = name.strip_suffix("-local-strict") else {
                continue;
            };
            let v = v.trim_start_matches('v');
            let parts: Vec<u64> = v.split('.').filter_map(|p| p.parse().ok()).collect();
            if parts.len() == 3 {
                versions.push((parts[0], parts[1], v.to_string()));
            }
        }
    }
    versions.sort();
    let out: Vec<String> = versions.iter().rev().take(2).map(|v| v.2.clone()).collect();
    assert_eq!(out.len(), 2, "kubernetes-validate ships no strict schemas?");
    out
}

#[test]
fn every_chart_renders_validates_and_is_deterministic() {
    let validate = kubernetes_validate();
    let versions = validate.as_ref().map(|_| newest_kube_versions());
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut streams = 0;
    let mut expected = 0;
    let mut files = Vec::new();
    for dir in chart_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut sets: Vec<(String, Value)> = vec![("defaults".into(), json!({}))];
        let ci = ci_files(&dir);
        let names: BTreeSet<String> = ci
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        for required in ["minimal.yaml", "production.yaml", "scaled-out.yaml"] {
            assert!(names.contains(required), "{name}: ci/{required} is missing");
        }
        expected += 1 + ci.len();
        for p in &ci {
            sets.push((
                format!("ci/{}", p.file_name().unwrap().to_string_lossy()),
                read_values(Some(p)),
            ));
        }
        for (label, user) in sets {
            let first = match template(&dir, "demo", "data", &user) {
                Ok(o) => o,
                Err(e) => {
                    failures.push(format!("{name} {label}: {e}"));
                    continue;
                }
            };
            let second = must(&dir, "demo", "data", &user);
            assert_eq!(
                first.stream, second.stream,
                "{name} {label}: output differs between runs"
            );
            assert_eq!(
                first.notes, second.notes,
                "{name} {label}: NOTES differ between runs"
            );
            assert!(
                !first.notes.trim().is_empty(),
                "{name} {label}: empty NOTES"
            );
            assert!(
                first.objects.iter().any(|o| o.kind == "Service"),
                "{name} {label}: no Service"
            );
            for o in &first.objects {
                failures.extend(k8s_schema::validate(o));
            }
            if validate.is_some() {
                let file = tmp
                    .path()
                    .join(format!("{name}-{}.yaml", label.replace('/', "-")));
                std::fs::write(&file, &first.stream).unwrap();
                files.push(file);
            }
            streams += 1;
        }
    }
    // One kubernetes-validate run per version over every rendered stream (it is slow to start).
    if let (Some(bin), Some(versions)) = (&validate, &versions) {
        for v in versions {
            let out = Command::new(bin)
                .args(["--strict", "--quiet", "-k", v])
                .args(&files)
                .output()
                .unwrap();
            if !out.status.success() {
                failures.push(format!(
                    "kubernetes-validate --strict -k {v}:\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(streams, expected, "every chart and value file renders");
}

/// Every container (init containers too) of every pod template (and test pod), with the
/// defaults and each ci file, has requests and limits, a security context that forbids
/// privilege escalation, and pods run as non-root.
#[test]
fn every_container_is_bounded_and_confined() {
    for dir in chart_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let files = std::iter::once(None).chain(ci_files(&dir).into_iter().map(Some));
        for p in files {
            let out = must(&dir, "demo", "data", &read_values(p.as_deref()));
            let p = p.unwrap_or_else(|| PathBuf::from("(defaults)"));
            for o in &out.objects {
                let spec = match o.kind.as_str() {
                    "StatefulSet" | "Deployment" | "DaemonSet" | "Job" => {
                        &o.value["spec"]["template"]["spec"]
                    }
                    "CronJob" => &o.value["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                    "Pod" => &o.value["spec"],
                    _ => continue,
                };
                let who = format!("{name} {}: {} {}", p.display(), o.kind, o.name);
                assert_eq!(
                    spec["securityContext"]["runAsNonRoot"],
                    json!(true),
                    "{who}: runAsNonRoot"
                );
                let inits = spec["initContainers"].as_array().into_iter().flatten();
                for c in spec["containers"].as_array().unwrap().iter().chain(inits) {
                    let r = &c["resources"];
                    for k in ["requests", "limits"] {
                        for res in ["cpu", "memory"] {
                            assert!(
                                !r[k][res].is_null(),
                                "{who}: container {} has no {k}.{res}",
                                c["name"]
                            );
                        }
                    }
                    assert_eq!(
                        c["securityContext"]["allowPrivilegeEscalation"],
                        json!(false),
                        "{who}: container {}",
                        c["name"]
                    );
                    let init = spec["initContainers"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|i| i["name"] == c["name"]));
                    if !init
                        && matches!(o.kind.as_str(), "StatefulSet" | "Deployment" | "DaemonSet")
                    {
                        assert!(
                            !c["readinessProbe"].is_null(),
                            "{who}: container {} has no readiness probe",
                            c["name"]
                        );
                    }
                }
            }
        }
    }
}

/// Each chart has a test hook that talks to the service, and a PodDisruptionBudget with the
/// production values.
#[test]
fn every_chart_has_a_test_hook_and_a_disruption_budget() {
    for dir in chart_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let out = must(
            &dir,
            "demo",
            "data",
            &read_values(Some(&dir.join("ci/production.yaml"))),
        );
        let hooks: Vec<&Object> = out
            .objects
            .iter()
            .filter(|o| o.value["metadata"]["annotations"]["stackpkg.io/hook"] == json!("test"))
            .collect();
        assert!(!hooks.is_empty(), "{name}: no test hook");
        // Single-pod systems (a single-user notebook, InfluxDB OSS) have no replica to keep up;
        // a budget would only block node drains.
        if name != "jupyter" && name != "influxdb" {
            assert!(
                out.objects.iter().any(|o| o.kind == "PodDisruptionBudget"),
                "{name}: no PDB"
            );
        }
        assert!(
            out.objects.iter().any(|o| o.kind == "ResourceQuota"),
            "{name}: production enables no quota"
        );
        assert!(
            out.objects.iter().any(|o| o.kind == "LimitRange"),
            "{name}: production enables no LimitRange"
        );
    }
}

/// Two releases, in one namespace or in two, never share an object, and every object of a
/// release carries its instance label.
#[test]
fn two_releases_never_collide() {
    for dir in chart_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let values = read_values(Some(&dir.join("ci/production.yaml")));
        let a = must(&dir, "lab-a", "shared", &values);
        let b = must(&dir, "lab-b", "shared", &values);
        let ids =
            |o: &Output| -> BTreeSet<String> { o.objects.iter().map(|x| x.id("shared")).collect() };
        let (ia, ib) = (ids(&a), ids(&b));
        let common: Vec<&String> = ia.intersection(&ib).collect();
        assert!(common.is_empty(), "{name}: both releases render {common:?}");
        for o in &a.objects {
            assert_eq!(
                o.value["metadata"]["labels"]["app.kubernetes.io/instance"],
                json!("lab-a"),
                "{name}: {} {} lacks the instance label",
                o.kind,
                o.name
            );
            assert_eq!(
                o.value["metadata"]["namespace"],
                json!("shared"),
                "{name}: {} {}",
                o.kind,
                o.name
            );
        }
        // Selectors must not reach the other release's pods.
        for o in &a.objects {
            let sel = &o.value["spec"]["selector"];
            let labels = if o.kind == "Service" {
                sel
            } else {
                &sel["matchLabels"]
            };
            if labels.is_object() {
                assert_eq!(
                    labels["app.kubernetes.io/instance"],
                    json!("lab-a"),
                    "{name}: {} {}",
                    o.kind,
                    o.name
                );
            }
        }
    }
}

fn find<'a>(out: &'a Output, kind: &str, name: &str) -> &'a Value {
    &out.objects
        .iter()
        .find(|o| o.kind == kind && o.name == name)
        .unwrap_or_else(|| {
            let have: Vec<String> = out
                .objects
                .iter()
                .map(|o| format!("{} {}", o.kind, o.name))
                .collect();
            panic!("no {kind} {name}; have {have:?}")
        })
        .value
}

fn env<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == json!(name))
        .map(|e| &e["value"])
        .unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
fn cassandra_seeds_are_the_first_pods_dns_names() {
    let out = must(
        &chart_dir("cassandra"),
        "ring",
        "db",
        &json!({"replicaCount": 5, "cluster": {"seedCount": 3}}),
    );
    let sts = find(&out, "StatefulSet", "ring-cassandra");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env(c, "CASSANDRA_SEEDS"),
        &json!(
            "ring-cassandra-0.ring-cassandra-headless.db.svc.cluster.local,\
             ring-cassandra-1.ring-cassandra-headless.db.svc.cluster.local,\
             ring-cassandra-2.ring-cassandra-headless.db.svc.cluster.local"
        )
    );
    assert_eq!(sts["spec"]["serviceName"], json!("ring-cassandra-headless"));
    let headless = find(&out, "Service", "ring-cassandra-headless");
    assert_eq!(headless["spec"]["clusterIP"], json!("None"));
    assert_eq!(headless["spec"]["publishNotReadyAddresses"], json!(true));
    // Seeds never outnumber the nodes.
    let one = must(
        &chart_dir("cassandra"),
        "ring",
        "db",
        &json!({"replicaCount": 1, "cluster": {"seedCount": 3}}),
    );
    let c1 =
        &find(&one, "StatefulSet", "ring-cassandra")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env(c1, "CASSANDRA_SEEDS"),
        &json!("ring-cassandra-0.ring-cassandra-headless.db.svc.cluster.local")
    );
}

#[test]
fn cassandra_drains_before_stop_and_keeps_one_node_down_at_most() {
    let out = must(
        &chart_dir("cassandra"),
        "ring",
        "db",
        &json!({"heap": {"maxHeapSize": "4G", "heapNewSize": "800M"}}),
    );
    let spec = &find(&out, "StatefulSet", "ring-cassandra")["spec"]["template"]["spec"];
    let c = &spec["containers"][0];
    let pre_stop = c["lifecycle"]["preStop"]["exec"]["command"][2]
        .as_str()
        .unwrap();
    assert!(pre_stop.ends_with("|| nodetool drain"), "{pre_stop}");
    assert!(pre_stop.contains("DRAINED|DECOMMISSIONED"), "{pre_stop}");
    assert_eq!(spec["terminationGracePeriodSeconds"], json!(1800));
    assert_eq!(
        c["securityContext"]["capabilities"]["add"],
        json!(["IPC_LOCK"])
    );
    assert_eq!(env(c, "MAX_HEAP_SIZE"), &json!("4G"));
    assert_eq!(env(c, "HEAP_NEWSIZE"), &json!("800M"));
    let readiness = c["readinessProbe"]["exec"]["command"][2].as_str().unwrap();
    assert!(
        readiness.contains("nodetool status") && readiness.contains("^UN"),
        "{readiness}"
    );
    assert_eq!(
        find(&out, "PodDisruptionBudget", "ring-cassandra")["spec"]["maxUnavailable"],
        json!(1)
    );
    let sts = find(&out, "StatefulSet", "ring-cassandra");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        json!("data")
    );
    assert_eq!(sts["spec"]["podManagementPolicy"], json!("OrderedReady"));
}

#[test]
fn zookeeper_myid_is_ordinal_plus_one_and_quorum_is_kept() {
    let out = must(
        &chart_dir("zookeeper"),
        "zk",
        "coord",
        &json!({"replicaCount": 5}),
    );
    let sts = find(&out, "StatefulSet", "zk-zookeeper");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    let servers = env(c, "ZOO_SERVERS").as_str().unwrap();
    let list: Vec<&str> = servers.split(' ').collect();
    assert_eq!(list.len(), 5);
    for (i, s) in list.iter().enumerate() {
        assert_eq!(
            *s,
            format!("server.{}=zk-zookeeper-{i}.zk-zookeeper-headless.coord.svc.cluster.local:2888:3888;2181", i + 1)
        );
    }
    let script = c["command"][2].as_str().unwrap();
    assert!(script.contains("ZOO_MY_ID=$((ordinal + 1))"), "{script}");
    assert_eq!(sts["spec"]["podManagementPolicy"], json!("Parallel"));
    assert_eq!(
        find(&out, "PodDisruptionBudget", "zk-zookeeper")["spec"]["minAvailable"],
        json!(3)
    );
    // Even ensembles are refused by the schema, with the offending path.
    let err = template(
        &chart_dir("zookeeper"),
        "zk",
        "coord",
        &json!({"replicaCount": 4}),
    )
    .unwrap_err();
    assert!(err.contains("/replicaCount"), "{err}");
}

#[test]
fn kafka_broker_ids_follow_ordinals() {
    let combined = must(&chart_dir("kafka"), "ev", "data", &json!({}));
    let sts = find(&combined, "StatefulSet", "ev-kafka");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env(c, "NODE_ID_OFFSET"), &json!("0"));
    assert_eq!(env(c, "ROLES"), &json!("broker,controller"));
    assert_eq!(sts["spec"]["updateStrategy"]["type"], json!("OnDelete"));
    let cm = find(&combined, "ConfigMap", "ev-kafka-config");
    let start = cm["data"]["start.sh"].as_str().unwrap();
    assert!(
        start.contains("node_id=$((ordinal + NODE_ID_OFFSET))"),
        "{start}"
    );
    assert!(
        start.contains("advertised.listeners=CLIENT://${HOSTNAME}.${HEADLESS_FQDN}"),
        "{start}"
    );
    let props = cm["data"]["server.properties"].as_str().unwrap();
    assert!(
        props.contains(
            "controller.quorum.voters=0@ev-kafka-0.ev-kafka-headless.data.svc.cluster.local:9093,\
             1@ev-kafka-1.ev-kafka-headless.data.svc.cluster.local:9093,\
             2@ev-kafka-2.ev-kafka-headless.data.svc.cluster.local:9093\n"
        ),
        "{props}"
    );

    // Split roles: brokers keep ordinal ids, controllers are 1000 + ordinal.
    let split = must(
        &chart_dir("kafka"),
        "ev",
        "data",
        &json!({"kraft": {"roles": "split"}, "broker": {"replicaCount": 4}}),
    );
    let b = &find(&split, "StatefulSet", "ev-kafka-broker")["spec"];
    assert_eq!(b["replicas"], json!(4));
    assert_eq!(
        env(&b["template"]["spec"]["containers"][0], "NODE_ID_OFFSET"),
        &json!("0")
    );
    assert_eq!(
        env(&b["template"]["spec"]["containers"][0], "ROLES"),
        &json!("broker")
    );
    let k = &find(&split, "StatefulSet", "ev-kafka-controller")["spec"];
    assert_eq!(
        env(&k["template"]["spec"]["containers"][0], "NODE_ID_OFFSET"),
        &json!("1000")
    );
    let props = find(&split, "ConfigMap", "ev-kafka-config")["data"]["server.properties"]
        .as_str()
        .unwrap();
    assert!(
        props.contains("controller.quorum.voters=1000@ev-kafka-controller-0."),
        "{props}"
    );
    // The client Service selects brokers only.
    let svc = find(&split, "Service", "ev-kafka");
    assert_eq!(
        svc["spec"]["selector"]["app.kubernetes.io/component"],
        json!("broker")
    );
    // The cluster id is stable for a release and differs between releases.
    let id = |o: &Output, sts: &str| {
        env(
            &find(o, "StatefulSet", sts)["spec"]["template"]["spec"]["containers"][0],
            "CLUSTER_ID",
        )
        .clone()
    };
    let again = must(&chart_dir("kafka"), "ev", "data", &json!({}));
    let other = must(&chart_dir("kafka"), "ev2", "data", &json!({}));
    assert_eq!(id(&combined, "ev-kafka"), id(&again, "ev-kafka"));
    assert_ne!(id(&combined, "ev-kafka"), id(&other, "ev2-kafka"));
    assert_eq!(id(&combined, "ev-kafka").as_str().unwrap().len(), 22);
}

#[test]
fn kafka_zookeeper_mode_needs_a_3x_image_and_a_connect_string() {
    let dir = chart_dir("kafka");
    let err = template(
        &dir,
        "ev",
        "data",
        &json!({"mode": "zookeeper", "zookeeper": {"connect": "zk:2181"}}),
    )
    .unwrap_err();
    assert!(err.contains("Kafka 3.x"), "{err}");
    let err = template(
        &dir,
        "ev",
        "data",
        &json!({"mode": "zookeeper", "image": {"tag": "3.9.1"}}),
    )
    .unwrap_err();
    assert!(err.contains("zookeeper.connect is required"), "{err}");
    let ok = must(
        &dir,
        "ev",
        "data",
        &json!({"mode": "zookeeper", "image": {"tag": "3.9.1"}, "zookeeper": {"connect": "zk:2181/kafka"}}),
    );
    let props = find(&ok, "ConfigMap", "ev-kafka-config")["data"]["server.properties"]
        .as_str()
        .unwrap();
    assert!(
        props.contains("zookeeper.connect=zk:2181/kafka\n"),
        "{props}"
    );
    assert!(!props.contains("controller.quorum.voters"), "{props}");
    // Replication settings are capped at the broker count.
    let one = must(&dir, "ev", "data", &json!({"broker": {"replicaCount": 1}}));
    let props = find(&one, "ConfigMap", "ev-kafka-config")["data"]["server.properties"]
        .as_str()
        .unwrap();
    assert!(
        props.contains("offsets.topic.replication.factor=1\n")
            && props.contains("min.insync.replicas=1\n"),
        "{props}"
    );
}

#[test]
fn spark_worker_limits_are_mirrored_into_spark() {
    let out = must(
        &chart_dir("spark"),
        "lab",
        "lab1",
        &json!({"worker": {"replicaCount": 3, "cores": 2, "memoryMiB": 2048, "daemonMemoryMiB": 256}}),
    );
    let w = &find(&out, "Deployment", "lab-spark-worker")["spec"];
    assert_eq!(w["replicas"], json!(3));
    let c = &w["template"]["spec"]["containers"][0];
    assert_eq!(env(c, "SPARK_WORKER_CORES"), &json!("2"));
    assert_eq!(env(c, "SPARK_WORKER_MEMORY"), &json!("2048m"));
    assert_eq!(
        c["resources"]["limits"],
        json!({"cpu": "2", "memory": "2560Mi"})
    );
    assert_eq!(
        env(c, "MASTER_URL"),
        &json!("spark://lab-spark-master.lab1.svc.cluster.local:7077")
    );
    let pre = c["lifecycle"]["preStop"]["exec"]["command"][2]
        .as_str()
        .unwrap();
    assert!(
        pre.contains("kill -PWR") && pre.starts_with("[ -e /tmp/decommissioned ] ||"),
        "{pre}"
    );
    let err = template(
        &chart_dir("spark"),
        "lab",
        "lab1",
        &json!({"worker": {"decommissionSeconds": 500}}),
    )
    .unwrap_err();
    assert!(err.contains("decommissionSeconds"), "{err}");
}

#[test]
fn too_long_names_fail_instead_of_truncating() {
    let long = "a".repeat(50);
    let err = template(&chart_dir("cassandra"), &long, "db", &json!({})).unwrap_err();
    assert!(err.contains("longer than 52 characters"), "{err}");
}

#[test]
fn garbage_values_are_rejected_with_their_path() {
    for (chart, bad, path) in [
        (
            "cassandra",
            json!({"replicaCount": "three"}),
            "/replicaCount",
        ),
        (
            "cassandra",
            json!({"heap": {"maxHeapSize": "lots"}}),
            "/heap/maxHeapSize",
        ),
        ("kafka", json!({"kraft": {"roles": "both"}}), "/kraft/roles"),
        ("spark", json!({"worker": {"cores": 0}}), "/worker/cores"),
        ("zookeeper", json!({"surprise": true}), "surprise"),
        (
            "kafka",
            json!({"image": {"tag": "latest; rm -rf /"}}),
            "/image/tag",
        ),
    ] {
        let err = template(&chart_dir(chart), "x", "ns", &bad).unwrap_err();
        assert!(err.contains(path), "{chart}: {err}");
    }
}

/// README tables, shared schema definitions and vendored dependencies match their sources.
#[test]
fn generated_chart_files_are_current() {
    let python = root().join(".tools/venv/bin/python");
    if !python.is_file() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{} is missing; run scripts/install-tools.sh",
                python.display()
            );
        }
        eprintln!(
            "skipping: {} is missing (run scripts/install-tools.sh)",
            python.display()
        );
        return;
    }
    let out = Command::new(python)
        .arg(root().join("charts/_tools/chartdoc.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "run `python3 charts/_tools/chartdoc.py`:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mongodb_replica_set_is_initiated_by_a_hook_with_every_member() {
    let dir = chart_dir("mongodb");
    let out = must(
        &dir,
        "docs",
        "data",
        &json!({"replicaSet": {"replicaCount": 3}, "auth": {"enabled": true, "rootPassword": "pw", "replicaSetKey": "c2VjcmV0a2V5"}}),
    );
    let job = find(&out, "Job", "docs-mongodb-init");
    assert_eq!(
        job["metadata"]["annotations"]["stackpkg.io/hook"],
        json!("post-install,post-upgrade")
    );
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env(c, "MEMBERS"),
        &json!(
            "docs-mongodb-0.docs-mongodb-headless.data.svc.cluster.local:27017 \
             docs-mongodb-1.docs-mongodb-headless.data.svc.cluster.local:27017 \
             docs-mongodb-2.docs-mongodb-headless.data.svc.cluster.local:27017"
        )
    );
    let script = c["command"][2].as_str().unwrap();
    assert!(
        script.contains("rs.initiate(")
            && script.contains("rs.add(h)")
            && script.contains("rs.remove(h)"),
        "{script}"
    );
    let spec = &find(&out, "StatefulSet", "docs-mongodb")["spec"]["template"]["spec"];
    let args = spec["containers"][0]["args"].as_array().unwrap();
    assert!(
        args.contains(&json!("--keyFile")) && args.contains(&json!("rs0")),
        "{args:?}"
    );
    let pre = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][2]
        .as_str()
        .unwrap();
    assert!(pre.contains("rs.stepDown"), "{pre}");
    assert_eq!(
        find(&out, "PodDisruptionBudget", "docs-mongodb")["spec"]["minAvailable"],
        json!(2)
    );
    let secret = find(&out, "Secret", "docs-mongodb-auth");
    assert_eq!(secret["data"]["root-password"], json!("cHc="));
    // Authentication without credentials is refused, naming the missing value.
    let err = template(&dir, "docs", "data", &json!({"auth": {"enabled": true}})).unwrap_err();
    assert!(err.contains("auth.rootPassword is required"), "{err}");
}

/// `extraEnv` goes through `tpl`, so an umbrella chart can name its siblings by release.
#[test]
fn extra_env_is_templated_with_the_release() {
    let env_in = json!({"extraEnv": [{"name": "PEER", "value": "{{ release.name }}-kafka.{{ release.namespace }}"}]});
    let out = must(&chart_dir("cassandra"), "lab", "ns7", &env_in);
    let c =
        &find(&out, "StatefulSet", "lab-cassandra")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env(c, "PEER"), &json!("lab-kafka.ns7"));
}

/// The stack's endpoints name Services (and pods) that the stack itself renders, on the ports
/// those Services expose, and Spark's pods read them from the stack's ConfigMap.
#[test]
fn streaming_analytics_endpoints_point_at_its_own_services() {
    let out = must(
        &chart_dir("streaming-analytics"),
        "pipe",
        "team-a",
        &json!({"kafka": {"ports": {"client": 9095}}}),
    );
    let data = &find(&out, "ConfigMap", "pipe-streaming-analytics-endpoints")["data"];
    let service_port = |host_port: &str| {
        let (host, port) = host_port.rsplit_once(':').unwrap();
        let name = host
            .strip_suffix(".team-a.svc.cluster.local")
            .unwrap_or_else(|| panic!("{host}"));
        let svc = find(&out, "Service", name);
        let port: u64 = port.parse().unwrap();
        assert!(
            svc["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["port"] == json!(port)),
            "Service {name} has no port {port}"
        );
    };
    service_port(data["KAFKA_BOOTSTRAP_SERVERS"].as_str().unwrap());
    assert!(data["KAFKA_BOOTSTRAP_SERVERS"]
        .as_str()
        .unwrap()
        .ends_with(":9095"));
    service_port(data["ZOOKEEPER_CONNECT"].as_str().unwrap());
    service_port(
        data["SPARK_MASTER_URL"]
            .as_str()
            .unwrap()
            .trim_start_matches("spark://"),
    );
    let uri = data["MONGODB_URI"].as_str().unwrap();
    let hosts = uri
        .trim_start_matches("mongodb://")
        .split('/')
        .next()
        .unwrap();
    assert_eq!(hosts.split(',').count(), 3, "{uri}");
    assert!(
        hosts.starts_with("pipe-mongodb-0.pipe-mongodb-headless.team-a.svc.cluster.local:27017"),
        "{uri}"
    );
    find(&out, "StatefulSet", "pipe-mongodb");
    assert_eq!(
        find(&out, "StatefulSet", "pipe-kafka")["spec"]["replicas"],
        json!(3)
    );
    for deploy in ["pipe-spark-master", "pipe-spark-worker"] {
        let c = &find(&out, "Deployment", deploy)["spec"]["template"]["spec"]["containers"][0];
        let e = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == json!("KAFKA_BOOTSTRAP_SERVERS"))
            .unwrap();
        assert_eq!(
            e["valueFrom"]["configMapKeyRef"],
            json!({"name": "pipe-streaming-analytics-endpoints", "key": "KAFKA_BOOTSTRAP_SERVERS"})
        );
    }
    // Every component's own test hook comes along.
    let hooks: BTreeSet<&str> = out
        .objects
        .iter()
        .filter(|o| o.value["metadata"]["annotations"]["stackpkg.io/hook"] == json!("test"))
        .map(|o| o.name.as_str())
        .collect();
    for h in [
        "pipe-kafka-test-produce-consume",
        "pipe-zookeeper-test-quorum",
        "pipe-mongodb-test-replica-set",
        "pipe-spark-test-sparkpi",
        "pipe-streaming-analytics-test-endpoints",
    ] {
        assert!(hooks.contains(h), "missing test hook {h}: {hooks:?}");
    }
}

#[test]
fn elasticsearch_discovers_masters_and_drains_data_nodes() {
    let dir = chart_dir("elasticsearch");
    let split = must(
        &dir,
        "s",
        "search",
        &json!({"topology": "split", "data": {"replicaCount": 4}}),
    );
    for sts in ["s-elasticsearch-master", "s-elasticsearch-data"] {
        let c = &find(&split, "StatefulSet", sts)["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            env(c, "discovery.seed_hosts"),
            &json!("s-elasticsearch-master-headless.search.svc.cluster.local:9300")
        );
        assert_eq!(
            env(c, "cluster.initial_master_nodes"),
            &json!("s-elasticsearch-master-0,s-elasticsearch-master-1,s-elasticsearch-master-2")
        );
    }
    let data = &find(&split, "StatefulSet", "s-elasticsearch-data")["spec"]["template"]["spec"]
        ["containers"][0];
    assert_eq!(env(data, "node.roles"), &json!("data,ingest"));
    let pre = data["lifecycle"]["preStop"]["exec"]["command"][2]
        .as_str()
        .unwrap();
    assert!(
        pre.contains("cluster.routing.allocation.exclude._name") && pre.contains("_cat/shards"),
        "{pre}"
    );
    let master = &find(&split, "StatefulSet", "s-elasticsearch-master")["spec"]["template"]["spec"]
        ["containers"][0];
    assert!(
        master["lifecycle"].is_null(),
        "masters hold no shards to drain"
    );
    assert_eq!(
        find(&split, "PodDisruptionBudget", "s-elasticsearch-master")["spec"]["minAvailable"],
        json!(2)
    );
    assert_eq!(
        find(&split, "Service", "s-elasticsearch")["spec"]["selector"]
            ["app.kubernetes.io/component"],
        json!("data")
    );
    // One node: single-node discovery, nothing to drain to.
    let one = must(&dir, "s", "search", &json!({"data": {"replicaCount": 1}}));
    let c =
        &find(&one, "StatefulSet", "s-elasticsearch")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env(c, "discovery.type"), &json!("single-node"));
    assert!(c["lifecycle"].is_null());
    let err = template(&dir, "s", "search", &json!({"security": {"enabled": true}})).unwrap_err();
    assert!(err.contains("security.existingSecret"), "{err}");
}

#[test]
fn search_analytics_endpoints_point_at_its_own_services() {
    let out = must(
        &chart_dir("search-analytics"),
        "logs",
        "search",
        &json!({"elasticsearch": {"ports": {"http": 9201}}}),
    );
    let data = &find(&out, "ConfigMap", "logs-search-analytics-endpoints")["data"];
    assert_eq!(
        data["ELASTICSEARCH_URL"],
        json!("http://logs-elasticsearch.search.svc.cluster.local:9201")
    );
    assert_eq!(
        data["KAFKA_BOOTSTRAP_SERVERS"],
        json!("logs-kafka.search.svc.cluster.local:9092")
    );
    let es = find(&out, "Service", "logs-elasticsearch");
    assert_eq!(es["spec"]["ports"][0]["port"], json!(9201));
    find(&out, "Service", "logs-kafka");
    find(&out, "Pod", "logs-search-analytics-test-endpoints");
    find(&out, "Pod", "logs-elasticsearch-test-health");
    find(&out, "Pod", "logs-kafka-test-produce-consume");
}

#[test]
fn redis_sentinel_and_cluster_wiring() {
    let dir = chart_dir("redis");
    let rep = must(&dir, "cache", "apps", &json!({}));
    let spec = &find(&rep, "StatefulSet", "cache-redis")["spec"]["template"]["spec"];
    let names: Vec<&Value> = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, vec![&json!("redis"), &json!("sentinel")]);
    assert_eq!(
        env(&spec["containers"][0], "HEADLESS"),
        &json!("cache-redis-headless.apps.svc.cluster.local")
    );
    assert_eq!(
        spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"],
        json!(["/bin/bash", "/scripts/prestop.sh"])
    );
    let scripts = &find(&rep, "ConfigMap", "cache-redis-scripts")["data"];
    let sentinel = scripts["start-sentinel.sh"].as_str().unwrap();
    assert!(
        sentinel.contains("sentinel monitor $MASTER_SET $master $REDIS_PORT 2"),
        "{sentinel}"
    );
    let redis = scripts["start-redis.sh"].as_str().unwrap();
    assert!(
        redis.contains("master=\"${master:-$STS-0.$HEADLESS}\""),
        "{redis}"
    );
    assert!(scripts["prestop.sh"]
        .as_str()
        .unwrap()
        .contains("sentinel failover"));
    assert!(
        rep.objects.iter().all(|o| o.kind != "Job"),
        "no cluster hook with Sentinel"
    );

    let cl = must(
        &dir,
        "cache",
        "apps",
        &json!({"architecture": "cluster", "cluster": {"nodes": 9, "replicasPerMaster": 2}}),
    );
    let sts = find(&cl, "StatefulSet", "cache-redis");
    assert_eq!(sts["spec"]["replicas"], json!(9));
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let job = find(&cl, "Job", "cache-redis-cluster-init");
    assert_eq!(
        job["metadata"]["annotations"]["stackpkg.io/hook"],
        json!("post-install,post-upgrade")
    );
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env(c, "REPLICAS_PER_MASTER"), &json!("2"));
    assert!(c["command"][2]
        .as_str()
        .unwrap()
        .contains("--cluster create"));
    let err = template(
        &dir,
        "cache",
        "apps",
        &json!({"architecture": "cluster", "cluster": {"nodes": 5, "replicasPerMaster": 1}}),
    )
    .unwrap_err();
    assert!(err.contains("three masters"), "{err}");
    let err = template(
        &dir,
        "cache",
        "apps",
        &json!({"replication": {"replicaCount": 2, "quorum": 3}}),
    )
    .unwrap_err();
    assert!(err.contains("quorum"), "{err}");
}

#[test]
fn dask_worker_limits_are_mirrored_and_workers_retire() {
    let out = must(
        &chart_dir("dask"),
        "calc",
        "lab",
        &json!({"worker": {"replicaCount": 3, "threads": 2, "memoryMiB": 3072}}),
    );
    let w = &find(&out, "Deployment", "calc-dask-worker")["spec"];
    assert_eq!(w["replicas"], json!(3));
    let c = &w["template"]["spec"]["containers"][0];
    let cmd: Vec<&str> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        cmd[2],
        "tcp://calc-dask-scheduler.lab.svc.cluster.local:8786"
    );
    let after = |flag: &str| cmd[cmd.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(after("--nthreads"), "2");
    assert_eq!(after("--memory-limit"), "3072MiB");
    assert_eq!(
        c["resources"]["limits"],
        json!({"cpu": "2", "memory": "3072Mi"})
    );
    let pre = c["lifecycle"]["preStop"]["exec"]["command"][2]
        .as_str()
        .unwrap();
    assert!(
        pre.contains("retire_workers(names=[os.environ[\"POD_NAME\"]]"),
        "{pre}"
    );
    find(&out, "Service", "calc-dask-scheduler");
}

/// Kubernetes quantity → milli-units (cpu) or bytes (memory).
fn quantity(v: &Value) -> u128 {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a quantity: {other}"),
    };
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let num: f64 = num.parse().unwrap_or_else(|_| panic!("bad quantity {s}"));
    let factor: f64 = match unit {
        "" => 1000.0, // cpu cores → millicores; memory in plain bytes is never used here
        "m" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        other => panic!("unit {other} in {s}"),
    };
    (num * factor) as u128
}

/// With the production values, every chart that enables a ResourceQuota leaves room for all
/// of its pods at their limits (a quota smaller than the release would reject its own pods).
#[test]
fn production_quotas_fit_the_release() {
    for dir in chart_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let out = must(
            &dir,
            "demo",
            "data",
            &read_values(Some(&dir.join("ci/production.yaml"))),
        );
        let Some(quota) = out.objects.iter().find(|o| o.kind == "ResourceQuota") else {
            continue;
        };
        let (mut cpu, mut mem) = (0u128, 0u128);
        for o in &out.objects {
            let (replicas, spec) = match o.kind.as_str() {
                "StatefulSet" | "Deployment" => (
                    o.value["spec"]["replicas"].as_u64().unwrap() as u128,
                    &o.value["spec"]["template"]["spec"],
                ),
                "Job" => (
                    o.value["spec"]["parallelism"].as_u64().unwrap_or(1) as u128,
                    &o.value["spec"]["template"]["spec"],
                ),
                _ => continue,
            };
            for c in spec["containers"].as_array().unwrap() {
                cpu += replicas * quantity(&c["resources"]["limits"]["cpu"]);
                mem += replicas * quantity(&c["resources"]["limits"]["memory"]);
            }
        }
        let hard = &quota.value["spec"]["hard"];
        assert!(
            cpu <= quantity(&hard["limits.cpu"]),
            "{name}: pods need {cpu}m CPU, quota {}",
            hard["limits.cpu"]
        );
        assert!(
            mem <= quantity(&hard["limits.memory"]),
            "{name}: pods need {mem} bytes, quota {}",
            hard["limits.memory"]
        );
    }
}

#[test]
fn tensorflow_tf_config_lists_every_replica() {
    let dir = chart_dir("tensorflow");
    let values = json!({"training": {"replicas": {"chief": {"count": 1}, "ps": {"count": 2}, "worker": {"count": 3}, "evaluator": {"count": 1}}}});
    let out = must(&dir, "ml", "lab", &values);
    let cm = find(&out, "ConfigMap", "ml-tensorflow-training");
    let spec: Value =
        serde_json::from_str(cm["data"]["cluster-spec.json"].as_str().unwrap()).unwrap();
    let host = |t: &str, i: usize| {
        json!(format!(
            "ml-tensorflow-{t}-{i}.ml-tensorflow-training.lab.svc.cluster.local:2222"
        ))
    };
    assert_eq!(
        spec,
        json!({
            "chief": [host("chief", 0)],
            "ps": [host("ps", 0), host("ps", 1)],
            "worker": [host("worker", 0), host("worker", 1), host("worker", 2)],
        }),
        "the evaluator stays out of the cluster spec"
    );
    // Parameter servers never finish: a StatefulSet; the rest are Indexed Jobs on the same subdomain.
    let ps = find(&out, "StatefulSet", "ml-tensorflow-ps");
    assert_eq!(ps["spec"]["serviceName"], json!("ml-tensorflow-training"));
    let worker = find(&out, "Job", "ml-tensorflow-worker");
    assert_eq!(worker["spec"]["completionMode"], json!("Indexed"));
    assert_eq!(worker["spec"]["completions"], json!(3));
    assert_eq!(
        worker["spec"]["template"]["spec"]["subdomain"],
        json!("ml-tensorflow-training")
    );
    let c = &worker["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env(c, "TF_TASK_TYPE"), &json!("worker"));
    let script = c["command"][2].as_str().unwrap();
    assert!(
        script.contains("${JOB_COMPLETION_INDEX:-${HOSTNAME##*-}}"),
        "{script}"
    );
    // ExitCode: 1-127 fail the run, the rest retry.
    let rules = &worker["spec"]["podFailurePolicy"]["rules"];
    assert_eq!(rules[1]["action"], json!("FailJob"));
    let codes = rules[1]["onExitCodes"]["values"].as_array().unwrap();
    assert_eq!(
        (codes.len(), codes[0].clone(), codes[126].clone()),
        (127, json!(1), json!(127))
    );
    assert_eq!(
        worker["spec"]["template"]["spec"]["restartPolicy"],
        json!("Never")
    );
    assert_eq!(
        find(&out, "Job", "ml-tensorflow-chief")["spec"]["template"]["spec"]["restartPolicy"],
        json!("OnFailure")
    );
    find(&out, "Job", "ml-tensorflow-evaluator");
    // Serving reads the volume training writes.
    let serving = find(&out, "Deployment", "ml-tensorflow-serving");
    assert_eq!(
        serving["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        json!("ml-tensorflow-models")
    );
    let err = template(
        &dir,
        "ml",
        "lab",
        &json!({"training": {"replicas": {"worker": {"count": 0}}}}),
    )
    .unwrap_err();
    assert!(err.contains("chief or at least one worker"), "{err}");
}

#[test]
fn ml_workbench_notebook_knows_dask_and_serving() {
    let out = must(
        &chart_dir("ml-workbench"),
        "ws",
        "lab",
        &json!({"dask": {"ports": {"scheduler": 8800}}}),
    );
    let data = &find(&out, "ConfigMap", "ws-ml-workbench-endpoints")["data"];
    assert_eq!(
        data["DASK_SCHEDULER_ADDRESS"],
        json!("tcp://ws-dask-scheduler.lab.svc.cluster.local:8800")
    );
    assert_eq!(
        data["TF_SERVING_GRPC_ADDRESS"],
        json!("ws-tensorflow-serving.lab.svc.cluster.local:8500")
    );
    let sched = find(&out, "Service", "ws-dask-scheduler");
    assert_eq!(sched["spec"]["ports"][0]["port"], json!(8800));
    find(&out, "Service", "ws-tensorflow-serving");
    let nb = &find(&out, "StatefulSet", "ws-jupyter")["spec"]["template"]["spec"]["containers"][0];
    assert!(nb["image"]
        .as_str()
        .unwrap()
        .starts_with("quay.io/jupyter/tensorflow-notebook:"));
    let e = nb["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == json!("DASK_SCHEDULER_ADDRESS"))
        .unwrap();
    assert_eq!(
        e["valueFrom"]["configMapKeyRef"]["name"],
        json!("ws-ml-workbench-endpoints")
    );
}

#[test]
fn storm_finds_zookeeper_and_nimbus_by_release() {
    let out = must(
        &chart_dir("storm"),
        "cep",
        "rt",
        &json!({"nimbus": {"replicaCount": 2}, "supervisor": {"slots": 3}}),
    );
    let conf: Value = serde_yaml::from_str(
        find(&out, "ConfigMap", "cep-storm-config")["data"]["storm.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        conf["storm.zookeeper.servers"],
        json!(["cep-zookeeper.rt.svc.cluster.local"])
    );
    assert_eq!(conf["storm.zookeeper.root"], json!("/storm-rt-cep"));
    assert_eq!(
        conf["nimbus.seeds"],
        json!([
            "cep-storm-nimbus-0.cep-storm-nimbus-headless.rt.svc.cluster.local",
            "cep-storm-nimbus-1.cep-storm-nimbus-headless.rt.svc.cluster.local"
        ])
    );
    assert_eq!(conf["supervisor.slots.ports"], json!([6700, 6701, 6702]));
    let given = must(
        &chart_dir("storm"),
        "cep",
        "rt",
        &json!({"zookeeper": {"servers": ["zk-a", "zk-b"]}}),
    );
    let conf: Value = serde_yaml::from_str(
        find(&given, "ConfigMap", "cep-storm-config")["data"]["storm.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(conf["storm.zookeeper.servers"], json!(["zk-a", "zk-b"]));
}

#[test]
fn realtime_cep_wires_storm_to_its_siblings() {
    let out = must(&chart_dir("realtime-cep"), "cep", "rt", &json!({}));
    let data = &find(&out, "ConfigMap", "cep-realtime-cep-endpoints")["data"];
    assert_eq!(
        data["KAFKA_BOOTSTRAP_SERVERS"],
        json!("cep-kafka.rt.svc.cluster.local:9092")
    );
    assert_eq!(
        data["REDIS_SENTINELS"],
        json!("cep-redis.rt.svc.cluster.local:26379")
    );
    assert_eq!(
        data["CASSANDRA_CONTACT_POINTS"],
        json!("cep-cassandra.rt.svc.cluster.local:9042")
    );
    for svc in [
        "cep-kafka",
        "cep-redis",
        "cep-cassandra",
        "cep-zookeeper",
        "cep-storm",
    ] {
        find(&out, "Service", svc);
    }
    // Storm's default ensemble is the stack's own ZooKeeper.
    let conf: Value = serde_yaml::from_str(
        find(&out, "ConfigMap", "cep-storm-config")["data"]["storm.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        conf["storm.zookeeper.servers"],
        json!(["cep-zookeeper.rt.svc.cluster.local"])
    );
    let sup = &find(&out, "Deployment", "cep-storm-supervisor")["spec"]["template"]["spec"]
        ["containers"][0];
    let e = sup["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == json!("CASSANDRA_CONTACT_POINTS"))
        .unwrap();
    assert_eq!(
        e["valueFrom"]["configMapKeyRef"]["name"],
        json!("cep-realtime-cep-endpoints")
    );
    let err = template(
        &chart_dir("realtime-cep"),
        "cep",
        "rt",
        &json!({"redis": {"architecture": "cluster"}}),
    )
    .unwrap_err();
    assert!(err.contains("Sentinel"), "{err}");
}

#[test]
fn hadoop_mirrors_yarn_limits_and_can_decommission_datanodes() {
    let out = must(
        &chart_dir("hadoop"),
        "dfs",
        "bd",
        &json!({"hdfs": {"datanode": {"replicaCount": 2}}, "yarn": {"nodemanager": {"vcores": 3, "memoryMiB": 4096}}}),
    );
    let cm = &find(&out, "ConfigMap", "dfs-hadoop-config")["data"];
    let hdfs = cm["hdfs-site.xml"].as_str().unwrap();
    assert!(
        hdfs.contains("<name>dfs.replication</name><value>2</value>"),
        "replication capped at the DataNode count: {hdfs}"
    );
    assert!(cm["core-site.xml"]
        .as_str()
        .unwrap()
        .contains("hdfs://dfs-hadoop-namenode.bd.svc.cluster.local:8020"));
    let yarn = cm["yarn-site.xml"].as_str().unwrap();
    assert!(
        yarn.contains("<name>yarn.nodemanager.resource.cpu-vcores</name><value>3</value>"),
        "{yarn}"
    );
    assert!(
        yarn.contains("<name>yarn.nodemanager.resource.memory-mb</name><value>4096</value>"),
        "{yarn}"
    );
    let nm = &find(&out, "Deployment", "dfs-hadoop-nodemanager")["spec"]["template"]["spec"]
        ["containers"][0];
    assert_eq!(
        nm["resources"]["limits"],
        json!({"cpu": "3", "memory": "5120Mi"})
    );
    // DataNodes request decommission through HDFS; the NameNode side writes the exclude file.
    let request = cm["decommission-datanode.sh"].as_str().unwrap();
    assert!(
        request.contains("/system/stackpkg/decommission/$HOSTNAME"),
        "{request}"
    );
    let sync = cm["sync-exclude.sh"].as_str().unwrap();
    assert!(
        sync.contains("/data/namenode/dfs.exclude") && sync.contains("dfsadmin -refreshNodes"),
        "{sync}"
    );
    assert!(cm["start-namenode.sh"]
        .as_str()
        .unwrap()
        .contains("/scripts/sync-exclude.sh"));
    let gate = cm["datanode-decommissioned.sh"].as_str().unwrap();
    assert!(
        gate.contains("Decommission Status : Decommissioned"),
        "{gate}"
    );
    find(&out, "StatefulSet", "dfs-hadoop-namenode");
    assert_eq!(
        find(&out, "StatefulSet", "dfs-hadoop-datanode")["spec"]["replicas"],
        json!(2)
    );
    find(&out, "PodDisruptionBudget", "dfs-hadoop-datanode");
}

/// `stackpkg lint --strict` (warnings fail too) passes for every chart with its defaults and
/// with each of its `ci/*.yaml` files.
#[test]
fn every_chart_passes_strict_lint() {
    let mut failures = Vec::new();
    for dir in chart_dirs() {
        let mut sets = vec![Vec::new()];
        sets.extend(ci_files(&dir).into_iter().map(|p| vec![p]));
        for files in sets {
            let opts = stackpkg::values::ValueOptions {
                values_files: files.clone(),
                ..Default::default()
            };
            let report = action::lint::run(&dir, &opts, true);
            if report.failed(true) {
                failures.push(format!(
                    "{} {files:?}: {:?}",
                    dir.display(),
                    report.findings
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
