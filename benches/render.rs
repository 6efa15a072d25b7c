//! Rendering benchmarks: the `stackpkg create` scaffold and a 200-object chart, from an
//! in-memory chart to sorted, checked objects (what `template` does after loading).
//! Run: cargo bench --bench render

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use stackpkg::action::template::{render_prepared, TemplateRequest};
use stackpkg::chart::{Chart, ChartFile, ChartMetadata, ChartOrigin};
use stackpkg::engine::Capabilities;

fn chart_from(name: &str, files: Vec<(String, String)>) -> Chart {
    let files: Vec<ChartFile> = files
        .into_iter()
        .map(|(path, data)| ChartFile {
            path,
            data: data.into_bytes(),
        })
        .collect();
    let find = |p: &str| files.iter().find(|f| f.path == p).map(|f| f.data.clone());
    let meta: ChartMetadata = find("Chart.yaml")
        .map(|d| serde_yaml::from_slice(&d).expect("Chart.yaml"))
        .unwrap_or_else(|| ChartMetadata {
            api_version: "v2".into(),
            name: name.into(),
            version: "1.0.0".into(),
            app_version: Some("1.0".into()),
            ..Default::default()
        });
    let values = find("values.yaml")
        .map(|d| serde_yaml::from_slice(&d).expect("values.yaml"))
        .unwrap_or_else(|| json!({}));
    Chart {
        metadata: meta,
        values,
        schema: None,
        templates: files
            .iter()
            .filter(|f| f.path.starts_with("templates/"))
            .cloned()
            .collect(),
        crds: Vec::new(),
        lifecycle: None,
        files,
        subcharts: Vec::new(),
        origin: ChartOrigin(name.into()),
    }
}

/// 50 templates, each rendering a ConfigMap, a Service, a ServiceAccount and a Deployment
/// through shared macros: 200 objects.
fn big_chart() -> Chart {
    let mut files = vec![(
        "templates/_h.j2".to_string(),
        r#"{% macro labels(chart, release, comp) -%}
app.kubernetes.io/name: {{ chart.name }}
app.kubernetes.io/instance: {{ release.name }}
app.kubernetes.io/component: {{ comp }}
app.kubernetes.io/version: {{ chart.appVersion | quote }}
{%- endmacro %}"#
            .to_string(),
    )];
    let tmpl = r#"{% import "_h.j2" as h %}
{% set c = values.components[IDX] %}
{% set name = (release.name ~ "-" ~ c.name) | trunc(63) %}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name }}
  labels:
    {{ h.labels(chart, release, c.name) | indent(4) | trim }}
data:
  {{ c.config | toyaml | indent(2) | trim }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ name }}
  labels:
    {{ h.labels(chart, release, c.name) | indent(4) | trim }}
spec:
  ports:
    - port: {{ c.port }}
      targetPort: http
  selector:
    app.kubernetes.io/component: {{ c.name }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ name }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ name }}
  labels:
    {{ h.labels(chart, release, c.name) | indent(4) | trim }}
  annotations:
    checksum/config: {{ c.config | tojson | sha256sum }}
spec:
  replicas: {{ c.replicas | default(1) }}
  selector:
    matchLabels:
      app.kubernetes.io/component: {{ c.name }}
  template:
    metadata:
      labels:
        {{ h.labels(chart, release, c.name) | indent(8) | trim }}
    spec:
      serviceAccountName: {{ name }}
      containers:
        - name: main
          image: "{{ c.image }}"
          ports:
            - name: http
              containerPort: {{ c.port }}
          resources:
            {{ c.resources | toyaml | indent(12) | trim }}
"#;
    let mut comps = Vec::new();
    for i in 0..50 {
        files.push((
            format!("templates/c{i:02}.yaml"),
            tmpl.replace("IDX", &i.to_string()),
        ));
        comps.push(json!({
            "name": format!("comp{i}"), "port": 8000 + i, "image": format!("example/c{i}:1.0"),
            "replicas": i % 3, "config": {"a.conf": format!("x={i}\n"), "level": "info"},
            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}
        }));
    }
    let mut c = chart_from("big", files);
    c.values = json!({ "components": comps });
    c
}

fn bench(cr: &mut Criterion) {
    let req = TemplateRequest {
        release_name: "bench".into(),
        namespace: "default".into(),
        ..Default::default()
    };
    let scaffold = chart_from("mychart", stackpkg::action::create::scaffold("mychart"));
    let big = big_chart();
    let caps = Capabilities::default();
    let n = render_prepared(&big, &big.values, &req, caps.clone())
        .expect("big chart renders")
        .objects
        .len();
    assert_eq!(n, 200);
    cr.bench_function("render scaffold", |b| {
        b.iter(|| render_prepared(&scaffold, &scaffold.values, &req, caps.clone()).unwrap())
    });
    cr.bench_function("render 200 objects", |b| {
        b.iter(|| render_prepared(&big, &big.values, &req, caps.clone()).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
