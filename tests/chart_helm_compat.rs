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
