//! `create`: write a new chart scaffold that renders, passes `lint --strict` and validates
//! against the Kubernetes schemas as it is.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// `(path, content)`; `CHARTNAME` in a file is replaced by the chart's name.
const SCAFFOLD: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        r#"apiVersion: v2
name: CHARTNAME
description: A stackpkg chart for Kubernetes
# application charts render objects; library charts only provide macros to other charts.
type: application
# The chart's own version (semver); bump it on every change of the chart.
version: 0.1.0
# The version of the application the chart deploys.
appVersion: "1.27.0"
home: https://example.com/CHARTNAME
icon: https://example.com/CHARTNAME/icon.svg
maintainers:
  - name: CHARTNAME maintainers
    email: maintainers@example.com
"#,
    ),
    (
        ".stackpkgignore",
        r#"# Files left out of `stackpkg package` (gitignore syntax).
.git/
.gitignore
*.swp
*.bak
*.tmp
*.orig
*~
.DS_Store
.idea/
.vscode/
"#,
    ),
    (
        "values.yaml",
        r#"# Default values for CHARTNAME. Override with -f FILE or --set key=value.

replicaCount: 1

image:
  repository: nginx
  pullPolicy: IfNotPresent
  # Defaults to the chart's appVersion when empty.
  tag: ""

imagePullSecrets: []
nameOverride: ""
fullnameOverride: ""

serviceAccount:
  create: true
  automount: true
  annotations: {}
  # Generated from the full name when empty.
  name: ""

podAnnotations: {}
podLabels: {}

podSecurityContext: {}

securityContext: {}

service:
  type: ClusterIP
  port: 80

ingress:
  enabled: false
  className: ""
  annotations: {}
  hosts:
    - host: chart-example.local
      paths:
        - path: /
          pathType: ImplementationSpecific
  tls: []

resources: {}

livenessProbe:
  httpGet:
    path: /
    port: http
readinessProbe:
  httpGet:
    path: /
    port: http

autoscaling:
  enabled: false
  minReplicas: 1
  maxReplicas: 10
  targetCPUUtilizationPercentage: 80

volumes: []
volumeMounts: []

nodeSelector: {}
tolerations: []
affinity: {}
"#,
    ),
    (
        "values.schema.json",
        r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "replicaCount": {"type": "integer", "minimum": 0},
    "image": {
      "type": "object",
      "properties": {
        "repository": {"type": "string", "minLength": 1},
        "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        "tag": {"type": "string"}
      },
      "required": ["repository"]
    },
    "imagePullSecrets": {"type": "array", "items": {"type": "object"}},
    "nameOverride": {"type": "string"},
    "fullnameOverride": {"type": "string"},
    "serviceAccount": {
      "type": "object",
      "properties": {
        "create": {"type": "boolean"},
        "automount": {"type": "boolean"},
        "annotations": {"type": "object"},
        "name": {"type": "string"}
      }
    },
    "podAnnotations": {"type": "object"},
    "podLabels": {"type": "object"},
    "podSecurityContext": {"type": "object"},
    "securityContext": {"type": "object"},
    "service": {
      "type": "object",
      "properties": {
        "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535}
      },
      "required": ["type", "port"]
    },
    "ingress": {
      "type": "object",
      "properties": {
        "enabled": {"type": "boolean"},
        "className": {"type": "string"},
        "annotations": {"type": "object"},
        "hosts": {"type": "array"},
        "tls": {"type": "array"}
      }
    },
    "resources": {"type": "object"},
    "livenessProbe": {"type": "object"},
    "readinessProbe": {"type": "object"},
    "autoscaling": {
      "type": "object",
      "properties": {
        "enabled": {"type": "boolean"},
        "minReplicas": {"type": "integer", "minimum": 1},
        "maxReplicas": {"type": "integer", "minimum": 1},
        "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1, "maximum": 100}
      }
    },
    "volumes": {"type": "array"},
    "volumeMounts": {"type": "array"},
    "nodeSelector": {"type": "object"},
    "tolerations": {"type": "array"},
    "affinity": {"type": "object"}
  }
}
"#,
    ),
    (
        "templates/_helpers.j2",
        r#"{#- Macros shared by this chart's templates. Import with:
      {% import "_helpers.j2" as h %}
    Macros only see their arguments, so pass chart, release and values explicitly. -#}

{# The chart name, or values.nameOverride. #}
{% macro name(chart, values) -%}
{{ values.nameOverride | default(chart.name) | trunc(63) | trimsuffix("-") }}
{%- endmacro %}

{# The full name of the release's objects: kept within 63 characters (DNS label limit). #}
{% macro fullname(chart, release, values) -%}
{% if values.fullnameOverride %}
{{ values.fullnameOverride | trunc(63) | trimsuffix("-") }}
{%- else %}
{% set n = values.nameOverride | default(chart.name) %}
{% if n in release.name %}
{{ release.name | trunc(63) | trimsuffix("-") }}
{%- else %}
{{ (release.name ~ "-" ~ n) | trunc(63) | trimsuffix("-") }}
{%- endif %}
{% endif %}
{%- endmacro %}

{% macro selector_labels(chart, release, values) -%}
app.kubernetes.io/name: {{ name(chart, values) }}
app.kubernetes.io/instance: {{ release.name }}
{%- endmacro %}

{% macro labels(chart, release, values) -%}
stackpkg.io/chart: {{ (chart.name ~ "-" ~ chart.version) | replace("+", "_") | trunc(63) | trimsuffix("-") }}
{{ selector_labels(chart, release, values) }}
app.kubernetes.io/version: {{ chart.appVersion | quote }}
app.kubernetes.io/managed-by: {{ release.service }}
{%- endmacro %}

{% macro service_account_name(chart, release, values) -%}
{% if values.serviceAccount.create %}
{{ values.serviceAccount.name | default(fullname(chart, release, values)) }}
{%- else %}
{{ values.serviceAccount.name | default("default") }}
{%- endif %}
{%- endmacro %}
"#,
    ),
    (
        "templates/deployment.yaml",
        r#"{% import "_helpers.j2" as h %}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ h.fullname(chart, release, values) }}
  labels:
    {{ h.labels(chart, release, values) | indent(4) | trim }}
spec:
  {% if not values.autoscaling.enabled %}
  replicas: {{ values.replicaCount }}
  {% endif %}
  selector:
    matchLabels:
      {{ h.selector_labels(chart, release, values) | indent(6) | trim }}
  template:
    metadata:
      {% if values.podAnnotations %}
      annotations:
        {{ values.podAnnotations | toyaml | indent(8) | trim }}
      {% endif %}
      labels:
        {{ h.labels(chart, release, values) | indent(8) | trim }}
        {% if values.podLabels %}
        {{ values.podLabels | toyaml | indent(8) | trim }}
        {% endif %}
    spec:
      {% if values.imagePullSecrets %}
      imagePullSecrets:
        {{ values.imagePullSecrets | toyaml | indent(8) | trim }}
      {% endif %}
      serviceAccountName: {{ h.service_account_name(chart, release, values) }}
      securityContext:
        {{ values.podSecurityContext | toyaml | indent(8) | trim }}
      containers:
        - name: {{ chart.name }}
          securityContext:
            {{ values.securityContext | toyaml | indent(12) | trim }}
          image: "{{ values.image.repository }}:{{ values.image.tag | default(chart.appVersion) }}"
          imagePullPolicy: {{ values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ values.service.port }}
              protocol: TCP
          livenessProbe:
            {{ values.livenessProbe | toyaml | indent(12) | trim }}
          readinessProbe:
            {{ values.readinessProbe | toyaml | indent(12) | trim }}
          resources:
            {{ values.resources | toyaml | indent(12) | trim }}
          {% if values.volumeMounts %}
          volumeMounts:
            {{ values.volumeMounts | toyaml | indent(12) | trim }}
          {% endif %}
      {% if values.volumes %}
      volumes:
        {{ values.volumes | toyaml | indent(8) | trim }}
      {% endif %}
      {% if values.nodeSelector %}
      nodeSelector:
        {{ values.nodeSelector | toyaml | indent(8) | trim }}
      {% endif %}
      {% if values.affinity %}
      affinity:
        {{ values.affinity | toyaml | indent(8) | trim }}
      {% endif %}
      {% if values.tolerations %}
      tolerations:
        {{ values.tolerations | toyaml | indent(8) | trim }}
      {% endif %}
"#,
    ),
    (
        "templates/service.yaml",
        r#"{% import "_helpers.j2" as h %}
apiVersion: v1
kind: Service
metadata:
  name: {{ h.fullname(chart, release, values) }}
  labels:
    {{ h.labels(chart, release, values) | indent(4) | trim }}
spec:
  type: {{ values.service.type }}
  ports:
    - port: {{ values.service.port }}
      targetPort: http
      protocol: TCP
      name: http
  selector:
    {{ h.selector_labels(chart, release, values) | indent(4) | trim }}
"#,
    ),
    (
        "templates/serviceaccount.yaml",
        r#"{% import "_helpers.j2" as h %}
{% if values.serviceAccount.create %}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ h.service_account_name(chart, release, values) }}
  labels:
    {{ h.labels(chart, release, values) | indent(4) | trim }}
  {% if values.serviceAccount.annotations %}
  annotations:
    {{ values.serviceAccount.annotations | toyaml | indent(4) | trim }}
  {% endif %}
automountServiceAccountToken: {{ values.serviceAccount.automount }}
{% endif %}
"#,
    ),
    (
        "templates/ingress.yaml",
        r#"{% import "_helpers.j2" as h %}
{% if values.ingress.enabled %}
{% set fullname = h.fullname(chart, release, values) %}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ fullname }}
  labels:
    {{ h.labels(chart, release, values) | indent(4) | trim }}
  {% if values.ingress.annotations %}
  annotations:
    {{ values.ingress.annotations | toyaml | indent(4) | trim }}
  {% endif %}
