//! The engine on in-memory charts: context, macros across charts, subcharts, errors.

use serde_json::json;
use stackpkg::chart::{Chart, ChartFile, ChartMetadata, ChartOrigin, Dependency};
use stackpkg::engine::{render, Capabilities, EngineError, ReleaseInfo, RenderOptions};

fn chart(
    name: &str,
    kind: Option<&str>,
    files: &[(&str, &str)],
    values: serde_json::Value,
) -> Chart {
    let files: Vec<ChartFile> = files
        .iter()
        .map(|(p, d)| ChartFile {
            path: p.to_string(),
            data: d.as_bytes().to_vec(),
        })
        .collect();
    Chart {
        metadata: ChartMetadata {
            api_version: "v2".into(),
            name: name.into(),
            version: "1.2.3".into(),
            app_version: Some("9.9".into()),
            chart_type: kind.map(str::to_string),
            ..Default::default()
        },
        values,
        schema: None,
        templates: files
            .iter()
            .filter(|f| f.path.starts_with("templates/"))
            .cloned()
            .collect(),
        crds: files
            .iter()
            .filter(|f| f.path.starts_with("crds/"))
            .cloned()
            .collect(),
        lifecycle: None,
        files,
        subcharts: Vec::new(),
        origin: ChartOrigin(name.into()),
    }
}

fn opts() -> RenderOptions {
    RenderOptions::offline(
        ReleaseInfo::install("rel", "ns1"),
        Capabilities::new(Some("1.30.2"), &["example.com/v1".into()]).unwrap(),
    )
}

fn render_one(src: &str, values: serde_json::Value) -> Result<String, EngineError> {
    let c = chart("app", None, &[("templates/t.yaml", src)], values.clone());
    let r = render(&c, &values, &opts())?;
    Ok(r.templates[0].content.clone())
}

fn err(src: &str) -> String {
    render_one(src, json!({"a": {"b": 1}}))
        .expect_err("render should fail")
        .to_string()
}

#[test]
fn context_variables() {
    let out = render_one(
        "{{ release.name }} {{ release.namespace }} {{ release.revision }} {{ release.is_install }} \
         {{ release.is_upgrade }} {{ release.service }}\n{{ chart.name }} {{ chart.version }} \
         {{ chart.appVersion }}\n{{ capabilities.kube_version.version }} {{ capabilities.kube_version.major }}.\
         {{ capabilities.kube_version.minor }} {{ 'example.com/v1' in capabilities.api_versions }} \
         {{ 'apps/v1' in capabilities.api_versions }}\n{{ template.name }} {{ template.base_path }}\n{{ values.a.b }}",
        json!({"a": {"b": 7}}),
    )
    .unwrap();
    assert_eq!(
        out,
        "rel ns1 1 true false stackpkg\napp 1.2.3 9.9\nv1.30.2 1.30 true true\napp/templates/t.yaml app/templates\n7"
    );
}

#[test]
fn block_tags_leave_no_blank_lines() {
    let out = render_one(
        "a: 1\n{% if values.on %}\nb: 2\n{% endif %}\nc: 3\n",
        json!({"on": true}),
    )
    .unwrap();
    assert_eq!(out, "a: 1\nb: 2\nc: 3\n");
}

#[test]
fn missing_value_names_template_and_line() {
    let e = err("ok: 1\nname: {{ values.a.nope }}\n");
    assert!(
        e.starts_with("app/templates/t.yaml:2: undefined value"),
        "{e}"
    );
    let e = err("x: {{ values.missing.deeper }}\n");
    assert!(
        e.starts_with("app/templates/t.yaml:1: undefined value"),
        "{e}"
    );
    assert!(e.contains("values.missing"), "{e}");
}

#[test]
fn syntax_error_names_line() {
    let e = err("a: 1\nb: 2\nc: {% if %}\n");
    assert!(e.starts_with("app/templates/t.yaml:3: syntax error"), "{e}");
    let e = err("a: {{ values.a.b \n");
    assert!(e.starts_with("app/templates/t.yaml:1: syntax error"), "{e}");
}

