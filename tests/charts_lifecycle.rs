//! `lifecycle.yaml` of the first-party charts (and of the copies vendored into the stacks):
//! each renders with the same context as the templates, for the defaults and every `ci/*.yaml`;
//! parses as YAML; follows the agreed step format (and `schemas/lifecycle.schema.json` once that
//! file exists); names workloads and containers that exist in the rendered manifest; and agrees
//! with the preStop hooks of the pods it acts on.
//!
//! The engine that executes steps lives on another branch; these tests render `lifecycle.yaml`
//! through the real engine by handing it over as one more template of its chart.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use stackpkg::action::{self, template::TemplateRequest};
use stackpkg::chart::{Chart, ChartFile};
use stackpkg::engine::{self, Capabilities, ReleaseInfo, RenderOptions};
use stackpkg::manifest::Object;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart_dir(name: &str) -> PathBuf {
    root().join("charts").join(name)
}

/// Every application chart and stack under charts/ (folders with a values schema).
fn chart_dirs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("charts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.join("values.schema.json").is_file())
        .collect();
    out.sort();
    out
}

/// Defaults plus every `ci/*.yaml` of a chart, as (label, values).
fn value_sets(dir: &Path) -> Vec<(String, Value)> {
    let mut out = vec![("defaults".to_string(), json!({}))];
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("ci"))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
    {
        let v: Option<Value> = serde_yaml::from_str(&std::fs::read_to_string(&f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        out.push((f.display().to_string(), v.unwrap_or(json!({}))));
    }
    out
}

/// The name the lifecycle file gets while it is rendered as a template.
const AS_TEMPLATE: &str = "templates/zz-lifecycle-under-test.yaml";

struct Rendered {
    objects: Vec<Object>,
    /// (chart base in the tree, e.g. `streaming-analytics/charts/kafka`, parsed lifecycle).
    lifecycles: Vec<(String, Value)>,
}

fn add_lifecycle_as_template(chart: &mut Chart) {
    if let Some(l) = &chart.lifecycle {
        chart.templates.push(ChartFile {
            path: AS_TEMPLATE.into(),
            data: l.data.clone(),
        });
    }
    for sub in &mut chart.subcharts {
        add_lifecycle_as_template(sub);
    }
}

/// Renders a chart's objects (as `stackpkg template` does) and its lifecycle files (and its
/// subcharts'), each with its own chart's values, release, chart and capabilities.
fn render(dir: &Path, release: &str, namespace: &str, user: &Value) -> Result<Rendered, String> {
    let chart = stackpkg::chart::load(dir).map_err(|e| e.to_string())?;
    let req = TemplateRequest {
        release_name: release.into(),
        namespace: namespace.into(),
        ..Default::default()
    };
    let objects = action::template::render_chart(&chart, user, &req)
        .map_err(|e| e.to_string())?
        .objects;
    let (mut prepared, values) =
        stackpkg::values::prepare(&chart, user).map_err(|e| e.to_string())?;
    stackpkg::values::validate(&prepared, &values).map_err(|e| e.to_string())?;
    add_lifecycle_as_template(&mut prepared);
    let opts = RenderOptions::offline(
        ReleaseInfo::install(release, namespace),
        Capabilities::default(),
    );
    let rendered = engine::render(&prepared, &values, &opts).map_err(|e| e.to_string())?;
    let mut lifecycles = Vec::new();
    for f in &rendered.templates {
        let Some(base) = f.name.strip_suffix(&format!("/{AS_TEMPLATE}")) else {
            continue;
        };
        let doc: Value = serde_yaml::from_str(&f.content)
            .map_err(|e| format!("{base}/lifecycle.yaml: not YAML: {e}\n{}", f.content))?;
        lifecycles.push((base.to_string(), doc));
    }
    Ok(Rendered {
        objects,
        lifecycles,
    })
}

fn must(dir: &Path, release: &str, namespace: &str, user: &Value) -> Rendered {
    render(dir, release, namespace, user)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.file_name().unwrap().to_string_lossy()))
}

const EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "pre-delete",
    "post-delete",
    "pre-scale-down",
    "rollout",
];

/// `30s`, `5m`, `1h30m`: what `--timeout` accepts.
fn is_duration(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let mut rest = s;
    let mut units_seen = String::new();
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        let unit = rest[digits..].chars().next();
        match unit {
            Some(u @ ('h' | 'm' | 's')) if !units_seen.contains(u) => units_seen.push(u),
            _ => return false,
        }
        rest = &rest[digits + 1..];
    }
    !s.is_empty() && "hms".contains(units_seen.as_str()) && units_seen.len() <= 3
}

fn check_keys(obj: &Value, allowed: &[&str], at: &str, errs: &mut Vec<String>) {
    match obj.as_object() {
        None => errs.push(format!("{at}: must be a mapping")),
        Some(m) => {
            for k in m.keys() {
                if !allowed.contains(&k.as_str()) {
                    errs.push(format!("{at}: unknown field `{k}`"));
                }
            }
        }
    }
}

fn check_command(cmd: &Value, at: &str, errs: &mut Vec<String>) {
    match cmd.as_array() {
        Some(a) if !a.is_empty() && a.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty())) => {
        }
        _ => errs.push(format!("{at}.command: must be a non-empty list of strings")),
    }
}

fn check_exec(exec: &Value, at: &str, with_timeout: bool, errs: &mut Vec<String>) {
    let allowed: &[&str] = if with_timeout {
        &["container", "command", "timeout", "accept-exit-codes"]
    } else {
        &["container", "command"]
    };
    check_keys(exec, allowed, at, errs);
    if exec["container"].as_str().is_none_or(|c| c.is_empty()) {
        errs.push(format!("{at}.container: required"));
    }
    check_command(&exec["command"], at, errs);
    if !exec["timeout"].is_null() && !is_duration(&exec["timeout"]) {
        errs.push(format!("{at}.timeout: not a duration: {}", exec["timeout"]));
    }
    if !exec["accept-exit-codes"].is_null()
        && !exec["accept-exit-codes"]
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|c| c.as_u64().is_some_and(|c| c < 256)))
    {
        errs.push(format!(
            "{at}.accept-exit-codes: must list exit codes 0-255"
        ));
    }
}

