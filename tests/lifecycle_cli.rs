//! `lifecycle plan|run`, `test`, `history` and dry-run plans as a user runs them: the
//! binary against the simulator.

mod common;

use std::path::Path;

use common::cluster::{stackpkg, start_blocking, text};
use common::write_tree;
use kube_sim::{Config, ExecRule, LogRule};

fn chart(dir: &Path) {
    write_tree(
        dir,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: db\nversion: 1.0.0\n"),
            ("values.yaml", "replicas: 2\n"),
            (
                "templates/sts.yaml",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {{ release.name }}-db\nspec:\n  replicas: {{ values.replicas }}\n  serviceName: x\n  podManagementPolicy: Parallel\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers: [{name: db, image: db:1}]\n",
            ),
            (
                "templates/test.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ release.name }}-ping\n  annotations: {helm.sh/hook: test}\nspec:\n  restartPolicy: Never\n  containers: [{name: t, image: t:1}]\n",
            ),
            (
                "lifecycle.yaml",
                "steps:\n  - name: drain\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: \"{{ release.name }}-db\"}\n    exec: {container: db, command: [nodetool, drain]}\n",
            ),
        ],
    );
}

#[test]
fn plan_run_test_history_and_dry_run_from_the_command_line() {
    let (sim, dir, kc) = start_blocking(Config::default());
    let c = dir.path().join("db");
    chart(&c);
    let c = c.to_str().unwrap();
    let ns = ["-n", "data"];
    let ok = |args: &[&str]| {
        let out = stackpkg(&kc, &[args, &ns].concat());
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    ok(&["install", "c", c, "--create-namespace", "--wait"]);

    let plan = ok(&["lifecycle", "plan", "c"]);
    assert_eq!(
        plan,
        "pre-delete:\n  1. step drain (weight 0) on StatefulSet c-db, reverse-ordinal, on-failure abort\n     pods: c-db-1, c-db-0\n     exec: nodetool drain in db (timeout 5m, accept exit [0])\ntest:\n  1. hook Pod/c-ping (weight 0)\n"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "lifecycle",
        "plan",
        "c",
        "--event",
        "pre-delete",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        json[0]["units"][0]["pods"],
        serde_json::json!(["c-db-1", "c-db-0"])
    );

    let out = ok(&["lifecycle", "run", "c", "drain", "--pod", "c-db-0"]);
    assert_eq!(out, "drain c-db-0: succeeded\n");
    assert_eq!(sim.execs().len(), 1);
    let bad = stackpkg(
        &kc,
        &[
            "lifecycle",
            "plan",
            "c",
            "--event",
            "sometime",
            "-n",
            "data",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("unknown event \"sometime\""));

    sim.set_log_rules(vec![LogRule {
        pod: "ping".into(),
        container: None,
        text: "pong\n".into(),
    }])
    .unwrap();
    let out = ok(&["test", "c", "--logs"]);
    assert!(out.contains("TEST SUITE:     Pod/c-ping\n"), "{out}");
    assert!(out.contains("Phase:          succeeded\n"), "{out}");
    assert!(out.contains("POD LOGS: c-ping\npong\n"), "{out}");
    let history = ok(&["history", "c"]);
    assert!(history.contains("HOOKS/STEPS"), "{history}");
    assert!(
        history.contains("hook test/c-ping succeeded, step pre-delete/drain succeeded"),
        "{history}"
    );
    // `get hooks` prints the recorded hooks with their last run.
    let hooks: serde_json::Value =
        serde_json::from_str(&ok(&["get", "hooks", "c", "-o", "json"])).unwrap();
    assert_eq!(hooks[0]["name"], "c-ping", "{hooks:#}");
    assert_eq!(hooks[0]["lastRun"]["event"], "test", "{hooks:#}");
    assert_eq!(hooks[0]["lastRun"]["status"], "succeeded", "{hooks:#}");

    let out = ok(&["uninstall", "c", "--dry-run"]);
    assert!(
        out.contains("LIFECYCLE PLAN:\npre-delete:\n  1. step drain"),
        "{out}"
    );
    assert_eq!(sim.execs().len(), 1, "a dry run runs nothing");

    // A failing drain stops the uninstall before anything is deleted.
    sim.set_exec_rules(vec![ExecRule {
        command: Some("drain".into()),
        exit_code: Some(3),
        stderr: Some("nodetool: connection refused\n".into()),
        ..Default::default()
    }])
    .unwrap();
    let out = stackpkg(&kc, &["uninstall", "c", "-n", "data"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("lifecycle step drain (pre-delete) failed on pod c-db-1: nodetool drain: exit code 3; stderr: nodetool: connection refused"),
        "{err}"
    );
    assert!(sim
        .objects()
        .iter()
        .any(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == "c-db"));
}