#[test]
fn unknown_function_and_filter() {
    let e = err("a: {{ nosuchfn(1) }}\n");
    assert!(
        e.starts_with("app/templates/t.yaml:1: unknown function"),
        "{e}"
    );
    let e = err("\n\na: {{ 1 | nosuchfilter }}\n");
    assert!(
        e.starts_with("app/templates/t.yaml:3: unknown filter"),
        "{e}"
    );
}

#[test]
fn required_and_fail_show_the_chart_message() {
    let e =
        err("p: {{ values.password | required(\"password is required: set values.password\") }}\n");
    assert_eq!(
        e,
        "app/templates/t.yaml:1: password is required: set values.password"
    );
    let e = err("{% if values.a.b < 2 %}{{ fail(\"b must be >= 2\") }}{% endif %}\n");
    assert_eq!(e, "app/templates/t.yaml:1: b must be >= 2");
}

#[test]
fn runaway_recursion_and_loops_stop_with_clear_errors() {
    let e = err("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}\n");
    assert!(e.starts_with("app/templates/t.yaml:1:"), "{e}");
    assert!(e.contains("recursion"), "{e}");
    let e = err("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}\n");
    assert!(e.contains("fuel exhausted"), "{e}");
}

#[test]
fn macros_import_relative_to_templates_and_across_dependencies() {
    let common = chart(
        "common",
        Some("library"),
        &[
            (
                "templates/_labels.j2",
                "{% macro labels(chart, release) -%}\nname: {{ chart.name | trunc(63) | quote }}\ninstance: {{ release.name }}\n{%- endmacro %}\n",
            ),
            // A library chart's object template is never rendered.
            ("templates/should-not-render.yaml", "{{ fail('rendered a library chart') }}"),
        ],
        json!({}),
    );
    let mut sub = chart(
        "db",
        None,
        &[
            ("templates/_helpers.j2", "{% macro who() %}db-helper{% endmacro %}"),
            (
                "templates/svc.yaml",
                "{% import \"_helpers.j2\" as h %}{% import \"common:_labels.j2\" as c %}sub: {{ h.who() }} {{ values.port }} {{ chart.name }} {{ values.global.env }}\n{{ c.labels(chart, release) }}\n",
            ),
            ("templates/NOTES.txt", "subchart notes are not shown"),
        ],
        json!({"port": 1}),
    );
    sub.metadata.dependencies = vec![Dependency {
        name: "common".into(),
        ..Default::default()
    }];
    sub.subcharts = vec![common.clone()];
    let mut app = chart(
        "app",
        None,
        &[
            ("templates/_helpers.j2", "{% macro who() %}app-helper{% endmacro %}"),
            (
                "templates/nested/deep/x.yaml",
                "{% import \"_helpers.j2\" as h %}{% from \"db:_helpers.j2\" import who as dbwho %}top: {{ h.who() }} {{ dbwho() }}\n",
            ),
            ("templates/NOTES.txt", "Installed {{ release.name }}."),
        ],
        json!({}),
    );
    app.metadata.dependencies = vec![Dependency {
        name: "db".into(),
        ..Default::default()
    }];
    app.subcharts = vec![sub];
    let values =
        json!({"db": {"port": 5432, "global": {"env": "prod"}}, "global": {"env": "prod"}});
    let r = render(&app, &values, &opts()).unwrap();
    let names: Vec<_> = r.templates.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "app/templates/nested/deep/x.yaml",
            "app/charts/db/templates/svc.yaml"
        ]
    );
    assert_eq!(r.templates[0].content, "top: app-helper db-helper\n");
    assert_eq!(
        r.templates[1].content,
        "sub: db-helper 5432 db prod\nname: \"db\"\ninstance: rel\n"
    );
    assert_eq!(r.notes.as_deref(), Some("Installed rel."));

    // Determinism: a second render is identical.
    assert_eq!(render(&app, &values, &opts()).unwrap(), r);
}

