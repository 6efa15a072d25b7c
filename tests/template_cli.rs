//! `stackpkg template` end to end: output format, flags, determinism and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stackpkg(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackpkg"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run stackpkg")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Asserts a failure with `code`, one `Error:` line on stderr containing `want`, no panic.
fn fails(o: &Output, code: i32, want: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(want), "expected {want:?} in stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        o.stdout.is_empty(),
        "nothing on stdout on failure: {}",
        stdout(o)
    );
}

fn scaffold(dir: &Path) -> PathBuf {
    let o = stackpkg(dir, &["create", "mychart"]);
    assert!(o.status.success(), "{}", stderr(&o));
    dir.join("mychart")
}

/// A minimal chart with the given templates (name, content) and optional extra files.
fn chart(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(
        root.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\nappVersion: \"1.0\"\n"),
    )
    .unwrap();
    std::fs::write(root.join("values.yaml"), "a: 1\nlist: [x, y]\n").unwrap();
    for (p, c) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
    root
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\ndata:\n  a: {{ values.a | quote }}\n";

#[test]
fn scaffold_renders_in_install_order_with_sources_and_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    scaffold(tmp.path());
    let a = stackpkg(tmp.path(), &["template", "demo", "mychart"]);
    assert!(a.status.success(), "{}", stderr(&a));
    let out = stdout(&a);
    let sources: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("# Source: "))
        .collect();
    assert_eq!(
        sources,
        [
            "mychart/templates/serviceaccount.yaml",
            "mychart/templates/service.yaml",
            "mychart/templates/tests/test-connection.yaml",
            "mychart/templates/deployment.yaml",
        ]
    );
    assert!(out.starts_with("---\n# Source: mychart/templates/serviceaccount.yaml\napiVersion: v1\nkind: ServiceAccount\n"));
    // Byte-identical on a second run.
    let b = stackpkg(tmp.path(), &["template", "demo", "mychart"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn json_output_is_a_list() {
    let tmp = tempfile::tempdir().unwrap();
    scaffold(tmp.path());
    let o = stackpkg(
        tmp.path(),
        &["template", "demo", "mychart", "-o", "json", "-n", "data"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "List");
    let kinds: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ServiceAccount", "Service", "Pod", "Deployment"]);
}

#[test]
fn values_flags_reach_templates_and_enable_optional_objects() {
    let tmp = tempfile::tempdir().unwrap();
    scaffold(tmp.path());
    std::fs::write(tmp.path().join("v.yaml"), "replicaCount: 3\n").unwrap();
    let o = stackpkg(
        tmp.path(),
        &[
            "template",
            "demo",
            "mychart",
            "-f",
            "v.yaml",
            "--set",
            "ingress.enabled=true,autoscaling.enabled=true",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("kind: Ingress"));
    assert!(out.contains("kind: HorizontalPodAutoscaler"));
    // With autoscaling on, the Deployment leaves replicas to the HPA.
    assert!(!out.contains("replicas: 3"));
    let o = stackpkg(tmp.path(), &["template", "demo", "mychart", "-f", "v.yaml"]);
    assert!(stdout(&o).contains("replicas: 3"));
}

#[test]
fn show_only_and_output_dir() {
    let tmp = tempfile::tempdir().unwrap();
    scaffold(tmp.path());
    let o = stackpkg(
        tmp.path(),
        &[
            "template",
            "demo",
            "mychart",
            "-s",
            "templates/service.yaml",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("kind: Service\n"));
    assert_eq!(out.matches("# Source:").count(), 1);

    let o = stackpkg(
        tmp.path(),
        &[
            "template",
            "demo",
            "mychart",
            "--show-only",
            "templates/nope.yaml",
        ],
    );
    fails(
        &o,
        2,
        "--show-only templates/nope.yaml: no such template in chart mychart",
    );

    let o = stackpkg(
        tmp.path(),
        &["template", "demo", "mychart", "--output-dir", "out"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let svc =
        std::fs::read_to_string(tmp.path().join("out/mychart/templates/service.yaml")).unwrap();
    assert!(svc.starts_with("---\n# Source: mychart/templates/service.yaml\n"));
    assert!(tmp
        .path()
        .join("out/mychart/templates/deployment.yaml")
        .exists());
}

#[test]
fn notes_are_printed_as_comments() {
    let tmp = tempfile::tempdir().unwrap();
    scaffold(tmp.path());
    let o = stackpkg(tmp.path(), &["template", "demo", "mychart", "--notes"]);
    let out = stdout(&o);
    let notes = out.split("---\n# NOTES.txt\n").nth(1).expect("notes block");
    assert!(notes.lines().all(|l| l.starts_with('#')), "{notes}");
    assert!(notes.contains("release demo in namespace default"));
    let o = stackpkg(tmp.path(), &["template", "demo", "mychart"]);
    assert!(!stdout(&o).contains("NOTES"));
}

#[test]
fn crds_first_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    chart(
        tmp.path(),
        "withcrd",
        &[
            ("templates/cm.yaml", CM),
            (
                "crds/widgets.yaml",
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
            ),
        ],
    );
    let o = stackpkg(tmp.path(), &["template", "r", "withcrd"]);
    assert!(!stdout(&o).contains("CustomResourceDefinition"));
    let o = stackpkg(tmp.path(), &["template", "r", "withcrd", "--include-crds"]);
    assert!(
        stdout(&o).starts_with("---\n# Source: withcrd/crds/widgets.yaml\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn packaged_chart_renders_like_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    scaffold(tmp.path());
    let o = stackpkg(tmp.path(), &["package", "mychart", "-d", "dist"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = stackpkg(tmp.path(), &["template", "demo", "mychart"]);
    let b = stackpkg(tmp.path(), &["template", "demo", "dist/mychart-0.1.0.tgz"]);
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn capabilities_flags() {
    let tmp = tempfile::tempdir().unwrap();
    chart(
        tmp.path(),
        "caps",
        &[(
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: {{ capabilities.kube_version.version | quote }}\n  mon: {{ ('monitoring.coreos.com/v1' in capabilities.api_versions) | quote }}\n",
        )],
    );
    let o = stackpkg(
        tmp.path(),
        &[
            "template",
            "r",
            "caps",
            "--kube-version",
            "1.29",
            "--api-versions",
            "monitoring.coreos.com/v1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("v: \"v1.29.0\"\n  mon: \"true\""),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    scaffold(tmp.path());
    let o = stackpkg(
        tmp.path(),
        &["template", "demo", "mychart", "--kube-version", "one.two"],
    );
    fails(&o, 2, "bad kube version \"one.two\"");
    let o = stackpkg(
        tmp.path(),
        &[
            "template",
            "demo",
            "mychart",
            "--api-versions",
            "Not A Version",
        ],
    );
    fails(&o, 2, "bad API version");
    let o = stackpkg(tmp.path(), &["template", "Bad_Name", "mychart"]);
    fails(&o, 2, "a release name is 1-53 lowercase letters");
    let o = stackpkg(
        tmp.path(),
        &["template", "demo", "mychart", "-n", "Data_NS"],
    );
    fails(&o, 2, "a namespace is 1-63 lowercase letters");
    let o = stackpkg(tmp.path(), &["template", "demo", "mychart", "-o", "xml"]);
    fails(&o, 2, "invalid value 'xml'");
    let o = stackpkg(tmp.path(), &["template", "demo"]);
    fails(&o, 2, "required");
}

#[test]
fn kube_version_constraint_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let root = chart(tmp.path(), "old", &[("templates/cm.yaml", CM)]);
    let meta = std::fs::read_to_string(root.join("Chart.yaml")).unwrap();
    std::fs::write(
        root.join("Chart.yaml"),
        format!("{meta}kubeVersion: \">=1.31.0-0\"\n"),
    )
    .unwrap();
    let o = stackpkg(
        tmp.path(),
        &["template", "r", "old", "--kube-version", "1.30"],
    );
    fails(&o, 1, "kubeVersion >=1.31.0-0");
    let o = stackpkg(
        tmp.path(),
        &["template", "r", "old", "--kube-version", "1.31"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Each bad template: (template content, expected exit code, expected message part).
const BAD_TEMPLATES: &[(&str, &str)] = &[
    // syntax error, with the line
    ("a: 1\nb: {% if %}\n", "bad/templates/t.yaml:2: syntax error"),
    // unknown function
    ("a: {{ nosuch(1) }}\n", "bad/templates/t.yaml:1: unknown function"),
    // unknown filter
    ("\na: {{ 1 | nosuch }}\n", "bad/templates/t.yaml:2: unknown filter"),
    // missing value: strict undefined
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ values.nope.deeper }}\n", "bad/templates/t.yaml:4: undefined value"),
    // required with the chart's message
    ("x: {{ values.password | required(\"set values.password\") }}\n", "bad/templates/t.yaml:1: set values.password"),
    // fail
    ("{{ fail(\"this chart needs Kubernetes with CSI\") }}\n", "bad/templates/t.yaml:1: this chart needs Kubernetes with CSI"),
    // YAML error in the rendered output: template name and line of the output
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n", "bad/templates/t.yaml: line 6 of the rendered output: invalid YAML"),
    // missing kind
    ("apiVersion: v1\nmetadata:\n  name: x\n", "bad/templates/t.yaml: line 1 of the rendered output: object has no kind"),
    // missing name
    ("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "bad/templates/t.yaml: line 2 of the rendered output: object has no metadata.name"),
    // not a mapping
    ("- a\n- b\n", "must be a YAML mapping"),
    // duplicate objects within one template
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", "duplicate object ConfigMap default/x"),
    // runaway recursion
    ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}\n", "recursion"),
    // runaway loop: fuel
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n", "fuel exhausted"),
    // unknown dependency prefix in an import
    ("{% import \"nodep:_x.j2\" as x %}\n", "template not found"),
    // a missing file
    ("{{ files.get(\"conf/none.txt\") }}\n", "the chart has no file \"conf/none.txt\""),
];

#[test]
fn bad_templates_fail_with_location() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, (src, want)) in BAD_TEMPLATES.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        chart(&dir, "bad", &[("templates/t.yaml", src)]);
        let o = stackpkg(&dir, &["template", "r", "bad"]);
        fails(&o, 1, want);
        assert_eq!(
            stderr(&o).trim_end().lines().count(),
            1,
            "one line: {}",
            stderr(&o)
        );
    }
}

#[test]
fn duplicates_across_templates_name_both() {
    let tmp = tempfile::tempdir().unwrap();
    chart(
        tmp.path(),
        "dup",
        &[("templates/a.yaml", CM), ("templates/b.yaml", CM)],
    );
    let o = stackpkg(tmp.path(), &["template", "r", "dup"]);
    fails(
        &o,
        1,
        "duplicate object ConfigMap default/r-cm: rendered by dup/templates/a.yaml and by dup/templates/b.yaml",
    );
    // Another namespace set explicitly is another object.
    let tmp = tempfile::tempdir().unwrap();
    let other = CM.replace("metadata:\n", "metadata:\n  namespace: other\n");
    chart(
        tmp.path(),
        "dup",
        &[("templates/a.yaml", CM), ("templates/b.yaml", &other)],
    );
    let o = stackpkg(tmp.path(), &["template", "r", "dup"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn library_chart_cannot_be_rendered_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = chart(
        tmp.path(),
        "lib",
        &[("templates/_m.j2", "{% macro m() %}x{% endmacro %}")],
    );
    let meta = std::fs::read_to_string(root.join("Chart.yaml")).unwrap();
    std::fs::write(root.join("Chart.yaml"), format!("{meta}type: library\n")).unwrap();
    let o = stackpkg(tmp.path(), &["template", "r", "lib"]);
    fails(&o, 1, "a library chart has no objects to render");
}

#[test]
fn help_has_an_example() {
    for cmd in ["template", "lint", "create"] {
        let o = stackpkg(Path::new("."), &[cmd, "--help"]);
        assert!(o.status.success());
        assert!(
            stdout(&o).contains(&format!("stackpkg {cmd}")),
            "{cmd}: {}",
            stdout(&o)
        );
    }
}
