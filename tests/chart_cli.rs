//! The `show` and `package` commands through the real binary: output, exit codes,
//! one-line errors, and an example in every --help.

mod common;

use std::process::{Command, Output};

use common::fixture;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackpkg"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn show_parts_of_a_chart() {
    let stack = fixture("stack");
    let s = stack.to_str().unwrap();
    let o = run(&["show", "chart", s]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("name: stack\nversion: 1.2.3\n"));
    let o = run(&["show", "values", s]);
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string(stack.join("values.yaml")).unwrap()
    );
    let o = run(&["show", "readme", s]);
    assert!(stdout(&o).starts_with("# stack\n"));
    let o = run(&["show", "schema", s]);
    assert!(stdout(&o).contains("\"minimum\": 1"));
    let o = run(&["show", "crds", s]);
    assert!(stdout(&o).starts_with(
        "---\n# Source: stack/crds/widgets.yaml\napiVersion: apiextensions.k8s.io/v1\n"
    ));
    let o = run(&["show", "all", s]);
    let all = stdout(&o);
    assert!(
        all.contains("name: stack")
            && all.contains("replicas: 3")
            && all.contains("# stack")
            && all.contains("kind: CustomResourceDefinition")
    );
    assert!(o.status.success());
}

#[test]
fn show_and_package_work_on_archives_too() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "package",
        fixture("stack").to_str().unwrap(),
        "-d",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = dir.path().join("stack-1.2.3.tgz");
    assert_eq!(stdout(&o).trim(), written.display().to_string());
    assert!(stderr(&o).starts_with("sha256:"), "{}", stderr(&o));
    let o = run(&["show", "values", written.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("replicas: 3"));
}

#[test]
fn errors_are_one_line_with_exit_code_1() {
    let cases = [
        (
            vec!["show", "chart", "BAD/semver"],
            "Chart.yaml: field version: \"1.0\" is not a semantic version",
        ),
        (
            vec!["show", "values", "BAD/values-syntax"],
            "values.yaml:5:1: found unexpected end of stream",
        ),
        (
            vec!["show", "chart", "BAD/no-chart-yaml"],
            "no Chart.yaml found",
        ),
        (vec!["show", "readme", "BAD/semver"], "field version"),
        (vec!["show", "crds", "BAD/api-v1"], "apiVersion"),
        (
            vec!["show", "chart", "/nonexistent/chart"],
            "/nonexistent/chart: No such file or directory",
        ),
        (vec!["package", "BAD/kube-version"], "field kubeVersion"),
        (vec!["show", "readme", "GOOD"], "the chart has no README.md"),
    ];
    let bad = fixture("bad");
    let good = fixture("stack/charts/kafka");
    for (args, want) in cases {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("BAD", bad.to_str().unwrap())
                    .replace("GOOD", good.to_str().unwrap())
            })
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&refs);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with("Error: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn a_corrupt_archive_on_the_command_line_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("evil.tgz");
    std::fs::write(
        &p,
        common::raw_tgz(&[("x/../../etc/passwd", common::Kind::File, b"x")]),
    )
    .unwrap();
    let o = run(&["show", "chart", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unsafe archive entry \"x/../../etc/passwd\": path contains '..'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_oversized_package_is_refused_before_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge-1.0.0.tgz");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(21 << 20).unwrap();
    let o = run(&["show", "chart", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(
            "huge-1.0.0.tgz: package size (22020096 bytes) exceeds the limit of 20971520 bytes"
        ),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    let o = run(&["show", "chart"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["package"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["package", fixture("stack/Chart.yaml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&["show", "--help"]);
    assert!(
        stdout(&o).contains("Examples:\n  stackpkg show values"),
        "{}",
        stdout(&o)
    );
    for args in [
        vec!["package", "--help"],
        vec!["show", "chart", "--help"],
        vec!["show", "values", "--help"],
        vec!["show", "readme", "--help"],
        vec!["show", "schema", "--help"],
        vec!["show", "crds", "--help"],
        vec!["show", "all", "--help"],
    ] {
        let o = run(&args);
        assert!(o.status.success());
        let out = stdout(&o);
        assert!(out.contains("Example:\n  stackpkg "), "{args:?}: {out}");
    }
}