/// The agreed `lifecycle.yaml` format; every violation, each naming the step and field.
fn format_errors(doc: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    check_keys(doc, &["steps"], "lifecycle.yaml", &mut errs);
    let Some(steps) = doc["steps"].as_array() else {
        errs.push("lifecycle.yaml: `steps` must be a list".into());
        return errs;
    };
    let mut names = BTreeSet::new();
    for (i, step) in steps.iter().enumerate() {
        let name = step["name"].as_str().unwrap_or("");
        let at = format!("lifecycle.yaml: steps[{i}] ({name})");
        check_keys(
            step,
            &[
                "name",
                "on",
                "weight",
                "target",
                "exec",
                "gate",
                "on-failure",
            ],
            &at,
            &mut errs,
        );
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            errs.push(format!("{at}.name: must match [a-z0-9-]+"));
        }
        if !names.insert(name.to_string()) {
            errs.push(format!("{at}.name: duplicate"));
        }
        let on: Vec<&str> = step["on"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if on.is_empty() || on.len() != step["on"].as_array().map_or(0, Vec::len) {
            errs.push(format!("{at}.on: must be a non-empty list of events"));
        }
        for e in &on {
            if !EVENTS.contains(e) {
                errs.push(format!("{at}.on: unknown event `{e}`"));
            }
        }
        if !step["weight"].is_null() && !step["weight"].is_i64() {
            errs.push(format!("{at}.weight: must be an integer"));
        }
        let t = &step["target"];
        check_keys(
            t,
            &["kind", "name", "selector", "pods", "order", "parallelism"],
            &format!("{at}.target"),
            &mut errs,
        );
        let by_name = t["kind"].is_string() || t["name"].is_string();
        if by_name == t["selector"].is_string() {
            errs.push(format!("{at}.target: give kind and name, or selector"));
        }
        if by_name {
            if !matches!(
                t["kind"].as_str(),
                Some("StatefulSet" | "Deployment" | "DaemonSet")
            ) {
                errs.push(format!(
                    "{at}.target.kind: StatefulSet, Deployment or DaemonSet"
                ));
            }
            if t["name"].as_str().is_none_or(|n| n.is_empty()) {
                errs.push(format!("{at}.target.name: required with kind"));
            }
        }
        match t["pods"].as_str() {
            None if t["pods"].is_null() => {}
            Some("all") => {}
            Some("removed") if on == ["pre-scale-down"] => {}
            Some("removed") => errs.push(format!(
                "{at}.target.pods: `removed` only with on: [pre-scale-down]"
            )),
            _ => errs.push(format!("{at}.target.pods: all or removed")),
        }
        let order = t["order"].as_str().unwrap_or("reverse-ordinal");
        if !t["order"].is_null() && !t["order"].is_string()
            || !["ordinal", "reverse-ordinal", "parallel"].contains(&order)
        {
            errs.push(format!(
                "{at}.target.order: ordinal, reverse-ordinal or parallel"
            ));
        }
        if !t["parallelism"].is_null() {
            if order != "parallel" {
                errs.push(format!(
                    "{at}.target.parallelism: only with order: parallel"
                ));
            }
            if t["parallelism"].as_u64().is_none_or(|p| p < 1) {
                errs.push(format!("{at}.target.parallelism: an integer >= 1"));
            }
        }
        if step["exec"].is_null() {
            if on != ["rollout"] {
                errs.push(format!("{at}.exec: required unless on: [rollout]"));
            }
        } else {
            check_exec(&step["exec"], &format!("{at}.exec"), true, &mut errs);
        }
        let g = &step["gate"];
        if !g.is_null() {
            check_keys(
                g,
                &["exec", "http", "interval", "timeout"],
                &format!("{at}.gate"),
                &mut errs,
            );
            if g["exec"].is_null() == g["http"].is_null() {
                errs.push(format!("{at}.gate: exactly one of exec and http"));
            }
            if !g["exec"].is_null() {
                check_exec(&g["exec"], &format!("{at}.gate.exec"), false, &mut errs);
            }
            if !g["http"].is_null() {
                let h = &g["http"];
                check_keys(
                    h,
                    &["port", "path", "expect-status"],
                    &format!("{at}.gate.http"),
                    &mut errs,
                );
                if !h["port"].as_u64().is_some_and(|p| (1..=65535).contains(&p)) {
                    errs.push(format!("{at}.gate.http.port: a port number"));
                }
                if !h["path"].as_str().is_some_and(|p| p.starts_with('/')) {
                    errs.push(format!("{at}.gate.http.path: must start with /"));
                }
                if !h["expect-status"].is_null()
                    && !h["expect-status"].as_array().is_some_and(|a| {
                        !a.is_empty()
                            && a.iter()
                                .all(|s| s.as_u64().is_some_and(|s| (100..600).contains(&s)))
                    })
                {
                    errs.push(format!("{at}.gate.http.expect-status: HTTP status codes"));
                }
            }
            for f in ["interval", "timeout"] {
                if !g[f].is_null() && !is_duration(&g[f]) {
                    errs.push(format!("{at}.gate.{f}: not a duration: {}", g[f]));
                }
            }
        }
        if !step["on-failure"].is_null()
            && !matches!(step["on-failure"].as_str(), Some("abort" | "continue"))
        {
            errs.push(format!("{at}.on-failure: abort or continue"));
        }
    }
    errs
}

/// The workload a step targets, from the rendered objects.
fn workload<'a>(objects: &'a [Object], namespace: &str, target: &Value) -> Option<&'a Object> {
    objects.iter().find(|o| {
        Some(o.kind.as_str()) == target["kind"].as_str()
            && Some(o.name.as_str()) == target["name"].as_str()
            && o.namespace.as_deref() == Some(namespace)
    })
}

