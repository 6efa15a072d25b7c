//! Helm's merge rules as documented: -f precedence, the --set family order, `null`
//! deleting defaults, globals, aliases, conditions and tags, import-values.

mod common;

use common::{fixture, write_tree};
use serde_json::json;
use stackpkg::chart;
use stackpkg::values::{self, ValueOptions, Values};

fn stack() -> chart::Chart {
    chart::load(&fixture("stack")).unwrap()
}

fn prepared(user: Values) -> (chart::Chart, Values) {
    values::prepare(&stack(), &user).unwrap()
}

fn sets(exprs: &[&str]) -> Values {
    ValueOptions {
        set: exprs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
    .load()
    .unwrap()
}

fn names(c: &chart::Chart) -> Vec<&str> {
    c.subcharts.iter().map(|s| s.name()).collect()
}

#[test]
fn defaults_alone() {
    let (c, v) = prepared(json!({}));
    // kafka-b is off by its condition; kafka-a on by the streaming tag; the alias renames.
    assert_eq!(names(&c), ["common", "kafka-a", "zookeeper"]);
    assert_eq!(v["replicas"], 3);
    assert_eq!(
        v["zookeeper"]["replicas"], 5,
        "parent override under the subchart's name"
    );
    assert_eq!(v["zookeeper"]["heap"], 512, "subchart default kept");
    assert_eq!(v["kafka-a"]["brokers"], 1);
    assert!(
        v.get("kafka").is_none(),
        "the alias replaces the chart name: {v}"
    );
    assert_eq!(
        c.metadata.dependencies.len(),
        3,
        "disabled dependency dropped from metadata"
    );
}

#[test]
fn globals_flow_down_and_the_parent_wins() {
    let (_, v) = prepared(json!({"global": {"extra": "x"}}));
    assert_eq!(
        v["zookeeper"]["global"],
        json!({
            "clusterDomain": "cluster.local",
            "extra": "x",
            "zkOnly": true,
            "image": {"registry": "docker.io", "pullPolicy": "IfNotPresent", "digest": "sha256:abc"}
        })
    );
    assert_eq!(v["kafka-a"]["global"]["extra"], "x");
    assert_eq!(v["common"]["global"]["clusterDomain"], "cluster.local");
    assert!(
        v["global"].get("zkOnly").is_none(),
        "globals never flow up: {}",
        v["global"]
    );
}

#[test]
fn null_deletes_defaults_at_every_level() {
    let (_, v) = prepared(json!({
        "image": {"tag": null},
        "resources": null,
        "zookeeper": {"heap": null, "replicas": null},
        "kafka-a": {"service": {"type": null}},
        "newKey": null
    }));
    assert_eq!(v["image"], json!({"repository": "stack"}));
    assert!(v.get("resources").is_none());
    let zk = v["zookeeper"].as_object().unwrap();
    assert!(
        !zk.contains_key("heap"),
        "user null deletes a subchart default: {zk:?}"
    );
    // The parent's override (5) and the subchart's default (1) are both deleted.
    assert!(!zk.contains_key("replicas"), "{zk:?}");
    assert_eq!(v["kafka-a"]["service"], json!({"port": 9092}));
    // A null for a key without a default stays, as in Helm.
    assert_eq!(v["newKey"], Values::Null);
}

#[test]
fn conditions_override_tags() {
    let (c, _) = prepared(sets(&["tags.streaming=false"]));
    assert_eq!(names(&c), ["common", "zookeeper"]);
    let (c, _) = prepared(sets(&["tags.streaming=false", "kafka-b.enabled=true"]));
    assert_eq!(names(&c), ["common", "kafka-b", "zookeeper"]);
    let (c, v) = prepared(sets(&["zookeeper.enabled=false"]));
    assert_eq!(names(&c), ["common", "kafka-a"]);
    assert!(
        v.get("zookeeper").is_some(),
        "values of a disabled subchart stay as plain values"
    );
    let e = values::prepare(&stack(), &sets(&["zookeeper.enabled=yes"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "chart stack: condition zookeeper.enabled of dependency \"zookeeper\" must be true or false, not a string"
    );
}

#[test]
fn one_dependency_under_two_aliases_gives_two_subcharts() {
    let (c, v) = prepared(sets(&["kafka-b.enabled=true", "kafka-b.brokers=3"]));
    assert_eq!(names(&c), ["common", "kafka-a", "kafka-b", "zookeeper"]);
    assert_eq!(v["kafka-a"]["brokers"], 1);
    assert_eq!(v["kafka-b"]["brokers"], 3);
    let b = c.subcharts.iter().find(|s| s.name() == "kafka-b").unwrap();
    assert_eq!(b.metadata.version, "2.1.4");
}

#[test]
fn import_values_both_forms() {
    let (_, v) = prepared(json!({}));
    // Map form: kafka-a's `service` under the parent's kafkaAService; the parent's own
    // port (9999) wins over the imported one.
    assert_eq!(
        v["kafkaAService"],
        json!({"port": 9999, "type": "ClusterIP"})
    );
    assert!(
        v.get("kafkaDefaults").is_none(),
        "kafka-b is disabled, so nothing is imported from it"
    );
    // String form: kafka-b's exports.defaults merged at the parent's root.
    let (_, v) = prepared(sets(&["kafka-b.enabled=true"]));
    assert_eq!(v["kafkaDefaults"], json!({"retention": "7d"}));
    // User values still win over imported ones.
    let (_, v) = prepared(sets(&[
        "kafka-b.enabled=true",
        "kafkaDefaults.retention=1d",
    ]));
    assert_eq!(v["kafkaDefaults"]["retention"], "1d");
}

#[test]
fn missing_dependencies_and_type_mismatches_are_errors() {
    let c = chart::load(&fixture("bad/missing-dep")).unwrap();
    let e = values::prepare(&c, &json!({})).unwrap_err().to_string();
    assert!(
        e.contains("dependency \"redis\" is listed in Chart.yaml but missing from charts/"),
        "{e}"
    );

    let e = values::prepare(&stack(), &sets(&["zookeeper=off"]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "values for subchart zookeeper must be a map, not a string"
    );

    let e = values::prepare(&stack(), &json!({"global": 3}))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "values for global must be a map, not a number");

    let e = values::prepare(&stack(), &sets(&["tags.streaming=maybe"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("tags.streaming must be true or false"), "{e}");
}

#[test]
fn dependency_version_must_match_the_vendored_chart() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: sub\n    version: ^2.0.0\n"),
            ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 1.5.0\n"),
        ],
    );
    let c = chart::load(dir.path()).unwrap();
    let e = values::prepare(&c, &json!({})).unwrap_err().to_string();
    assert_eq!(
        e,
        "chart app: dependency \"sub\" needs version ^2.0.0 but charts/ holds 1.5.0"
    );
}

#[test]
fn import_of_a_missing_path_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: sub\n    import-values: [nothing]\n"),
            ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 1.5.0\n"),
        ],
    );
    let c = chart::load(dir.path()).unwrap();
    let e = values::prepare(&c, &json!({})).unwrap_err().to_string();
    assert_eq!(
        e,
        "chart app: import-values of \"sub\": sub.exports.nothing does not exist"
    );
}