spec:
  {% if values.ingress.className %}
  ingressClassName: {{ values.ingress.className }}
  {% endif %}
  {% if values.ingress.tls %}
  tls:
    {% for t in values.ingress.tls %}
    - hosts:
        {% for host in t.hosts %}
        - {{ host | quote }}
        {% endfor %}
      secretName: {{ t.secretName }}
    {% endfor %}
  {% endif %}
  rules:
    {% for rule in values.ingress.hosts %}
    - host: {{ rule.host | quote }}
      http:
        paths:
          {% for p in rule.paths %}
          - path: {{ p.path }}
            pathType: {{ p.pathType }}
            backend:
              service:
                name: {{ fullname }}
                port:
                  number: {{ values.service.port }}
          {% endfor %}
    {% endfor %}
{% endif %}
"#,
    ),
    (
        "templates/hpa.yaml",
        r#"{% import "_helpers.j2" as h %}
{% if values.autoscaling.enabled %}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ h.fullname(chart, release, values) }}
  labels:
    {{ h.labels(chart, release, values) | indent(4) | trim }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ h.fullname(chart, release, values) }}
  minReplicas: {{ values.autoscaling.minReplicas }}
  maxReplicas: {{ values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ values.autoscaling.targetCPUUtilizationPercentage }}
{% endif %}
"#,
    ),
    (
        "templates/tests/test-connection.yaml",
        r#"{% import "_helpers.j2" as h %}
apiVersion: v1
kind: Pod
metadata:
  name: "{{ h.fullname(chart, release, values) }}-test-connection"
  labels:
    {{ h.labels(chart, release, values) | indent(4) | trim }}
  annotations:
    stackpkg.io/hook: test
spec:
  containers:
    - name: wget
      image: busybox:1.37
      command: ["wget"]
      args: ["{{ h.fullname(chart, release, values) }}:{{ values.service.port }}"]
  restartPolicy: Never
"#,
    ),
    (
        "templates/NOTES.txt",
        r#"{% import "_helpers.j2" as h %}
{% set fullname = h.fullname(chart, release, values) %}
{{ chart.name }} {{ chart.appVersion }} is installed as release {{ release.name }} in namespace {{ release.namespace }}.

Reach the application:
{% if values.ingress.enabled %}
{% for rule in values.ingress.hosts %}
  http{% if values.ingress.tls %}s{% endif %}://{{ rule.host }}{{ rule.paths[0].path }}
{% endfor %}
{% elif values.service.type == "NodePort" %}
  export NODE_PORT=$(kubectl get -n {{ release.namespace }} svc {{ fullname }} -o jsonpath="{.spec.ports[0].nodePort}")
  export NODE_IP=$(kubectl get nodes -o jsonpath="{.items[0].status.addresses[0].address}")
  echo http://$NODE_IP:$NODE_PORT
{% elif values.service.type == "LoadBalancer" %}
  kubectl get -n {{ release.namespace }} svc {{ fullname }} -w   # wait for EXTERNAL-IP
{% else %}
  kubectl -n {{ release.namespace }} port-forward svc/{{ fullname }} 8080:{{ values.service.port }}
  echo http://127.0.0.1:8080
{% endif %}
"#,
    ),
];

