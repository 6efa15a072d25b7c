//! `stackpkg create`: the scaffold passes `lint --strict` and `kubernetes-validate --strict`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stackpkg(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackpkg"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run stackpkg")
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `kubernetes-validate` from `.tools/bin`; `None` (with the reason printed) when it is not
/// installed, except under CI where a missing tool fails the test.
fn kubernetes_validate() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/kubernetes-validate");
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{} is missing: run scripts/install-tools.sh", p.display());
    }
    eprintln!(
        "skipping: {} is missing (run scripts/install-tools.sh)",
        p.display()
    );
    None
}

const VARIANTS: &[&[&str]] = &[
    &[],
    &["--set", "ingress.enabled=true,autoscaling.enabled=true,service.type=NodePort"],
    &[
        "--set",
        "ingress.enabled=true,ingress.className=nginx,ingress.tls[0].secretName=tls,ingress.tls[0].hosts[0]=a.example.com",
        "--set",
        "serviceAccount.create=false,podLabels.team=data,nodeSelector.disk=ssd",
        "--set-json",
        r#"tolerations=[{"key":"k","operator":"Exists"}],volumes=[{"name":"v","emptyDir":{}}],volumeMounts=[{"name":"v","mountPath":"/v"}]"#,
    ],
];

#[test]
fn scaffold_passes_lint_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let o = stackpkg(tmp.path(), &["create", "mychart"]);
    assert!(o.status.success(), "{}", out(&o));
    for name in [
        "Chart.yaml",
        "values.yaml",
        "values.schema.json",
        ".stackpkgignore",
        "templates/_helpers.j2",
        "templates/deployment.yaml",
        "templates/service.yaml",
        "templates/serviceaccount.yaml",
        "templates/ingress.yaml",
        "templates/hpa.yaml",
        "templates/NOTES.txt",
    ] {
        assert!(tmp.path().join("mychart").join(name).is_file(), "{name}");
    }
    for extra in VARIANTS {
        let mut args = vec!["lint", "mychart", "--strict"];
        args.extend_from_slice(extra);
        let o = stackpkg(tmp.path(), &args);
        assert!(o.status.success(), "{extra:?}: {}", out(&o));
        assert!(
            out(&o).contains("0 error(s), 0 warning(s) (strict)"),
            "{}",
            out(&o)
        );
    }
}

#[test]
fn scaffold_passes_kubernetes_validate_strict() {
    let Some(kv) = kubernetes_validate() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    assert!(stackpkg(tmp.path(), &["create", "mychart"])
        .status
        .success());
    for (i, extra) in VARIANTS.iter().enumerate() {
        let mut args = vec!["template", "demo", "mychart"];
        args.extend_from_slice(extra);
        let o = stackpkg(tmp.path(), &args);
        assert!(o.status.success(), "{}", out(&o));
        let file = tmp.path().join(format!("out{i}.yaml"));
        std::fs::write(&file, &o.stdout).unwrap();
        let v = Command::new(&kv)
            .args(["--strict", "-k", "1.34.0"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(v.status.success(), "variant {extra:?}: {}", out(&v));
        let passed = String::from_utf8_lossy(&v.stdout)
            .matches(" passed ")
            .count();
        let objects = String::from_utf8_lossy(&o.stdout)
            .matches("# Source:")
            .count();
        assert_eq!(passed, objects, "{}", out(&v));
    }
}

#[test]
fn create_refuses_bad_names_and_existing_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let o = stackpkg(tmp.path(), &["create", "Bad Name!"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("chart name \"Bad Name!\""), "{}", out(&o));
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "nothing written"
    );

    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    let o = stackpkg(tmp.path(), &["create", "taken"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("taken: already exists"), "{}", out(&o));

    // A nested path: the last component is the name.
    let o = stackpkg(tmp.path(), &["create", "sub/dir/nested"]);
    assert!(o.status.success(), "{}", out(&o));
    let meta = std::fs::read_to_string(tmp.path().join("sub/dir/nested/Chart.yaml")).unwrap();
    assert!(meta.contains("name: nested\n"));
    // No temporary folders are left beside it.
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("sub/dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["nested"]);
}