fn container<'a>(workload: &'a Value, name: &str) -> Option<&'a Value> {
    workload["spec"]["template"]["spec"]["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

/// Every step's target exists and its exec/gate containers are in that workload's pods; an HTTP
/// gate's port is one the pods declare; a script under a mounted ConfigMap exists in it.
fn reference_errors(objects: &[Object], namespace: &str, doc: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    for step in doc["steps"].as_array().into_iter().flatten() {
        let at = format!("step {}", step["name"]);
        let Some(w) = workload(objects, namespace, &step["target"]) else {
            errs.push(format!(
                "{at}: no {} {} in the manifest",
                step["target"]["kind"], step["target"]["name"]
            ));
            continue;
        };
        let mut execs = vec![&step["exec"]];
        execs.push(&step["gate"]["exec"]);
        for exec in execs.into_iter().filter(|e| !e.is_null()) {
            let cname = exec["container"].as_str().unwrap_or("");
            let Some(c) = container(&w.value, cname) else {
                errs.push(format!(
                    "{at}: {} {} has no container {cname}",
                    w.kind, w.name
                ));
                continue;
            };
            errs.extend(missing_scripts(objects, &w.value, c, &exec["command"], &at));
        }
        if let Some(port) = step["gate"]["http"]["port"].as_u64() {
            let declared = w.value["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                .any(|p| p["containerPort"].as_u64() == Some(port));
            if !declared {
                errs.push(format!(
                    "{at}: gate port {port} is no containerPort of {}",
                    w.name
                ));
            }
        }
    }
    errs
}

/// A command word that is a path under a ConfigMap volume mount must be a key of that ConfigMap.
fn missing_scripts(objects: &[Object], w: &Value, c: &Value, cmd: &Value, at: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let volumes = w["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for word in cmd
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            let (Some(mount), None) = (m["mountPath"].as_str(), m["subPath"].as_str()) else {
                continue;
            };
            let Some(file) = word.strip_prefix(&format!("{mount}/")) else {
                continue;
            };
            let Some(cm) = volumes
                .iter()
                .find(|v| v["name"] == m["name"])
                .and_then(|v| v["configMap"]["name"].as_str())
            else {
                continue;
            };
            let has = objects
                .iter()
                .any(|o| o.kind == "ConfigMap" && o.name == cm && !o.value["data"][file].is_null());
            if !has {
                errs.push(format!("{at}: {word} is not in ConfigMap {cm}"));
            }
        }
    }
    errs
}

fn steps(doc: &Value) -> &Vec<Value> {
    doc["steps"].as_array().expect("steps")
}

fn step<'a>(doc: &'a Value, name: &str) -> &'a Value {
    steps(doc)
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {doc}"))
}

fn lifecycle_of<'a>(r: &'a Rendered, base: &str) -> &'a Value {
    &r.lifecycles
        .iter()
        .find(|(b, _)| b == base)
        .unwrap_or_else(|| {
            panic!(
                "no lifecycle for {base}; have {:?}",
                r.lifecycles.iter().map(|l| &l.0).collect::<Vec<_>>()
            )
        })
        .1
}

fn object<'a>(r: &'a Rendered, kind: &str, name: &str) -> &'a Value {
    &r.objects
        .iter()
        .find(|o| o.kind == kind && o.name == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
        .value
}

fn pre_stop(w: &Value, container_name: &str) -> Value {
    container(w, container_name).expect("container")["lifecycle"]["preStop"]["exec"]["command"]
        .clone()
}

#[test]
fn every_lifecycle_renders_follows_the_format_and_names_real_objects() {
    let mut seen = BTreeSet::new();
    for dir in chart_dirs() {
        for (label, user) in value_sets(&dir) {
            let r = must(&dir, "lc", "team-a", &user);
            for (base, doc) in &r.lifecycles {
                let errs = format_errors(doc);
                assert!(
                    errs.is_empty(),
                    "{base}/lifecycle.yaml with {label}:\n{}",
                    errs.join("\n")
                );
                let errs = reference_errors(&r.objects, "team-a", doc);
                assert!(
                    errs.is_empty(),
                    "{base}/lifecycle.yaml with {label}:\n{}",
                    errs.join("\n")
                );
                seen.insert(base.rsplit('/').next().unwrap().to_string());
            }
        }
    }
    for want in [
        "cassandra",
        "kafka",
        "spark",
        "hadoop",
        "elasticsearch",
        "redis",
        "mongodb",
    ] {
        assert!(
            seen.contains(want),
            "{want} has no lifecycle.yaml; seen {seen:?}"
        );
    }
}

