//! `stackpkg lint`: recommended fields, rendering errors, strict Kubernetes schemas.

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

fn chart(dir: &Path, meta_extra: &str, template: &str) -> PathBuf {
    let root = dir.join("c");
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(
        root.join("Chart.yaml"),
        format!("apiVersion: v2\nname: c\nversion: 0.1.0\n{meta_extra}"),
    )
    .unwrap();
    std::fs::write(root.join("values.yaml"), "port: 80\n").unwrap();
    std::fs::write(root.join("templates/t.yaml"), template).unwrap();
    root
}

const COMPLETE: &str = "appVersion: \"1.0\"\ndescription: d\nicon: https://example.com/i.svg\nmaintainers:\n  - name: m\n";
const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n    - port: {{ values.port }}\n";

#[test]
fn recommended_fields_warn_and_fail_only_under_strict() {
    let tmp = tempfile::tempdir().unwrap();
    chart(tmp.path(), "", SVC);
    let o = stackpkg(tmp.path(), &["lint", "c"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    for field in ["description", "icon", "maintainers", "appVersion"] {
        assert!(
            text.contains(&format!(
                "[WARNING] c/Chart.yaml: field {field} is recommended"
            )),
            "{text}"
        );
    }
    assert!(text.contains("values.schema.json: missing"), "{text}");
    let o = stackpkg(tmp.path(), &["lint", "c", "--strict"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains(
            "Error: lint failed: c: 1 object(s) rendered, 0 error(s), 5 warning(s) (strict)"
        ),
        "{}",
        out(&o)
    );
}

#[test]
fn strict_validates_objects_against_kubernetes_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let root = chart(
        tmp.path(),
        COMPLETE,
        &SVC.replace("spec:\n", "spec:\n  portz: []\n"),
    );
    std::fs::write(root.join("values.schema.json"), r#"{"type": "object"}"#).unwrap();
    // Not strict: the unknown field is not looked at.
    let o = stackpkg(tmp.path(), &["lint", "c"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = stackpkg(tmp.path(), &["lint", "c", "--strict"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("[ERROR] c/templates/t.yaml: Service s: /spec:"),
        "{text}"
    );
    assert!(text.contains("portz"), "{text}");
    // A wrong type, reached through values.
    let o = stackpkg(
        tmp.path(),
        &["lint", "c", "--strict", "--set-string", "port=eighty"],
    );
    assert!(out(&o).contains("/spec/ports/0/port"), "{}", out(&o));
    // Kinds without a vendored schema are reported.
    std::fs::write(
        root.join("templates/t.yaml"),
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
    )
    .unwrap();
    let o = stackpkg(tmp.path(), &["lint", "c", "--strict"]);
    assert!(
        out(&o).contains(
            "no Kubernetes v1.34.0 schema for apiVersion \"example.com/v1\" kind \"Widget\""
        ),
        "{}",
        out(&o)
    );
}

#[test]
fn invalid_object_names_warn() {
    let tmp = tempfile::tempdir().unwrap();
    let root = chart(
        tmp.path(),
        COMPLETE,
        &SVC.replace("name: s", "name: My_Service"),
    );
    std::fs::write(root.join("values.schema.json"), r#"{"type": "object"}"#).unwrap();
    let o = stackpkg(tmp.path(), &["lint", "c"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains("[WARNING] c/templates/t.yaml: Service \"My_Service\": not a valid name"),
        "{}",
        out(&o)
    );
    let o = stackpkg(tmp.path(), &["lint", "c", "--strict"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
}

#[test]
fn rendering_and_chart_errors_are_lint_errors() {
    let tmp = tempfile::tempdir().unwrap();
    chart(tmp.path(), COMPLETE, "x: {{ values.missing }}\n");
    let o = stackpkg(tmp.path(), &["lint", "c"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("[ERROR] c/templates/t.yaml:1: undefined value"),
        "{}",
        out(&o)
    );

    let tmp = tempfile::tempdir().unwrap();
    let root = chart(tmp.path(), COMPLETE, SVC);
    std::fs::write(
        root.join("Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: not-semver\n",
    )
    .unwrap();
    let o = stackpkg(tmp.path(), &["lint", "c"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("[ERROR] "), "{}", out(&o));
    assert!(out(&o).contains("version"), "{}", out(&o));

    let o = stackpkg(tmp.path(), &["lint", "does-not-exist"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out(&o).contains("panicked"));
}

#[test]
fn library_chart_macros_are_compiled() {
    let tmp = tempfile::tempdir().unwrap();
    let root = chart(tmp.path(), &format!("{COMPLETE}type: library\n"), "");
    std::fs::remove_file(root.join("templates/t.yaml")).unwrap();
    std::fs::write(root.join("values.schema.json"), r#"{"type": "object"}"#).unwrap();
    std::fs::write(
        root.join("templates/_m.j2"),
        "{% macro m() %}ok{% endmacro %}",
    )
    .unwrap();
    let o = stackpkg(tmp.path(), &["lint", "c", "--strict"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    std::fs::write(
        root.join("templates/_m.j2"),
        "{% macro m() %}{% if %}{% endmacro %}",
    )
    .unwrap();
    let o = stackpkg(tmp.path(), &["lint", "c"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("c/templates/_m.j2:1: syntax error"),
        "{}",
        out(&o)
    );
}
