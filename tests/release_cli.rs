//! The release commands as a user runs them: the binary against the simulator.

mod common;

use std::path::Path;
use std::process::Command;

use common::cluster::{stackpkg, stackpkg_cmd, start_blocking, text};
use common::write_tree;
use kube_sim::{BlockingSimulator, Config};

fn chart(dir: &Path) {
    write_tree(
        dir,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: \"2.0\"\n",
            ),
            ("values.yaml", "greeting: hello\n"),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\ndata:\n  greeting: {{ values.greeting }}\n",
            ),
            (
                "templates/NOTES.txt",
                "Say {{ values.greeting }} to {{ release.name }}.\nrevision {{ release.revision }}, upgrade {{ release.is_upgrade }}, install {{ release.is_install }}\n",
            ),
        ],
    );
}

#[test]
fn install_list_history_status_upgrade_uninstall() {
    let (_sim, dir, kc) = start_blocking(Config::default());
    let c = dir.path().join("app");
    chart(&c);
    let c = c.to_str().unwrap();

    let out = stackpkg(
        &kc,
        &[
            "install",
            "hi",
            c,
            "-n",
            "team",
            "--create-namespace",
            "--wait",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("NAME: hi\nNAMESPACE: team\nSTATUS: deployed\nREVISION: 1\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("NOTES:\nSay hello to hi.\nrevision 1, upgrade false, install true\n"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("applied ConfigMap team/hi-cm"));

    let out = stackpkg(
        &kc,
        &["upgrade", "hi", c, "-n", "team", "--set", "greeting=hey"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("REVISION: 2\n"), "{stdout}");
    assert!(
        stdout.contains("Say hey to hi.\nrevision 2, upgrade true, install false\n"),
        "{stdout}"
    );

    let out = stackpkg(&kc, &["list", "-A", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["name"], "hi");
    assert_eq!(v[0]["namespace"], "team");
    assert_eq!(v[0]["revision"], 2);
    assert_eq!(v[0]["status"], "deployed");
    assert_eq!(v[0]["chart"], "app-1.0.0");
    assert_eq!(v[0]["appVersion"], "2.0");

    // Default namespace of the context is `default`: nothing there.
    let out = stackpkg(&kc, &["list"]);
    assert_eq!(
        text(&out.stdout),
        "NAME  NAMESPACE  REVISION  UPDATED  STATUS  CHART  APP VERSION\n"
    );

    let out = stackpkg(&kc, &["history", "hi", "-n", "team"]);
    let h = text(&out.stdout);
    let lines: Vec<&str> = h.lines().collect();
    assert_eq!(lines.len(), 3, "{h}");
    assert!(lines[0].starts_with("REVISION"));
    assert!(
        lines[1].starts_with("1 ") && lines[1].contains("superseded"),
        "{h}"
    );
    assert!(
        lines[2].starts_with("2 ")
            && lines[2].contains("deployed")
            && lines[2].ends_with("Upgrade complete"),
        "{h}"
    );

    let out = stackpkg(&kc, &["status", "hi", "-n", "team", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["values"], serde_json::json!({"greeting": "hey"}));
    assert_eq!(v["computedValues"], serde_json::json!({"greeting": "hey"}));
    assert_eq!(
        v["notes"],
        "Say hey to hi.\nrevision 2, upgrade true, install false\n"
    );

    let out = stackpkg(&kc, &["status", "hi", "-n", "team", "--revision", "1"]);
    assert!(text(&out.stdout).contains("STATUS: superseded\n"));

    let out = stackpkg(&kc, &["uninstall", "hi", "-n", "team"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "release \"hi\" uninstalled\n");

    let out = stackpkg(&kc, &["status", "hi", "-n", "team"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error: release hi not found in namespace team\n"
    );
}

#[test]
fn usage_and_connection_errors() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let out = stackpkg(&kc, &["install", "Bad_Name", "."]);
    assert_eq!(out.status.code(), Some(2));
    let out = stackpkg(&kc, &["install", "ok", ".", "--timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"soon\" is not a duration"));

    // A kubeconfig that is not YAML: one line naming the file, exit 1.
    std::fs::write(&kc, "{{{ not yaml").unwrap();
    let out = stackpkg(&kc, &["list", "--kubeconfig", kc.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("Error: kubeconfig: ") && err.contains("kubeconfig"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // Nothing listening: connection failures are retried, then reported.
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"http://127.0.0.1:9\"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n",
    )
    .unwrap();
    let out = stackpkg(&kc, &["list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("gave up after 6 attempts"), "{err}");
}

#[test]
fn memory_storage_applies_but_records_nothing() {
    let (sim, dir, kc) = start_blocking(Config::default());
    let c = dir.path().join("app");
    chart(&c);
    let out = stackpkg_cmd(&kc)
        .args(["install", "mem", c.to_str().unwrap()])
        .env("STACKPKG_STORAGE", "memory")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let objs = sim.objects();
    assert!(objs
        .iter()
        .any(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "mem-cm"));
    assert!(!objs.iter().any(|o| o["kind"] == "Secret"));

    let out = stackpkg_cmd(&kc)
        .args(["list"])
        .env("STACKPKG_STORAGE", "etcd")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn kube_context_selects_cluster_and_namespace() {
    let sim = BlockingSimulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster: {{server: \"{}\"}}\n- name: dead\n  cluster: {{server: \"http://127.0.0.1:9\"}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: other\n  context: {{cluster: sim, user: u, namespace: otherns}}\n- name: dead\n  context: {{cluster: dead, user: u}}\ncurrent-context: dead\n",
            sim.url()
        ),
    )
    .unwrap();
    let c = dir.path().join("app");
    chart(&c);
    let out = stackpkg(
        &kc,
        &[
            "install",
            "ctx",
            c.to_str().unwrap(),
            "--kube-context",
            "other",
            "--create-namespace",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("NAMESPACE: otherns\n"));
    // -n overrides the context's namespace.
    let out = stackpkg(
        &kc,
        &[
            "list",
            "--kube-context",
            "other",
            "-n",
            "default",
            "-o",
            "json",
        ],
    );
    assert_eq!(text(&out.stdout).trim(), "[]");

    let out = stackpkg(&kc, &["list", "--kube-context", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("Error: kubeconfig: ") && err.contains("nope"),
        "{err}"
    );
}

/// kill -9 in the middle of an upgrade, at several points; after the dead command's lock
/// expires, a normal upgrade succeeds and the history is consistent.
#[test]
fn kill_9_during_upgrade_then_recover() {
    let (sim, dir, kc) = start_blocking(Config::default());
    let c = dir.path().join("app");
    chart(&c);
    let c = c.to_str().unwrap();
    let out = stackpkg(&kc, &["install", "k9", c]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Every write is slow, so the kill lands mid-operation.
    sim.set_faults(vec![kube_sim::FaultRule {
        verb: Some("patch".into()),
        latency_ms: Some(400),
        ..Default::default()
    }])
    .unwrap();
    let mut expected_rev = 1;
    for kill_after_ms in [150u64, 700, 1100] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stackpkg"))
            .args([
                "upgrade",
                "k9",
                c,
                "--set",
                "greeting=killed",
                "--lock-timeout",
                "1s",
            ])
            .env("KUBECONFIG", &kc)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(kill_after_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // A record may or may not have been written before the kill: count what is stored.
        // Let the dead holder's lock (1s) expire.
        std::thread::sleep(std::time::Duration::from_millis(1300));
        let out = stackpkg(&kc, &["history", "k9", "-o", "json"]);
        let before: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let last_before = before.as_array().unwrap().last().unwrap()["revision"]
            .as_u64()
            .unwrap();
        expected_rev = last_before + 1;
    }
    sim.set_faults(vec![]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let out = stackpkg(&kc, &["upgrade", "k9", c, "--set", "greeting=fine"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("REVISION: {expected_rev}\n")));

    let out = stackpkg(&kc, &["history", "k9", "-o", "json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let h = h.as_array().unwrap();
    let statuses: Vec<&str> = h.iter().map(|r| r["status"].as_str().unwrap()).collect();
    // Exactly one deployed revision, the last; nothing left pending.
    assert_eq!(statuses.last(), Some(&"deployed"), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == "deployed").count(),
        1,
        "{statuses:?}"
    );
    assert!(
        !statuses.iter().any(|s| s.starts_with("pending")),
        "{statuses:?}"
    );
    let revs: Vec<u64> = h.iter().map(|r| r["revision"].as_u64().unwrap()).collect();
    assert_eq!(revs, (1..=expected_rev).collect::<Vec<_>>());
    // Every interrupted revision says so.
    for r in &h[1..h.len() - 1] {
        let d = r["description"].as_str().unwrap();
        assert!(
            d.starts_with("Interrupted: ") || d.starts_with("Upgrade complete"),
            "{d}"
        );
    }
    assert!(
        h.iter().any(|r| r["description"]
            .as_str()
            .unwrap()
            .starts_with("Interrupted: ")),
        "at least one kill landed after the record was written: {h:?}"
    );
    assert!(!sim
        .objects()
        .iter()
        .any(|o| o["kind"] == "Lease" && o["metadata"]["name"] == "stackpkg.lock.k9"));
}

/// `install` and `upgrade` take any chart reference `template` takes: a packaged .tgz and
/// `REPO/CHART` with `--version` from a repository served by `stackpkg repo serve`.
#[test]
fn install_and_upgrade_from_package_and_repository() {
    let (sim, dir, kc) = start_blocking(Config::default());
    let c = dir.path().join("app");
    chart(&c);
    let pk = dir.path().join("pk");
    let run = |args: &[&str]| {
        let out = stackpkg_cmd(&kc)
            .args(args)
            .env("STACKPKG_CONFIG_HOME", dir.path().join("config"))
            .env("STACKPKG_CACHE_HOME", dir.path().join("cache"))
            .output()
            .expect("binary runs");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    run(&["package", c.to_str().unwrap(), "-d", pk.to_str().unwrap()]);
    let tgz = pk.join("app-1.0.0.tgz");
    assert!(tgz.is_file());

    run(&[
        "install",
        "fromtgz",
        tgz.to_str().unwrap(),
        "-n",
        "team",
        "--create-namespace",
    ]);

    let srv = stackpkg::repo::serve::spawn(&stackpkg::repo::serve::ServeOptions {
        dir: pk.clone(),
        addr: "127.0.0.1:0".into(),
        auth: None,
        allow_overwrite: false,
        max_upload_size: 1 << 20,
        base_url: None,
        tls: None,
    })
    .unwrap();
    run(&["repo", "add", "local", &srv.url()]);
    let out = run(&[
        "install",
        "fromrepo",
        "local/app",
        "--version",
        "1.0.0",
        "-n",
        "team",
    ]);
    assert!(out.contains("STATUS: deployed"), "{out}");
    let out = run(&[
        "upgrade",
        "fromrepo",
        "local/app",
        "--version",
        "^1",
        "-n",
        "team",
        "--set",
        "greeting=hey",
    ]);
    assert!(out.contains("REVISION: 2"), "{out}");

    let cm = |name: &str| {
        sim.objects().into_iter().find(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == "team"
        })
    };
    assert_eq!(
        cm("fromtgz-cm").expect("installed")["data"]["greeting"],
        "hello"
    );
    assert_eq!(
        cm("fromrepo-cm").expect("upgraded")["data"]["greeting"],
        "hey"
    );
}

#[test]
fn quiet_prints_only_errors_and_plain_lines_when_not_a_tty() {
    let (_sim, dir, kc) = start_blocking(Config::default());
    let c = dir.path().join("app");
    chart(&c);
    let c = c.to_str().unwrap();

    // stderr is a pipe here: the plain lines, one per event, as before the live view.
    let out = stackpkg(&kc, &["install", "loud", c, "-n", "default", "--wait"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "applied ConfigMap default/loud-cm\nready ConfigMap default/loud-cm\n"
    );

    let out = stackpkg(
        &kc,
        &["install", "hush", c, "-n", "default", "--wait", "--quiet"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert!(text(&out.stdout).contains("NAME: hush\n"));

    let out = stackpkg(
        &kc,
        &[
            "upgrade",
            "hush",
            c,
            "-n",
            "default",
            "-q",
            "--set",
            "greeting=hey",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let out = stackpkg(&kc, &["rollback", "hush", "1", "-n", "default", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let out = stackpkg(&kc, &["uninstall", "hush", "-n", "default", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(text(&out.stdout), "release \"hush\" uninstalled\n");

    // Errors still reach stderr, with exit code 1.
    let out = stackpkg(&kc, &["uninstall", "hush", "-n", "default", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error: release hush not found in namespace default\n"
    );
}

/// On a terminal (a pseudo-terminal from util-linux `script`) stderr carries the indicatif
/// view instead of one line per object: counts, and the slowest object while waiting.
#[test]
fn live_view_on_a_terminal_names_the_slowest_object() {
    let (_sim, dir, kc) = start_blocking(Config {
        timing: kube_sim::Timing {
            pod_ready_ms: 2500,
            ..Default::default()
        },
        ..Default::default()
    });
    let c = dir.path().join("app");
    chart(&c);
    std::fs::write(
        c.join("templates/deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ release.name }}-web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - {name: web, image: nginx:1.27}\n",
    )
    .unwrap();
    let cmd = format!(
        "stty cols 200 rows 40; exec '{}' install slow '{}' -n default --wait",
        env!("CARGO_BIN_EXE_stackpkg"),
        c.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("KUBECONFIG", &kc)
        .env("TERM", "xterm")
        .env_remove("STACKPKG_STORAGE")
        .output()
        .expect("script(1) from util-linux runs");
    let tty = text(&out.stdout);
    assert!(out.status.success(), "{tty}");
    // Redrawn in place (carriage return, erase line), with the counts and the object that
    // keeps the wait going, its clock past one second.
    assert!(tty.contains("\r\u{1b}[2K"), "{tty:?}");
    assert!(tty.contains("applied 2, ready 1/2"), "{tty:?}");
    assert!(
        tty.contains("waiting for Deployment.apps default/slow-web (1s)"),
        "{tty:?}"
    );
    // Not the plain per-object lines; the summary and NOTES still print.
    assert!(
        !tty.contains("applied ConfigMap default/slow-cm\r\n"),
        "{tty:?}"
    );
    assert!(tty.contains("STATUS: deployed"), "{tty:?}");
    assert!(tty.contains("Say hello to slow."), "{tty:?}");
}
