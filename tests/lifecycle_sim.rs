//! Hooks and lifecycle steps against the simulator: exact exec order and timing relations
//! taken from `/_sim/execs` and `/_sim/requests`.

mod common;

use std::time::Duration;

use common::cluster::{lock, quiet, Env};
use common::write_tree;
use kube_sim::{Config, ExecRecord, ExecRule, LogRule, ProxyRule, RequestRecord, Timing};
use stackpkg::action::install::install;
use stackpkg::action::lifecycle as lc;
use stackpkg::action::revision::DryRun;
use stackpkg::action::uninstall::{uninstall, UninstallRequest};
use stackpkg::action::upgrade::upgrade;
use stackpkg::kube::ObjectRef;
use stackpkg::lifecycle::hooks::HookStatus;
use stackpkg::lifecycle::{Event, PlannedUnit, RunStatus};
use stackpkg::release::{Driver, Status};

const CHART_YAML: &str = "apiVersion: v2\nname: db\nversion: 0.1.0\n";
const VALUES: &str = "replicas: 3\nversion: \"1\"\nstrategy: RollingUpdate\nfailHook: false\n";
const STS: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ release.name }}-db
spec:
  replicas: {{ values.replicas }}
  serviceName: {{ release.name }}-db
  podManagementPolicy: Parallel
  updateStrategy: {type: {{ values.strategy }}}
  selector:
    matchLabels: {app: "{{ release.name }}-db"}
  template:
    metadata:
      labels: {app: "{{ release.name }}-db", version: "{{ values.version }}"}
    spec:
      containers:
        - name: db
          image: "db:{{ values.version }}"
"#;

// `Env` is common::cluster's; this file's chart, requests and logs.
impl Env {
    /// A chart with the StatefulSet, `lifecycle` as its lifecycle.yaml and extra templates;
    /// requests carry --wait.
    async fn start(lifecycle: &str, extra: &[(&str, &str)]) -> Env {
        let timing = Timing {
            pod_ready_ms: 10,
            job_run_ms: 30,
            ..Default::default()
        };
        let mut chart = vec![
            ("Chart.yaml", CHART_YAML),
            ("values.yaml", VALUES),
            ("templates/statefulset.yaml", STS),
        ];
        if !lifecycle.is_empty() {
            chart.push(("lifecycle.yaml", lifecycle));
        }
        let mut env = Env::with_chart(
            Config {
                timing,
                ..Default::default()
            },
            &chart,
        )
        .await;
        write_tree(&env.dir.path().join("chart/templates"), extra);
        env.settings.wait = true;
        env
    }

    fn uninstall_req(&self) -> UninstallRequest {
        UninstallRequest {
            keep_history: true,
            timeout: Duration::from_secs(10),
            ..UninstallRequest::new("r", "apps", lock())
        }
    }

    async fn install(&self, set: &[&str]) {
        let rel = self.install_ok("r", set).await;
        assert_eq!(rel.status, Status::Deployed);
    }

    async fn replicas(&self) -> i64 {
        let r = ObjectRef {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            namespace: Some("apps".into()),
            name: "r-db".into(),
        };
        self.cluster.get(&r).await.unwrap().unwrap()["spec"]["replicas"]
            .as_i64()
            .unwrap()
    }

    /// Execs whose command contains `word`, in start order.
    fn execs(&self, word: &str) -> Vec<ExecRecord> {
        self.sim
            .execs()
            .into_iter()
            .filter(|e| e.command.join(" ").contains(word))
            .collect()
    }

    fn requests(&self, verb: &str, path_end: &str) -> Vec<RequestRecord> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.verb == verb && r.path.ends_with(path_end))
            .collect()
    }
}

fn pods(e: &[ExecRecord]) -> Vec<&str> {
    e.iter().map(|e| e.pod.as_str()).collect()
}