#[test]
fn unlisted_subcharts_are_kept_and_grandchildren_are_coalesced() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("values.yaml", "global: {g: top}\nmid:\n  leaf:\n    x: from-app\n"),
            ("charts/mid/Chart.yaml", "apiVersion: v2\nname: mid\nversion: 1.0.0\ndependencies:\n  - name: leaf\n    condition: leaf.on\n"),
            ("charts/mid/values.yaml", "leaf:\n  on: true\n  y: from-mid\n"),
            ("charts/mid/charts/leaf/Chart.yaml", "apiVersion: v2\nname: leaf\nversion: 1.0.0\n"),
            ("charts/mid/charts/leaf/values.yaml", "x: leaf\ny: leaf\nz: leaf\n"),
        ],
    );
    let c = chart::load(dir.path()).unwrap();
    let (pc, v) = values::prepare(&c, &json!({})).unwrap();
    assert_eq!(
        v["mid"]["leaf"],
        json!({"on": true, "x": "from-app", "y": "from-mid", "z": "leaf", "global": {"g": "top"}})
    );
    assert_eq!(pc.subcharts[0].subcharts.len(), 1);
    // A condition path of a grandchild is relative to the top chart, prefixed by parents.
    let (pc, _) = values::prepare(&c, &json!({"mid": {"leaf": {"on": false}}})).unwrap();
    assert!(pc.subcharts[0].subcharts.is_empty());
}

