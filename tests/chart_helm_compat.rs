//! `kubeVersion` ranges checked against Helm itself: for each (constraint, cluster
//! version) pair, `helm template --kube-version` and `chart::check_kube_version` must
//! agree. Needs `.tools/bin/helm` (see tests/common).

mod common;

use std::process::Command;

use common::{helm, write_tree};
use stackpkg::chart;

#[test]
fn kube_version_ranges_agree_with_helm() {
    let Some(helm) = helm() else { return };
    let pairs = [
        (">=1.28.0-0", "1.29.3-gke.100"),
        (">=1.28.0", "1.29.3-gke.100"),
        (">=1.30.0", "1.30.0-rc.1"),
        ("<1.29", "1.29.0-alpha.1"),
        (">=1.28.0", "v1.29.3+k3s1"),
        (">=1.28", "1.28.0"),
        (">1.28", "1.28.5"),
        (">1.28", "1.29.0"),
        ("<=1.28", "1.28.9"),
        ("~1.28", "1.28.9"),
        ("~1.28", "1.29.0"),
        ("^1.28", "1.35.0"),
        ("^0.2.3", "0.3.0"),
        ("1.28.x", "1.28.3"),
        ("1.28", "1.29.0"),
        ("1.27 - 1.29", "1.29.9"),
        ("1.27 - 1.29", "1.30.0"),
        ("1.2.3 - 1.4.5", "1.4.6"),
        (">= 1.20, < 1.30", "1.29.0"),
        (">=1.20 <1.30 || >=2.0", "1.31.0"),
        (">=1.20 <1.30 || >=2.0", "2.1.0"),
        ("!=1.29.0", "1.29.0"),
        ("=1.29.0", "1.29.0"),
        ("x", "1.2.3"),
        (">=1.28.0-0", "1.27.99"),
    ];
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("templates/cm.yaml", "a: b\n")]);
    for (constraint, version) in pairs {
        let yaml =
            format!("apiVersion: v2\nname: c\nversion: 1.0.0\nkubeVersion: \"{constraint}\"\n");
        write_tree(dir.path(), &[("Chart.yaml", &yaml)]);
        let status = Command::new(&helm)
            .args(["template", "x"])
            .arg(dir.path())
            .args(["--kube-version", version])
            .output()
            .unwrap()
            .status;
        let c = chart::load(dir.path()).unwrap();
        let ours = chart::check_kube_version(&c.metadata, version);
        assert_eq!(
            ours.is_ok(),
            status.success(),
            "kubeVersion {constraint:?} on {version}: ours {ours:?}, helm {}",
            if status.success() {
                "accepts"
            } else {
                "refuses"
            }
        );
    }
}

#[test]
fn packages_are_interchangeable_with_helm() {
    let Some(helm) = helm() else { return };
    let out = tempfile::tempdir().unwrap();
    let src = common::fixture("stack");
    // Helm's package of the fixture loads here, with the same metadata, values and
    // subcharts (Helm rewrites Chart.yaml, so that file's bytes differ).
    let status = Command::new(&helm)
        .arg("package")
        .arg(&src)
        .arg("-d")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let theirs = chart::load(&out.path().join("stack-1.2.3.tgz")).unwrap();
    let ours = chart::load(&src).unwrap();
    assert_eq!(theirs.metadata, ours.metadata);
    assert_eq!(theirs.values, ours.values);
    assert_eq!(theirs.schema, ours.schema);
    assert_eq!(theirs.templates, ours.templates);
    let names = |c: &chart::Chart| {
        c.subcharts
            .iter()
            .map(|s| s.name().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&theirs), names(&ours));
    // Helm reads only .helmignore, so its package keeps notes.bak; an archive's files
    // are taken as they are (ignore rules apply when packaging, not when loading).
    assert!(theirs.file("notes.bak").is_some());
    assert!(ours.file("notes.bak").is_none());

    // And Helm reads ours.
    let ours_dir = out.path().join("ours");
    let ours_tgz = chart::package(&src, &ours_dir).unwrap();
    let shown = Command::new(&helm)
        .arg("show")
        .arg("chart")
        .arg(&ours_tgz)
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(
        text.contains("name: stack") && text.contains("version: 1.2.3"),
        "{text}"
    );
}