const CASSANDRA: &str = r#"steps:
  - name: drain
    on: [pre-delete]
    target: {kind: StatefulSet, name: "{{ release.name }}-db"}
    exec: {container: db, command: [nodetool, drain], timeout: 5s}
  - name: decommission
    on: [pre-scale-down]
    target: {kind: StatefulSet, name: "{{ release.name }}-db", pods: removed}
    exec: {container: db, command: [nodetool, decommission], timeout: 5s}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_drains_highest_ordinal_first_before_deleting() {
    let env = Env::start(CASSANDRA, &[]).await;
    env.install(&[]).await;
    // Each drain takes a while, so overlapping or early deletes would show.
    env.sim
        .set_exec_rules(vec![ExecRule {
            command: Some("drain".into()),
            delay_ms: Some(50),
            ..Default::default()
        }])
        .unwrap();
    let rel = uninstall(&env.cluster, &env.driver, &env.uninstall_req(), &quiet)
        .await
        .unwrap();
    assert_eq!(rel.status, Status::Uninstalled);
    let drains = env.execs("nodetool drain");
    assert_eq!(pods(&drains), ["r-db-2", "r-db-1", "r-db-0"]);
    for w in drains.windows(2) {
        assert!(w[0].finished.as_deref().unwrap() <= w[1].started.as_str());
    }
    let deletes = env.requests("delete", "/statefulsets/r-db");
    assert_eq!(deletes.len(), 1);
    let last_drain = drains[2].finished.clone().unwrap();
    assert!(
        last_drain <= deletes[0].time,
        "drained at {last_drain}, deleted at {}",
        deletes[0].time
    );
    assert!(drains
        .iter()
        .all(|d| d.container == "db" && d.exit_code == Some(0)));
    // The outcomes are in the record.
    let ok: Vec<_> = rel
        .lifecycle
        .runs
        .iter()
        .filter(|r| r.event == Event::PreDelete && r.status == RunStatus::Succeeded)
        .map(|r| r.pod.as_str())
        .collect();
    assert_eq!(ok, ["r-db-2", "r-db-1", "r-db-0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_decommissions_removed_pods_before_patching_replicas() {
    let env = Env::start(CASSANDRA, &[]).await;
    env.install(&["replicas=5"]).await;
    let before = env.sim.requests().len();
    let rel = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("r", &["replicas=3"]),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(rel.status, Status::Deployed);
    let dec = env.execs("decommission");
    assert_eq!(pods(&dec), ["r-db-4", "r-db-3"]);
    assert!(env
        .sim
        .execs()
        .iter()
        .all(|e| !["r-db-0", "r-db-1", "r-db-2"].contains(&e.pod.as_str())));
    let patches: Vec<_> = env.sim.requests()[before..]
        .iter()
        .filter(|r| r.verb == "patch" && r.path.ends_with("/statefulsets/r-db"))
        .cloned()
        .collect();
    assert_eq!(patches.len(), 1);
    assert!(dec[1].finished.as_deref().unwrap() <= patches[0].time.as_str());
    assert_eq!(env.replicas().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_decommission_scales_nothing_and_fails_the_release() {
    let env = Env::start(CASSANDRA, &[]).await;
    env.install(&["replicas=5"]).await;
    env.sim
        .set_exec_rules(vec![ExecRule {
            pod: Some("-4$".into()),
            command: Some("decommission".into()),
            stderr: Some("error: node is not in the ring\n".into()),
            exit_code: Some(2),
            ..Default::default()
        }])
        .unwrap();
    let err = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("r", &["replicas=3"]),
        &quiet,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("lifecycle step decommission (pre-scale-down) failed on pod r-db-4"),
        "{err}"
    );
    assert!(
        err.contains("exit code 2; stderr: error: node is not in the ring"),
        "{err}"
    );
    // -4 failed, so -3 was never touched.
    assert_eq!(pods(&env.execs("decommission")), ["r-db-4"]);
    assert_eq!(env.replicas().await, 5);
    let h = env.driver.history("apps", "r").await.unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].status, Status::Deployed);
    assert_eq!(h[1].status, Status::Failed);
    assert!(h[1].description.contains("node is not in the ring"));
    assert!(env
        .requests("patch", "/statefulsets/r-db")
        .iter()
        .all(|p| p.time < env.execs("decommission")[0].started));
}

const KAFKA: &str = r#"steps:
  - name: roll
    on: [rollout]
    target: {kind: StatefulSet, name: "{{ release.name }}-db"}
    exec: {container: db, command: [kafka-server-stop.sh], timeout: 5s}
    gate:
      exec: {container: db, command: [sh, -c, "urp-count"]}
      interval: 50ms
      timeout: 5s
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_replaces_one_pod_at_a_time_after_each_gate() {
    let env = Env::start(KAFKA, &[]).await;
    env.install(&["strategy=OnDelete"]).await;
    // The gate fails twice on each pod before passing: retries are visible.
    env.sim
        .set_exec_rules(vec![
            ExecRule {
                pod: Some("-2$".into()),
                command: Some("urp-count".into()),
                exit_code: Some(1),
                times: Some(2),
                ..Default::default()
            },
            ExecRule {
                pod: Some("-1$".into()),
                command: Some("urp-count".into()),
                exit_code: Some(1),
                times: Some(2),
                ..Default::default()
            },
        ])
        .unwrap();
    let before = env.sim.requests().len();
    let rel = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("r", &["strategy=OnDelete", "version=2"]),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(rel.status, Status::Deployed, "{}", rel.description);
    let stops = env.execs("kafka-server-stop.sh");
    assert_eq!(pods(&stops), ["r-db-2", "r-db-1", "r-db-0"]);
    let gates = env.execs("urp-count");
    let per_pod = |p: &str| gates.iter().filter(|g| g.pod == p).count();
    assert_eq!(
        (per_pod("r-db-2"), per_pod("r-db-1"), per_pod("r-db-0")),
        (3, 3, 1)
    );
    let deletes: Vec<RequestRecord> = env.sim.requests()[before..]
        .iter()
        .filter(|r| r.verb == "delete" && r.path.contains("/pods/r-db-"))
        .cloned()
        .collect();
    assert_eq!(deletes.len(), 3);
    // Never delete a pod before the previous pod's gate passed.
    let passed = |p: &str| {
        gates
            .iter()
            .filter(|g| g.pod == p && g.exit_code == Some(0))
            .map(|g| g.finished.clone().unwrap())
            .next()
            .unwrap()
    };
    assert!(deletes[0].path.ends_with("r-db-2"));
    assert!(deletes[1].path.ends_with("r-db-1") && passed("r-db-2") <= deletes[1].time);
    assert!(deletes[2].path.ends_with("r-db-0") && passed("r-db-1") <= deletes[2].time);
    // Every pod runs the new template now, and the progress is recorded.
    for o in env.sim.objects().iter().filter(|o| o["kind"] == "Pod") {
        assert_eq!(o["metadata"]["labels"]["version"], "2");
    }
    let p = &rel.lifecycle.rollouts[0];
    assert!(p.complete);
    assert_eq!(p.done, ["r-db-2", "r-db-1", "r-db-0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_rollout_resumes_on_the_next_upgrade_and_gate_timeouts_fail() {
    let lifecycle = KAFKA.replace("timeout: 5s\n", "timeout: 300ms\n");
    let env = Env::start(&lifecycle, &[]).await;
    env.install(&["strategy=OnDelete"]).await;
    // Pod -1's gate never passes: the rollout stops after replacing it, before -0.
    env.sim
        .set_exec_rules(vec![ExecRule {
            pod: Some("-1$".into()),
            command: Some("urp-count".into()),
            exit_code: Some(1),
            stdout: Some("3 under-replicated partitions\n".into()),
            ..Default::default()
        }])
        .unwrap();
    let up = env.upgrade_req("r", &["strategy=OnDelete", "version=2"]);
    let err = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step roll (rollout) failed on pod r-db-1"),
        "{err}"
    );
    assert!(err.contains("did not pass within 300ms"), "{err}");
    assert!(err.contains("3 under-replicated partitions"), "{err}");
    let gates = env.execs("urp-count");
    assert!(
        gates.iter().filter(|g| g.pod == "r-db-1").count() >= 3,
        "retried every 50ms"
    );
    assert!(env
        .execs("kafka-server-stop.sh")
        .iter()
        .all(|e| e.pod != "r-db-0"));
    let h = env.driver.history("apps", "r").await.unwrap();
    let failed = h.last().unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.lifecycle.rollouts[0].done, ["r-db-2"]);
    assert_eq!(failed.lifecycle.rollouts[0].remaining, ["r-db-1", "r-db-0"]);

    // Fixed: the next upgrade (same chart) skips -2 and -1, already on the new revision,
    // and replaces only -0.
    env.sim.set_exec_rules(vec![]).unwrap();
    let n = env.sim.execs().len();
    let rel = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(rel.status, Status::Deployed);
    let stops: Vec<_> = env.sim.execs()[n..]
        .iter()
        .filter(|e| e.command[0] == "kafka-server-stop.sh")
        .map(|e| e.pod.clone())
        .collect();
    assert_eq!(stops, ["r-db-0"]);
    assert!(rel.lifecycle.rollouts[0].complete);
}

const HOOKS_AND_STEPS: &str = r#"steps:
  - name: first
    on: [pre-delete]
    weight: -1
    target: {kind: StatefulSet, name: "{{ release.name }}-db", order: ordinal}
    exec: {container: db, command: [step-first]}
  - name: last
    on: [pre-delete]
    weight: 10
    target: {kind: StatefulSet, name: "{{ release.name }}-db", order: parallel, parallelism: 3}
    exec: {container: db, command: [step-last]}
"#;

const HOOK_JOB: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ release.name }}-backup
  annotations:
    "helm.sh/hook": pre-delete
    "helm.sh/hook-weight": "5"
    "stackpkg.io/hook-delete-policy": hook-succeeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: backup, image: backup:1}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_steps_interleave_by_weight() {
    let env = Env::start(HOOKS_AND_STEPS, &[("backup.yaml", HOOK_JOB)]).await;
    env.install(&[]).await;
    // The hook is not part of the release.
    let h = env.driver.history("apps", "r").await.unwrap();
    assert!(!h[0].manifest.contains("r-backup"));
    assert_eq!(h[0].hooks.len(), 1);
    assert!(env.sim.objects().iter().all(|o| o["kind"] != "Job"));
    let plans = lc::plan(
        env.cluster.as_ref(),
        &env.driver,
        "apps",
        "r",
        Some(Event::PreDelete),
    )
    .await
    .unwrap();
    let names: Vec<String> = plans[0]
        .units
        .iter()
        .map(|u| match u {
            PlannedUnit::Hook { name, .. } => format!("hook {name}"),
            PlannedUnit::Step { name, pods, .. } => format!("step {name} {}", pods.join(",")),
        })
        .collect();
    assert_eq!(
        names,
        [
            "step first r-db-0,r-db-1,r-db-2",
            "hook r-backup",
            "step last r-db-0,r-db-1,r-db-2"
        ]
    );
    let rel = uninstall(&env.cluster, &env.driver, &env.uninstall_req(), &quiet)
        .await
        .unwrap();
    let first = env.execs("step-first");
    let last = env.execs("step-last");
    assert_eq!(pods(&first), ["r-db-0", "r-db-1", "r-db-2"]);
    assert_eq!(last.len(), 3);
    let job_create = env.requests("create", "/jobs");
    assert_eq!(job_create.len(), 1);
    let job_delete = env.requests("delete", "/jobs/r-backup");
    assert!(first[2].finished.as_deref().unwrap() <= job_create[0].time.as_str());
    // The hook completed (and was deleted by policy) before the weight-10 step started.
    assert!(job_delete[0].time <= last.iter().map(|e| e.started.clone()).min().unwrap());
    assert_eq!(
        rel.hooks[0].last_run.as_ref().unwrap().status,
        HookStatus::Succeeded
    );
}

