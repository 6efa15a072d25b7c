//! The merge rules checked against Helm itself: the fixture chart, with its templates
//! replaced by one that dumps `.Values` as JSON, is rendered by the real `helm template`
//! and compared with `values::prepare` for the same flags. Needs `.tools/bin/helm`
//! (`bash scripts/install-tools.sh`); without it the test fails under CI and is skipped
//! with a printed reason otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, helm, write_tree};
use stackpkg::chart;
use stackpkg::values::{self, ValueOptions, Values};

/// A copy of the stack fixture whose only template prints the values Helm computed.
fn dump_chart(root: &Path) -> PathBuf {
    let dest = root.join("stack");
    copy(&fixture("stack"), &dest);
    for t in [
        "templates",
        "charts/zookeeper/templates",
        "charts/kafka/templates",
        "charts/common/templates",
        "crds",
    ] {
        std::fs::remove_dir_all(dest.join(t)).unwrap();
    }
    write_tree(&dest, &[("templates/dump.yaml", "{{ toJson .Values }}\n")]);
    dest
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn flags(opts: &ValueOptions) -> Vec<String> {
    let mut out = Vec::new();
    for f in &opts.values_files {
        out.push("-f".to_string());
        out.push(f.display().to_string());
    }
    let groups = [
        ("--set-json", &opts.set_json),
        ("--set", &opts.set),
        ("--set-string", &opts.set_string),
        ("--set-file", &opts.set_file),
        ("--set-literal", &opts.set_literal),
    ];
    for (flag, list) in groups {
        for e in list {
            out.push(flag.to_string());
            out.push(e.clone());
        }
    }
    out
}

fn helm_values(helm: &Path, chart_dir: &Path, opts: &ValueOptions) -> Values {
    let out = Command::new(helm)
        .arg("template")
        .arg("x")
        .arg(chart_dir)
        .args(flags(opts))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().rfind(|l| l.starts_with('{')).unwrap();
    serde_json::from_str(line).unwrap()
}

#[test]
fn prepare_matches_helm_template() {
    let Some(helm) = helm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let chart_dir = dump_chart(tmp.path());
    write_tree(
        tmp.path(),
        &[
            ("a.yaml", "replicas: 4\nglobal:\n  image: {registry: mirror.local}\n  extra: [1, 2]\nzookeeper:\n  image: {tag: \"3.8\"}\n"),
            ("b.yaml", "replicas: 6\nresources: null\nkafka-a:\n  service: {port: 1}\n"),
            ("note.txt", "hello\n"),
        ],
    );
    let file = |n: &str| tmp.path().join(n);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut scenarios = vec![
        ValueOptions::default(),
        ValueOptions {
            set: s(&[
                "kafka-b.enabled=true",
                "image.tag=null",
                "zookeeper.heap=null",
                "zookeeper.replicas=null",
                "newKey=null",
            ]),
            set_json: s(&[r#"kafka-a={"service":{"type":null}}"#]),
            ..Default::default()
        },
        ValueOptions {
            set: s(&["tags.streaming=false"]),
            ..Default::default()
        },
        ValueOptions {
            set: s(&["tags.streaming=false", "kafka-b.enabled=true"]),
            ..Default::default()
        },
        ValueOptions {
            set: s(&[
                "zookeeper.enabled=false",
                "global.clusterDomain=example.org",
            ]),
            ..Default::default()
        },
        ValueOptions {
            values_files: vec![file("a.yaml"), file("b.yaml")],
            set: s(&[
                "list={a,b,3}",
                "x[1].y=2",
                "esc\\.dot=1",
                "big=123456789",
                "lead=0123",
                "f=1.5",
            ]),
            set_string: s(&["image.tag=9", "b=true"]),
            set_file: vec![format!("note={}", file("note.txt").display())],
            set_literal: s(&["lit=a,b={c}"]),
            ..Default::default()
        },
        ValueOptions {
            set: s(&[
                "kafka-b.enabled=true",
                "kafkaDefaults.retention=1d",
                "kafkaAService.type=NodePort",
            ]),
            ..Default::default()
        },
    ];
    scenarios.push(ValueOptions {
        set: s(&[
            "n[0][1]=x,n[1].b=1,n[1].c=2",
            "eq=x=y,empty=,up=TRUE,neg=-5,plus=+5,sci=1e3",
            r"sp=a\,b\=c,dot\.ted.k=v",
            "image.tag=a,image.tag=b",
        ]),
        set_json: s(&[r#"j=[1,{"a":null}],k="s""#]),
        set_string: s(&["strs={1,true,x}"]),
        ..Default::default()
    });
    let c = chart::load(&chart_dir).unwrap();
    for opts in scenarios {
        let want = helm_values(&helm, &chart_dir, &opts);
        let user = opts.load().unwrap();
        let (_, got) = values::prepare(&c, &user).unwrap();
        assert_eq!(
            got,
            want,
            "flags {:?}\nours: {}\nhelm: {}",
            flags(&opts),
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
    }
}
