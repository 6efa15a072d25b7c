//! `dep update` / `dep build` / `dep list` against a real `repo serve` on loopback.

mod repo_support;

use repo_support::*;
use stackpkg::repo::serve::{spawn, ServeOptions};

fn write(p: &std::path::Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn dep_update_build_list_round_trip() {
    let env = Env::new();
    let pk = env.path("pk");
    for (n, v) in [
        ("kafka", "1.0.0"),
        ("kafka", "1.1.0"),
        ("kafka", "2.0.0"),
        ("zookeeper", "3.5.0"),
    ] {
        write_package(&pk, n, v);
    }
    let srv = spawn(&ServeOptions {
        dir: pk.clone(),
        addr: "127.0.0.1:0".into(),
        auth: None,
        allow_overwrite: true,
        max_upload_size: 1 << 20,
        base_url: None,
        tls: None,
    })
    .unwrap();
    // A configured repository the chart does not use must not be contacted.
    let unused = StaticServer::start("127.0.0.1:0");
    let unused_index = index_for(&[]);
    unused.set("/index.yaml", Reply::Bytes(unused_index.into_bytes()));
    env.ok(&["repo", "add", "data", &srv.url()]);
    env.ok(&["repo", "add", "unused", &unused.url()]);
    let seen_before = unused.seen().len();

    write(
        &env.path("common/Chart.yaml"),
        "apiVersion: v2\nname: common\nversion: 0.3.0\ntype: library\n",
    );
    let chart_yaml = format!(
        "apiVersion: v2\nname: stack\nversion: 1.0.0\ndependencies:\n\
         - name: kafka\n  version: ^1.0.0\n  repository: '@data'\n\
         - name: zookeeper\n  version: 3.x\n  repository: {}\n\
         - name: common\n  version: ~0.3\n  repository: file://../common\n",
        srv.url()
    );
    write(&env.path("stack/Chart.yaml"), &chart_yaml);

    let out = env.ok(&["dep", "update", "stack"]);
    assert!(out.contains("kafka 1.1.0"), "{out}");
    assert!(out.contains("zookeeper 3.5.0"), "{out}");
    assert!(out.contains("common 0.3.0"), "{out}");
    assert_eq!(
        unused.seen().len(),
        seen_before,
        "unused repository was fetched"
    );
    let lock = std::fs::read_to_string(env.path("stack/Chart.lock")).unwrap();
    assert!(lock.contains("digest: sha256:"), "{lock}");
    let charts = env.path("stack/charts");
    let kafka = std::fs::read(charts.join("kafka-1.1.0.tgz")).unwrap();
    assert_eq!(kafka, std::fs::read(pk.join("kafka-1.1.0.tgz")).unwrap());
    assert!(charts.join("common-0.3.0.tgz").is_file());

    let list = env.ok(&["dep", "list", "stack", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert!(
        v.as_array().unwrap().iter().all(|d| d["status"] == "ok"),
        "{list}"
    );

    // A newer matching version appears: build still reproduces the lock exactly.
    let newer = env.path("kafka-1.2.0.tgz");
    std::fs::write(&newer, package("kafka", "1.2.0", &[])).unwrap();
    env.ok(&["push", newer.to_str().unwrap(), "data"]);
    let before: Vec<_> = ["kafka-1.1.0.tgz", "zookeeper-3.5.0.tgz", "common-0.3.0.tgz"]
        .iter()
        .map(|f| std::fs::read(charts.join(f)).unwrap())
        .collect();
    std::fs::remove_dir_all(&charts).unwrap();
    let st = env.ok(&["dep", "list", "stack", "-o", "json"]);
    assert!(st.contains("\"missing\""), "{st}");
    env.ok(&["dep", "build", "stack"]);
    let after: Vec<_> = ["kafka-1.1.0.tgz", "zookeeper-3.5.0.tgz", "common-0.3.0.tgz"]
        .iter()
        .map(|f| std::fs::read(charts.join(f)).unwrap())
        .collect();
    assert_eq!(before, after);
    assert!(!charts.join("kafka-1.2.0.tgz").exists());

    // The server's package changes under the same version: build refuses it.
    let tampered = env.path("t/kafka-1.1.0.tgz");
    write(&tampered, "");
    std::fs::write(&tampered, package("kafka", "1.1.0", &[("x", "changed")])).unwrap();
    env.ok(&["push", tampered.to_str().unwrap(), "data"]);
    let err = env.fails(&["dep", "build", "stack"]);
    assert!(
        err.contains("digest mismatch") && err.contains("Chart.lock"),
        "{err}"
    );

    // A wrong vendored version is reported.
    std::fs::remove_file(charts.join("kafka-1.1.0.tgz")).unwrap();
    std::fs::write(
        charts.join("kafka-2.0.0.tgz"),
        package("kafka", "2.0.0", &[]),
    )
    .unwrap();
    let st = env.ok(&["dep", "list", "stack"]);
    assert!(st.contains("wrong version"), "{st}");

    // Editing Chart.yaml makes the lock stale.
    write(
        &env.path("stack/Chart.yaml"),
        &chart_yaml.replace("^1.0.0", "^2.0.0"),
    );
    let st = env.ok(&["dep", "list", "stack"]);
    assert!(st.contains("lock out of date"), "{st}");
    let err = env.fails(&["dep", "build", "stack"]);
    assert!(err.contains("out of date"), "{err}");
    let out = env.ok(&["dep", "update", "stack"]);
    assert!(out.contains("kafka 2.0.0"), "{out}");
    assert!(!charts.join("kafka-1.1.0.tgz").exists());
}

#[test]
fn dep_errors_name_the_problem() {
    let env = Env::new();
    write(
        &env.path("c/Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: x\n  version: ^1\n  repository: '@nowhere'\n",
    );
    let err = env.fails(&["dep", "update", "c"]);
    assert!(
        err.contains("Chart.yaml") && err.contains("nowhere"),
        "{err}"
    );
    write(
        &env.path("d/Chart.yaml"),
        "apiVersion: v2\nname: d\nversion: 1.0.0\ndependencies:\n- name: x\n  version: '>>1'\n  repository: https://example.invalid\n",
    );
    let err = env.fails(&["dep", "update", "d"]);
    assert!(err.contains("invalid version range"), "{err}");
    let err = env.fails(&["dep", "build", "d"]);
    assert!(err.contains("no Chart.lock"), "{err}");
    write(&env.path("e/Chart.yaml"), "dependencies: {oops");
    let err = env.fails(&["dep", "list", "e"]);
    assert!(err.contains("Chart.yaml"), "{err}");
}
