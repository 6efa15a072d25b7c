//! Subcharts and library charts loaded from disk: own values section with `global`, own
//! `chart`, aliased names, prefixed macro imports, and `# Source:` paths.

use std::path::Path;
use std::process::{Command, Output};

fn stackpkg(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackpkg"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run stackpkg")
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
}

const LIB_MACROS: &str = "{% macro labels(chart, release) -%}\napp.kubernetes.io/name: {{ chart.name }}\napp.kubernetes.io/instance: {{ release.name }}\nchecksum: {{ chart.name | sha256sum | trunc(8) }}\n{%- endmacro %}\n";

const CM: &str = "{% import \"_helpers.j2\" as h %}{% import \"common:_labels.j2\" as common %}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-{{ chart.name }}\n  labels:\n    {{ common.labels(chart, release) | indent(4) | trim }}\ndata:\n  who: {{ h.who() }}\n  port: {{ values.port | quote }}\n  env: {{ values.global.env }}\n";

fn tree(dir: &Path) {
    write(
        dir,
        &[
            (
                "app/Chart.yaml",
                "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: common\n    version: 0.1.0\n  - name: db\n    version: 0.1.0\n    alias: store\n",
            ),
            ("app/values.yaml", "port: 80\nglobal:\n  env: prod\nstore:\n  port: 5432\n"),
            ("app/templates/_helpers.j2", "{% macro who() %}parent{% endmacro %}"),
            ("app/templates/cm.yaml", CM),
            ("app/charts/common/Chart.yaml", "apiVersion: v2\nname: common\nversion: 0.1.0\ntype: library\n"),
            ("app/charts/common/templates/_labels.j2", LIB_MACROS),
            (
                "app/charts/db/Chart.yaml",
                "apiVersion: v2\nname: db\nversion: 0.1.0\ndependencies:\n  - name: common\n    version: 0.1.0\n",
            ),
            ("app/charts/db/values.yaml", "port: 1\n"),
            ("app/charts/db/templates/_helpers.j2", "{% macro who() %}subchart{% endmacro %}"),
            ("app/charts/db/templates/cm.yaml", CM),
            ("app/charts/db/charts/common/Chart.yaml", "apiVersion: v2\nname: common\nversion: 0.1.0\ntype: library\n"),
            ("app/charts/db/charts/common/templates/_labels.j2", LIB_MACROS),
        ],
    );
}

#[test]
fn subcharts_render_with_their_own_values_chart_and_macros() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let o = stackpkg(
        tmp.path(),
        &["template", "r", "app", "--set", "store.port=6000"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let out = String::from_utf8(o.stdout).unwrap();
    let parent = "# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r-app\n  labels:\n    app.kubernetes.io/name: app\n";
    assert!(out.contains(parent), "{out}");
    assert!(
        out.contains("  who: parent\n  port: \"80\"\n  env: prod\n"),
        "{out}"
    );
    // The aliased subchart: Source path, name and values under the alias, global handed down.
    let sub = "# Source: app/charts/store/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r-store\n";
    assert!(out.contains(sub), "{out}");
    assert!(
        out.contains("  who: subchart\n  port: \"6000\"\n  env: prod\n"),
        "{out}"
    );
    // Library charts render nothing of their own.
    assert_eq!(out.matches("# Source:").count(), 2, "{out}");
}

#[test]
fn show_only_reaches_subchart_templates() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let o = stackpkg(
        tmp.path(),
        &[
            "template",
            "r",
            "app",
            "-s",
            "charts/store/templates/cm.yaml",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.matches("# Source:").count(), 1);
    assert!(out.contains("name: r-store"));
}

#[test]
fn disabled_subchart_is_not_rendered() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let meta = std::fs::read_to_string(tmp.path().join("app/Chart.yaml")).unwrap();
    std::fs::write(
        tmp.path().join("app/Chart.yaml"),
        meta.replace(
            "    alias: store\n",
            "    alias: store\n    condition: store.enabled\n",
        ),
    )
    .unwrap();
    let o = stackpkg(
        tmp.path(),
        &["template", "r", "app", "--set", "store.enabled=false"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.matches("# Source:").count(), 1, "{out}");
}