#[test]
fn stacks_carry_their_components_lifecycle_steps() {
    for (stack, components) in [
        ("streaming-analytics", &["kafka", "spark", "mongodb"][..]),
        ("realtime-cep", &["cassandra", "kafka", "redis"][..]),
        ("search-analytics", &["elasticsearch", "kafka"][..]),
    ] {
        let r = must(&chart_dir(stack), "lab", "lab1", &json!({}));
        for c in components {
            let doc = lifecycle_of(&r, &format!("{stack}/charts/{c}"));
            assert!(!steps(doc).is_empty(), "{stack}/{c}: {doc}");
            // Subchart steps target the subchart's objects under the stack's release.
            for s in steps(doc) {
                assert!(
                    s["target"]["name"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("lab-{c}")),
                    "{stack}/{c}: {s}"
                );
            }
        }
    }
}

#[test]
fn lifecycle_files_match_the_shared_schema_when_it_exists() {
    let path = root().join("schemas/lifecycle.schema.json");
    if !path.is_file() {
        eprintln!(
            "skipping: {} does not exist yet (it comes with the lifecycle engine)",
            path.display()
        );
        return;
    }
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("lifecycle schema compiles");
    let mut checked = 0;
    for dir in chart_dirs() {
        for (label, user) in value_sets(&dir) {
            for (base, doc) in must(&dir, "lc", "team-a", &user).lifecycles {
                let errs: Vec<String> = validator
                    .iter_errors(&doc)
                    .map(|e| format!("{}: {e}", e.instance_path()))
                    .collect();
                assert!(
                    errs.is_empty(),
                    "{base}/lifecycle.yaml with {label}:\n{}",
                    errs.join("\n")
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn the_format_check_rejects_bad_steps() {
    let good = json!({"steps": [{
        "name": "drain", "on": ["pre-delete"],
        "target": {"kind": "StatefulSet", "name": "x", "order": "reverse-ordinal"},
        "exec": {"container": "c", "command": ["nodetool", "drain"], "timeout": "1h30m"},
        "gate": {"http": {"port": 9200, "path": "/", "expect-status": [200]}, "interval": "10s"}
    }]});
    assert_eq!(format_errors(&good), Vec::<String>::new());
    let cases = [
        ("/steps/0/name", json!("Drain"), "name"),
        ("/steps/0/on", json!(["pre-drain"]), "unknown event"),
        (
            "/steps/0/target/pods",
            json!("removed"),
            "only with on: [pre-scale-down]",
        ),
        ("/steps/0/target/kind", json!("Job"), "target.kind"),
        (
            "/steps/0/target/parallelism",
            json!(2),
            "only with order: parallel",
        ),
        (
            "/steps/0/exec/timeout",
            json!("5 minutes"),
            "not a duration",
        ),
        ("/steps/0/exec/command", json!([]), "command"),
        (
            "/steps/0/gate/exec",
            json!({"container": "c", "command": ["true"]}),
            "exactly one",
        ),
        ("/steps/0/on-failure", json!("retry"), "on-failure"),
        ("/steps/0/extra", json!(1), "unknown field `extra`"),
    ];
    for (pointer, value, want) in cases {
        let mut bad = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        bad.pointer_mut(parent).unwrap()[key] = value;
        let errs = format_errors(&bad);
        assert!(
            errs.iter()
                .any(|e| e.contains(want) && e.contains("steps[0] (")),
            "{pointer}: {errs:?}"
        );
    }
    let mut no_exec = good.clone();
    no_exec["steps"][0].as_object_mut().unwrap().remove("exec");
    assert!(format_errors(&no_exec)
        .iter()
        .any(|e| e.contains("exec: required")));
    no_exec["steps"][0]["on"] = json!(["rollout"]);
    assert_eq!(format_errors(&no_exec), Vec::<String>::new());
    let objects = must(&chart_dir("cassandra"), "ring", "db", &json!({})).objects;
    let mut wrong = good.clone();
    wrong["steps"][0]["target"]["name"] = json!("ring-cassandra");
    assert!(reference_errors(&objects, "db", &wrong)[0].contains("has no container c"));
    wrong["steps"][0]["target"]["name"] = json!("ring-nothing");
    assert!(
        reference_errors(&objects, "db", &wrong)[0].contains("no \"StatefulSet\" \"ring-nothing\"")
    );
}

#[test]
fn cassandra_drains_on_delete_and_rollback_and_decommissions_on_scale_down() {
    let r = must(&chart_dir("cassandra"), "ring", "db", &json!({}));
    let doc = lifecycle_of(&r, "cassandra");
    let drain = step(doc, "drain");
    assert_eq!(drain["on"], json!(["pre-delete", "pre-rollback"]));
    assert_eq!(drain["target"]["name"], json!("ring-cassandra"));
    assert_eq!(drain["target"]["order"], json!("reverse-ordinal"));
    assert_eq!(drain["exec"]["command"], json!(["nodetool", "drain"]));
    let dec = step(doc, "decommission");
    assert_eq!(dec["on"], json!(["pre-scale-down"]));
    assert_eq!(dec["target"]["pods"], json!("removed"));
    assert_eq!(dec["target"]["order"], json!("reverse-ordinal"));
    assert_eq!(dec["exec"]["command"], json!(["nodetool", "decommission"]));
    let gate = dec["gate"]["exec"]["command"][2].as_str().unwrap();
    assert!(
        gate.contains("nodetool status") && gate.contains("DECOMMISSIONED"),
        "{gate}"
    );
    assert_eq!(dec["on-failure"], json!("abort"));
    // The preStop drain leaves a node the steps drained or decommissioned alone.
    let pre = pre_stop(object(&r, "StatefulSet", "ring-cassandra"), "cassandra");
    let pre = pre[2].as_str().unwrap();
    assert!(
        pre.contains("DRAINED|DECOMMISSIONED") && pre.ends_with("nodetool drain"),
        "{pre}"
    );
    // fullnameOverride moves the target with the StatefulSet.
    let r = must(
        &chart_dir("cassandra"),
        "ring",
        "db",
        &json!({"fullnameOverride": "cass"}),
    );
    assert_eq!(
        step(lifecycle_of(&r, "cassandra"), "drain")["target"]["name"],
        json!("cass")
    );
}

#[test]
fn kafka_rolls_one_broker_at_a_time_gated_on_under_replicated_partitions() {
    let dir = chart_dir("kafka");
    let r = must(&dir, "bus", "streams", &json!({}));
    let sts = object(&r, "StatefulSet", "bus-kafka");
    assert_eq!(sts["spec"]["updateStrategy"]["type"], json!("OnDelete"));
    let props = object(&r, "ConfigMap", "bus-kafka-config")["data"]["server.properties"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(props.contains("controlled.shutdown.enable=true"), "{props}");
    assert!(
        sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            .as_u64()
            .unwrap()
            >= 60
    );
    let doc = lifecycle_of(&r, "kafka");
    assert_eq!(steps(doc).len(), 1);
    let roll = step(doc, "rollout-brokers");
    assert_eq!(roll["on"], json!(["rollout"]));
    assert_eq!(roll["target"]["name"], json!("bus-kafka"));
    assert_eq!(roll["target"]["order"], json!("reverse-ordinal"));
    assert!(roll["target"]["parallelism"].is_null());
    let gate = roll["gate"]["exec"]["command"][2].as_str().unwrap();
    assert!(
        gate.contains("/opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --describe --under-replicated-partitions")
            && gate.contains("[ -z \"$out\" ]"),
        "{gate}"
    );

    // Split roles: controllers first, then brokers.
    let r = must(
        &dir,
        "bus",
        "streams",
        &json!({"kraft": {"roles": "split"}}),
    );
    let doc = lifecycle_of(&r, "kafka");
    let names: Vec<&str> = steps(doc)
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rollout-controllers", "rollout-brokers"]);
    assert_eq!(
        step(doc, "rollout-controllers")["target"]["name"],
        json!("bus-kafka-controller")
    );
    assert!(
        step(doc, "rollout-controllers")["weight"].as_i64()
            < step(doc, "rollout-brokers")["weight"].as_i64()
    );
    assert_eq!(
        step(doc, "rollout-brokers")["target"]["name"],
        json!("bus-kafka-broker")
    );
    assert!(
        step(doc, "rollout-controllers")["gate"]["exec"]["command"][2]
            .as_str()
            .unwrap()
            .contains("kafka-metadata-quorum.sh --bootstrap-controller localhost:9093")
    );

    // Kubernetes' own rolling update: no rollout step fighting it.
    let r = must(
        &dir,
        "bus",
        "streams",
        &json!({"updateStrategy": "RollingUpdate"}),
    );
    assert!(steps(lifecycle_of(&r, "kafka")).is_empty());
}

#[test]
fn spark_workers_decommission_with_the_pre_stop_command() {
    let r = must(
        &chart_dir("spark"),
        "lab",
        "lab1",
        &json!({"worker": {"replicaCount": 4}}),
    );
    let doc = lifecycle_of(&r, "spark");
    let worker = object(&r, "Deployment", "lab-spark-worker");
    let pre = pre_stop(worker, "worker");
    // A Deployment's scale-down picks its own pods: only preStop can handle it.
    assert!(doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["on"] != json!(["pre-scale-down"])));
    let all = step(doc, "decommission-all-workers");
    assert_eq!(all["on"], json!(["pre-delete"]));
    assert_eq!(all["target"]["order"], json!("parallel"));
    assert_eq!(all["target"]["parallelism"], json!(4));
    assert_eq!(all["exec"]["command"], pre);
    assert!(pre[2].as_str().unwrap().contains("kill -PWR"));
    // The step outlasts the wait it contains.
    assert_eq!(all["exec"]["timeout"], json!("120s"));
}

#[test]
fn hadoop_decommissions_removed_datanodes_until_the_namenode_says_so() {
    let r = must(&chart_dir("hadoop"), "dfs", "bd", &json!({}));
    let doc = lifecycle_of(&r, "hadoop");
    let s = step(doc, "decommission-datanode");
    assert_eq!(s["on"], json!(["pre-scale-down"]));
    assert_eq!(s["target"]["name"], json!("dfs-hadoop-datanode"));
    assert_eq!(s["target"]["pods"], json!("removed"));
    assert_eq!(s["target"]["order"], json!("reverse-ordinal"));
    let cm = &object(&r, "ConfigMap", "dfs-hadoop-config")["data"];
    // The request lands in HDFS; the NameNode side turns it into the exclude file + refresh.
    assert!(cm["decommission-datanode.sh"]
        .as_str()
        .unwrap()
        .contains("hdfs dfs -put -f -"));
    let sync = cm["sync-exclude.sh"].as_str().unwrap();
    assert!(sync.contains("dfs.exclude") && sync.contains("hdfs dfsadmin -refreshNodes"));
    assert!(cm["hdfs-site.xml"]
        .as_str()
        .unwrap()
        .contains("/data/namenode/dfs.exclude"));
    assert!(cm["start-datanode.sh"]
        .as_str()
        .unwrap()
        .contains("-rm -f -skipTrash"));
    assert_eq!(
        s["gate"]["exec"]["command"],
        json!(["/bin/bash", "/scripts/datanode-decommissioned.sh"])
    );
    let dn = object(&r, "StatefulSet", "dfs-hadoop-datanode");
    assert_eq!(
        container(dn, "datanode").unwrap()["command"],
        json!(["/bin/bash", "/scripts/start-datanode.sh"])
    );
}

#[test]
fn elasticsearch_excludes_removed_data_nodes_like_its_pre_stop_hook() {
    let dir = chart_dir("elasticsearch");
    let r = must(
        &dir,
        "s",
        "search",
        &json!({"topology": "split", "data": {"replicaCount": 3}}),
    );
    let doc = lifecycle_of(&r, "elasticsearch");
    let s = step(doc, "drain-removed-data-nodes");
    assert_eq!(s["target"]["name"], json!("s-elasticsearch-data"));
    assert_eq!(s["target"]["pods"], json!("removed"));
    let script = s["exec"]["command"][2].as_str().unwrap();
    let pre = pre_stop(
        object(&r, "StatefulSet", "s-elasticsearch-data"),
        "elasticsearch",
    );
    let pre = pre[2].as_str().unwrap();
    // The step is the preStop drain, with a default for the timeout the env may not carry.
    let (first, rest) = script.split_once('\n').unwrap();
    assert!(
        first.starts_with("DRAIN_TIMEOUT_SECONDS=${DRAIN_TIMEOUT_SECONDS:-"),
        "{first}"
    );
    assert_eq!(rest.trim_end(), pre.trim_end());
    assert!(
        pre.contains("${excluded:+$excluded,}$HOSTNAME"),
        "excluded names accumulate: {pre}"
    );
    let http = &s["gate"]["http"];
    assert_eq!(http["port"], json!(9200));
    assert!(http["path"]
        .as_str()
        .unwrap()
        .contains("wait_for_no_relocating_shards=true"));
    // A node back from a stop takes only its own name off the list.
    let post = container(
        object(&r, "StatefulSet", "s-elasticsearch-data"),
        "elasticsearch",
    )
    .unwrap()["lifecycle"]["postStart"]["exec"]["command"][2]
        .as_str()
        .unwrap()
        .to_string();
    assert!(post.contains("grep -vx \"$HOSTNAME\""), "{post}");

    // Combined topology targets the one StatefulSet; with security the gate needs credentials.
    let r = must(
        &dir,
        "s",
        "search",
        &json!({"security": {"enabled": true, "existingSecret": "es-secret"}}),
    );
    let s = step(
        lifecycle_of(&r, "elasticsearch"),
        "drain-removed-data-nodes",
    );
    assert_eq!(s["target"]["name"], json!("s-elasticsearch"));
    assert!(s["gate"]["http"].is_null());
    assert!(s["gate"]["exec"]["command"][2]
        .as_str()
        .unwrap()
        .contains("elastic:$ELASTIC_PASSWORD"));
}

#[test]
fn mongodb_and_redis_hand_over_before_a_leaving_primary_goes() {
    let r = must(&chart_dir("mongodb"), "docs", "db", &json!({}));
    let s = step(lifecycle_of(&r, "mongodb"), "step-down-leaving-primary");
    assert_eq!(s["target"]["pods"], json!("removed"));
    assert_eq!(
        s["exec"]["command"],
        pre_stop(object(&r, "StatefulSet", "docs-mongodb"), "mongod")
    );
    assert!(s["gate"]["exec"]["command"][2]
        .as_str()
        .unwrap()
        .contains("isWritablePrimary ? 1 : 0"));

    let r = must(&chart_dir("redis"), "cache", "db", &json!({}));
    let doc = lifecycle_of(&r, "redis");
    let names: Vec<&str> = steps(doc)
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["no-promotion-of-leaving-replicas", "hand-over-master"]
    );
    let hand = step(doc, "hand-over-master");
    assert_eq!(
        hand["exec"]["command"],
        pre_stop(object(&r, "StatefulSet", "cache-redis"), "redis")
    );
    assert!(
        step(doc, "no-promotion-of-leaving-replicas")["exec"]["command"][2]
            .as_str()
            .unwrap()
            .contains("config set replica-priority 0")
    );
    let r = must(
        &chart_dir("redis"),
        "cache",
        "db",
        &json!({"architecture": "cluster"}),
    );
    assert!(steps(lifecycle_of(&r, "redis")).is_empty());
}