#[test]
fn unknown_dependency_prefix_is_a_clear_error() {
    let e = err("{% import \"nodep:_x.j2\" as x %}\n");
    assert!(e.contains("template not found"), "{e}");
    assert!(e.contains("nodep:_x.j2"), "{e}");
}

#[test]
fn files_object() {
    let c = chart(
        "app",
        None,
        &[
            ("conf/a.properties", "x=1\ny=2\n"),
            ("conf/b.xml", "<b/>"),
            ("templates/cm.yaml", "{{ files.get('conf/b.xml') }}|{{ files.lines('conf/a.properties') | length }}|{{ files.as_config('conf/*') | tojson }}|{{ files.glob('conf/*.xml') | tojson }}|{{ files.exists('nope') }}|{{ files.as_secrets('conf/b.xml') | tojson }}|{{ files.exists('templates/cm.yaml') }}"),
        ],
        json!({}),
    );
    let r = render(&c, &json!({}), &opts()).unwrap();
    assert_eq!(
        r.templates[0].content,
        r#"<b/>|2|{"a.properties":"x=1\ny=2\n","b.xml":"<b/>"}|{"conf/b.xml":"<b/>"}|false|{"b.xml":"PGIvPg=="}|false"#
    );
    let c = chart(
        "app",
        None,
        &[("templates/cm.yaml", "\n{{ files.get('missing.txt') }}")],
        json!({}),
    );
    let e = render(&c, &json!({}), &opts()).unwrap_err().to_string();
    assert!(e.starts_with("app/templates/cm.yaml:2:"), "{e}");
    assert!(e.contains("no file \"missing.txt\""), "{e}");
}

#[test]
fn non_utf8_template_is_rejected() {
    let mut c = chart("app", None, &[], json!({}));
    c.templates.push(ChartFile {
        path: "templates/bin.yaml".into(),
        data: vec![0xff, 0xfe, 0x00],
    });
    let e = render(&c, &json!({}), &opts()).unwrap_err().to_string();
    assert_eq!(e, "app/templates/bin.yaml: template is not UTF-8 text");
}

#[test]
fn tpl_and_lookup() {
    let out = render_one(
        "{{ values.t | tpl }} {{ lookup('v1', 'Secret', release.namespace, 'x') | length }}",
        json!({"t": "{{ release.name }}-{{ values.n }}", "n": 3}),
    )
    .unwrap();
    assert_eq!(out, "rel-3 0");
}

#[test]
fn lists_accumulate_through_namespace_not_append() {
    let out = render_one(
        "{% set ns = namespace(items=[]) %}{% for i in range(3) %}{% set ns.items = ns.items + [\"s\" ~ i] %}{% endfor %}{{ ns.items | join(\",\") }}",
        json!({}),
    )
    .unwrap();
    assert_eq!(out, "s0,s1,s2");
    let e = err("{% set l = [] %}{% set _ = l.append(1) %}\n");
    assert!(
        e.contains("lists are immutable in templates, there is no .append()"),
        "{e}"
    );
    let e = err("{{ values.a.nosuch() }}\n");
    assert!(e.contains("map has no method named nosuch"), "{e}");
}

#[test]
fn errors_inside_macros_name_the_macro_line_and_the_rendered_template() {
    let c = chart(
        "app",
        None,
        &[
            (
                "templates/_h.j2",
                "{% macro name(values) %}\n{{ values.nope }}\n{% endmacro %}",
            ),
            (
                "templates/t.yaml",
                "{% import \"_h.j2\" as h %}\nx: {{ h.name(values) }}\n",
            ),
        ],
        json!({}),
    );
    let e = render(&c, &json!({}), &opts()).unwrap_err().to_string();
    assert_eq!(
        e,
        "app/templates/_h.j2:2: undefined value: `values.nope` is undefined (while rendering app/templates/t.yaml)"
    );
}