/// Writes the scaffold to `dest` (its last component is the chart name) and returns the
/// files written, relative to `dest`. Nothing is left behind on failure: the chart is
/// assembled in a temporary folder beside `dest` and renamed into place.
pub fn run(dest: &Path) -> Result<Vec<String>> {
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Usage(format!("{}: not a usable chart path", dest.display())))?;
    crate::chart::check_name(name)
        .map_err(|e| Error::Usage(format!("chart name {name:?}: {e}")))?;
    if dest.exists() {
        return Err(Error::Other(format!(
            "{}: already exists; refusing to overwrite it",
            dest.display()
        )));
    }
    let parent: PathBuf = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(&parent)
        .map_err(|e| Error::io(format!("cannot create a folder in {}", parent.display()), e))?;
    let mut written = Vec::new();
    for (path, content) in scaffold(name) {
        let target = tmp.path().join(&path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        std::fs::write(&target, content)
            .map_err(|e| Error::io(format!("cannot write {}", target.display()), e))?;
        written.push(path);
    }
    let tmp_path = tmp.keep();
    std::fs::rename(&tmp_path, dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp_path);
        Error::io(format!("cannot create {}", dest.display()), e)
    })?;
    Ok(written)
}

/// The scaffold's files for a chart called `name`, in a stable order.
pub fn scaffold(name: &str) -> Vec<(String, String)> {
    SCAFFOLD
        .iter()
        .map(|(p, c)| (p.to_string(), c.replace("CHARTNAME", name)))
        .collect()
}