#[test]
fn precedence_of_files_and_the_set_family() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            (
                "one.yaml",
                "replicas: 4\nimage: {tag: a, pull: Always}\nlist: [1, 2, 3]\nm: {keep: 1}\n",
            ),
            (
                "two.yaml",
                "replicas: 5\nimage: {tag: b}\nlist: [9]\nm: null\n",
            ),
            ("cert.pem", "-----BEGIN-----\n"),
        ],
    );
    let opts = ValueOptions {
        values_files: vec![dir.path().join("one.yaml"), dir.path().join("two.yaml")],
        ..Default::default()
    };
    let v = opts.load().unwrap();
    assert_eq!(v["replicas"], 5, "later -f wins");
    assert_eq!(
        v["image"],
        json!({"tag": "b", "pull": "Always"}),
        "maps merge"
    );
    assert_eq!(v["list"], json!([9]), "lists replace");
    assert_eq!(
        v["m"],
        Values::Null,
        "null is kept to delete defaults later"
    );

    let opts = ValueOptions {
        values_files: vec![dir.path().join("one.yaml")],
        set_json: vec![r#"a=1,b={"x":1},c=[1]"#.into()],
        set: vec!["a=2,b.y=2,replicas=6".into()],
        set_string: vec!["a=3,replicas=7".into()],
        set_file: vec![format!("cert={}", dir.path().join("cert.pem").display())],
        set_literal: vec!["lit=a,b=c".into()],
    };
    let v = opts.load().unwrap();
    assert_eq!(v["a"], "3", "--set-string after --set after --set-json");
    assert_eq!(v["b"], json!({"x": 1, "y": 2}));
    assert_eq!(v["replicas"], "7");
    assert_eq!(v["cert"], "-----BEGIN-----\n");
    assert_eq!(v["lit"], "a,b=c");
    assert_eq!(v["image"]["tag"], "a");

    // And the whole chain on a chart: user > parent defaults > subchart defaults.
    let (_, v) =
        values::prepare(&stack(), &sets(&["zookeeper.replicas=7", "image.tag=2.0"])).unwrap();
    assert_eq!(v["zookeeper"]["replicas"], 7);
    assert_eq!(v["image"], json!({"repository": "stack", "tag": "2.0"}));
}

#[test]
fn bad_values_files_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("bad.yaml", "a: 1\nb:\n  c: [1, 2\n  d: 3\n"),
            ("list.yaml", "- 1\n"),
            ("dup.yaml", "a: 1\na: 2\n"),
            ("tab.yaml", "a:\n\tb: 1\n"),
        ],
    );
    let load = |name: &str| {
        ValueOptions {
            values_files: vec![dir.path().join(name)],
            ..Default::default()
        }
        .load()
        .unwrap_err()
        .to_string()
    };
    let e = load("bad.yaml");
    assert!(
        e.contains("bad.yaml:4:4: did not find expected ',' or ']'"),
        "{e}"
    );
    let e = load("list.yaml");
    assert!(
        e.ends_with("list.yaml: must hold a map of values at the top level, not a list"),
        "{e}"
    );
    let e = load("dup.yaml");
    assert!(
        e.contains("dup.yaml:1:1: duplicate entry with key \"a\""),
        "{e}"
    );
    let e = load("tab.yaml");
    assert!(e.contains("tab.yaml:2:1:"), "{e}");
    let e = load("absent.yaml");
    assert!(e.contains("absent.yaml: No such file"), "{e}");
}

#[test]
fn bad_set_expressions_name_flag_expression_and_column() {
    let cases = [
        (
            ValueOptions {
                set: vec!["a.b".into()],
                ..Default::default()
            },
            "--set \"a.b\": key \"a.b\" has no value (expected '=') (at column 4)",
        ),
        (
            ValueOptions {
                set: vec!["x[oops]=1".into()],
                ..Default::default()
            },
            "--set \"x[oops]=1\": invalid list index \"oops\"",
        ),
        (
            ValueOptions {
                set_string: vec!["a={1,2".into()],
                ..Default::default()
            },
            "--set-string \"a={1,2\": list is missing its closing '}' (at column 3)",
        ),
        (
            ValueOptions {
                set_json: vec!["a={\"x\":}".into()],
                ..Default::default()
            },
            "--set-json \"a={\\\"x\\\":}\": invalid JSON value",
        ),
        (
            ValueOptions {
                set_file: vec!["a=/nonexistent/file".into()],
                ..Default::default()
            },
            "--set-file \"a=/nonexistent/file\": cannot read /nonexistent/file",
        ),
        (
            ValueOptions {
                set_literal: vec!["=x".into()],
                ..Default::default()
            },
            "--set-literal \"=x\": empty key name before '=' (at column 1)",
        ),
    ];
    for (opts, want) in cases {
        let e = opts.load().unwrap_err().to_string();
        assert!(e.starts_with(want), "got {e:?}\nwant {want:?}");
    }
}

#[test]
fn values_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("f.yaml", "a: file\nb: file\n")]);
    let opts = ValueOptions {
        values_files: vec![dir.path().join("f.yaml"), "-".into()],
        ..Default::default()
    };
    let v = opts
        .load_with_stdin(&mut &b"b: stdin\nc: [1]\n"[..])
        .unwrap();
    assert_eq!(v, json!({"a": "file", "b": "stdin", "c": [1]}));
    let e = opts
        .load_with_stdin(&mut &b"b: [\n"[..])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("<stdin>:2:1: "), "{e}");
    let twice = ValueOptions {
        values_files: vec!["-".into(), "-".into()],
        ..Default::default()
    };
    let e = twice
        .load_with_stdin(&mut &b"a: 1\n"[..])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "<stdin>: '-f -' given more than once");
    let e = ValueOptions {
        values_files: vec!["-".into()],
        ..Default::default()
    }
    .load_with_stdin(&mut &[0xffu8, 0xfe][..])
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("<stdin>: "), "{e}");
}