const FAILING_HOOK: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: {{ release.name }}-migrate
  annotations:
    "stackpkg.io/hook": pre-install,pre-upgrade
    "sim.stackpkg.io/fail": "{{ values.failHook }}"
spec:
  restartPolicy: Never
  containers: [{name: migrate, image: m:1}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_hook_fails_the_install_with_its_logs_and_no_hooks_skips_it() {
    let env = Env::start("", &[("migrate.yaml", FAILING_HOOK)]).await;
    env.sim
        .set_log_rules(vec![LogRule {
            pod: "migrate".into(),
            container: None,
            text: (1..=15).map(|i| format!("line {i}\n")).collect(),
        }])
        .unwrap();
    let err = install(
        &env.cluster,
        &env.driver,
        &env.install_req("r", &["failHook=true"]),
        &quiet,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("hook Pod/r-migrate (pre-install) failed: the Pod failed"),
        "{err}"
    );
    assert!(err.contains("last log lines:\nline 6\n"), "{err}");
    assert!(
        err.contains("line 15") && !err.contains("line 5\n"),
        "{err}"
    );
    // The pre-install hook failed, so nothing of the release was applied.
    assert!(env.sim.objects().iter().all(|o| o["kind"] != "StatefulSet"));
    let h = env.driver.history("apps", "r").await.unwrap();
    assert_eq!(h[0].status, Status::Failed);
    assert_eq!(
        h[0].hooks[0].last_run.as_ref().unwrap().status,
        HookStatus::Failed
    );

    // --no-hooks: the upgrade applies without creating the hook.
    let mut up = env.upgrade_req("r", &["failHook=true"]);
    up.settings.no_hooks = true;
    let n = env.requests("create", "/pods").len();
    let rel = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    assert_eq!(rel.status, Status::Deployed);
    assert!(
        env.requests("create", "/pods").len() == n,
        "no hook pod created"
    );
    assert!(rel.hooks[0].last_run.is_none());
}

const TEST_HOOK: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: {{ release.name }}-test-{{ item }}
  annotations: {"helm.sh/hook": test, "sim.stackpkg.io/fail": "{{ 'true' if item == 'b' else 'false' }}"}
spec:
  restartPolicy: Never
  containers: [{name: t, image: t:1}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_runs_each_test_hook_and_reports_it() {
    let tests = format!(
        "{{% for item in ['a', 'b'] %}}\n---\n{}{{% endfor %}}\n",
        TEST_HOOK
    );
    let env = Env::start("", &[("tests.yaml", &tests)]).await;
    env.install(&[]).await;
    assert!(env
        .sim
        .objects()
        .iter()
        .all(|o| o["metadata"]["name"] != "r-test-a"));
    env.sim
        .set_log_rules(vec![LogRule {
            pod: "test-a".into(),
            container: None,
            text: "all good\n".into(),
        }])
        .unwrap();
    let req = lc::TestRequest {
        name: "r".into(),
        namespace: "apps".into(),
        timeout: Duration::from_secs(10),
        logs: true,
        lock: lock(),
    };
    let (results, err) = lc::test(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].name, "r-test-a");
    assert_eq!(results[0].status, HookStatus::Succeeded);
    assert_eq!(results[0].logs.as_deref(), Some("all good\n"));
    assert_eq!(results[1].status, HookStatus::Failed);
    assert!(err
        .unwrap()
        .to_string()
        .contains("hook Pod/r-test-b (test) failed"));
    let h = env.driver.history("apps", "r").await.unwrap();
    assert_eq!(
        h[0].hooks[1].last_run.as_ref().unwrap().status,
        HookStatus::Failed
    );
}

const ES: &str = r#"steps:
  - name: exclude
    on: [pre-upgrade]
    target: {selector: "app={{ release.name }}-db", order: ordinal}
    exec: {container: db, command: [curl, -XPUT, "localhost:9200/_cluster/settings"], accept-exit-codes: [0, 7]}
    gate:
      http: {port: 9200, path: "/_cluster/health?wait_for_status=green", expect-status: [200]}
      interval: 50ms
      timeout: 2s
    on-failure: continue
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_gates_accept_codes_continue_and_by_hand_runs() {
    let env = Env::start(ES, &[]).await;
    env.install(&["replicas=2"]).await;
    env.sim
        .set_exec_rules(vec![ExecRule {
            command: Some("curl".into()),
            exit_code: Some(7),
            ..Default::default()
        }])
        .unwrap();
    env.sim
        .set_proxy_rules(vec![
            ProxyRule {
                pod: Some("-0$".into()),
                port: Some(9200),
                status: 408,
                times: Some(2),
                ..Default::default()
            },
            ProxyRule {
                pod: Some("-0$".into()),
                port: Some(9200),
                path: Some("^/_cluster/health".into()),
                status: 200,
                ..Default::default()
            },
            // -1 stays red (500: kube-rs's own retries leave it alone, unlike 503).
            ProxyRule {
                pod: Some("-1$".into()),
                status: 500,
                body: Some("{\"status\":\"red\"}".into()),
                ..Default::default()
            },
        ])
        .unwrap();
    // -1 never turns green: `continue` records the failure and the upgrade goes on.
    let rel = upgrade(
        &env.cluster,
        &env.driver,
        &env.upgrade_req("r", &["replicas=2", "version=2"]),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(rel.status, Status::Deployed);
    let runs: Vec<_> = rel
        .lifecycle
        .runs
        .iter()
        .map(|r| (r.pod.as_str(), r.status))
        .collect();
    assert_eq!(
        runs,
        [
            ("r-db-0", RunStatus::Succeeded),
            ("r-db-1", RunStatus::FailedContinued)
        ]
    );
    let m = &rel.lifecycle.runs[1].message;
    assert!(
        m.contains("did not pass within 2s") && m.contains("HTTP 500: {\"status\":\"red\"}"),
        "{m}"
    );
    let proxies = env.sim.proxies();
    let zero: Vec<u16> = proxies
        .iter()
        .filter(|p| p.pod == "r-db-0")
        .map(|p| p.status)
        .collect();
    assert_eq!(zero, [408, 408, 200]);
    assert_eq!(proxies[0].path, "/_cluster/health?wait_for_status=green");

    // By hand, on one pod.
    env.sim
        .set_proxy_rules(vec![ProxyRule {
            status: 200,
            ..Default::default()
        }])
        .unwrap();
    let n = env.sim.execs().len();
    let req = lc::RunStepRequest {
        name: "r".into(),
        namespace: "apps".into(),
        step: "exclude".into(),
        pod: Some("r-db-1".into()),
        timeout: Duration::from_secs(5),
        lock: lock(),
    };
    let runs = lc::run_step(&env.cluster, &env.driver, &req, &quiet)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_eq!(pods(&env.sim.execs()[n..]), ["r-db-1"]);
    let bad = lc::RunStepRequest {
        pod: Some("nope-0".into()),
        ..req.clone()
    };
    let e = lc::run_step(&env.cluster, &env.driver, &bad, &quiet)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e
        .to_string()
        .contains("pod nope-0 is not a target of step exclude (targets: r-db-0, r-db-1)"));
    let bad = lc::RunStepRequest {
        step: "drain".into(),
        ..req
    };
    let e = lc::run_step(&env.cluster, &env.driver, &bad, &quiet)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("has no lifecycle step \"drain\" (steps: exclude)"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_print_the_plan_and_change_nothing() {
    let env = Env::start(CASSANDRA, &[]).await;
    env.install(&["replicas=5"]).await;
    let mut up = env.upgrade_req("r", &["replicas=3"]);
    up.settings.dry_run = DryRun::Client;
    let rel = upgrade(&env.cluster, &env.driver, &up, &quiet)
        .await
        .unwrap();
    let text: String = rel.lifecycle.plans.iter().map(|p| p.render()).collect();
    assert!(text.contains("pre-scale-down:\n  1. step decommission (weight 0) on StatefulSet r-db, reverse-ordinal, on-failure abort\n     pods: r-db-4, r-db-3\n     exec: nodetool decommission in db (timeout 5s, accept exit [0])\n"), "{text}");
    let mut un = env.uninstall_req();
    un.dry_run = true;
    let rel = uninstall(&env.cluster, &env.driver, &un, &quiet)
        .await
        .unwrap();
    let text: String = rel.lifecycle.plans.iter().map(|p| p.render()).collect();
    assert!(
        text.contains("pods: r-db-4, r-db-3, r-db-2, r-db-1, r-db-0"),
        "{text}"
    );
    assert!(env.sim.execs().is_empty());
    assert_eq!(env.replicas().await, 5);
    let h = env.driver.history("apps", "r").await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].status, Status::Deployed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_lifecycle_file_names_file_step_and_field() {
    let bad = CASSANDRA.replace("timeout: 5s", "timeout: soon");
    let env = Env::start(&bad, &[]).await;
    let err = install(
        &env.cluster,
        &env.driver,
        &env.install_req("r", &[]),
        &quiet,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("db/lifecycle.yaml: step \"drain\" (steps[0]), field exec.timeout:"),
        "{err}"
    );
    assert!(env.sim.objects().iter().all(|o| o["kind"] != "StatefulSet"));
}
