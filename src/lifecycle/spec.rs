//! The lifecycle.yaml model: parsed from the rendered file, checked against
//! `schemas/lifecycle.schema.json`, then checked for the rules a schema says badly
//! (which combinations make sense), every error naming the file, the step and the field.

use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{duration, Event, LifecycleError};

const SCHEMA: &str = include_str!("../../schemas/lifecycle.schema.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkloadKind {
    StatefulSet,
    Deployment,
    DaemonSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodSet {
    #[default]
    All,
    Removed,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    Ordinal,
    #[default]
    ReverseOrdinal,
    Parallel,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    #[default]
    Abort,
    Continue,
}

fn one() -> u32 {
    1
}
fn zero_exit() -> Vec<i32> {
    vec![0]
}
fn ok_status() -> Vec<u16> {
    vec![200]
}
fn five_minutes() -> String {
    "5m".into()
}
fn ten_seconds() -> String {
    "10s".into()
}
fn ten_minutes() -> String {
    "10m".into()
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WorkloadKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(default)]
    pub pods: PodSet,
    #[serde(default)]
    pub order: Order,
    #[serde(default = "one")]
    pub parallelism: u32,
}

impl Target {
    /// `StatefulSet demo-cassandra` or `pods app=x`.
    pub fn describe(&self) -> String {
        match (&self.kind, &self.name, &self.selector) {
            (Some(k), Some(n), _) => format!("{} {n}", k.as_str()),
            (_, _, Some(s)) => format!("pods {s}"),
            _ => "nothing".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExecAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub command: Vec<String>,
    #[serde(default = "five_minutes")]
    pub timeout: String,
    #[serde(default = "zero_exit")]
    pub accept_exit_codes: Vec<i32>,
}

impl ExecAction {
    pub fn timeout(&self) -> Duration {
        duration::parse(&self.timeout).unwrap_or(Duration::from_secs(300))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GateExec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub command: Vec<String>,
    #[serde(default = "zero_exit")]
    pub accept_exit_codes: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GateHttp {
    pub port: u16,
    pub path: String,
    #[serde(default = "ok_status")]
    pub expect_status: Vec<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Gate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<GateExec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<GateHttp>,
    #[serde(default = "ten_seconds")]
    pub interval: String,
    #[serde(default = "ten_minutes")]
    pub timeout: String,
}

impl Gate {
    pub fn interval(&self) -> Duration {
        duration::parse(&self.interval).unwrap_or(Duration::from_secs(10))
    }
    pub fn timeout(&self) -> Duration {
        duration::parse(&self.timeout).unwrap_or(Duration::from_secs(600))
    }
    pub fn describe(&self) -> String {
        match (&self.exec, &self.http) {
            (Some(e), _) => format!("exec {}", shell_words(&e.command)),
            (_, Some(h)) => format!(
                "http GET :{}{} expecting {:?}",
                h.port, h.path, h.expect_status
            ),
            _ => "nothing".into(),
        }
    }
}

/// One step of lifecycle.yaml, defaults filled in (also what the release record keeps).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Step {
    /// Unique in its file; steps of subcharts are prefixed with the subchart's name
    /// (`kafka/drain`).
    pub name: String,
    pub on: Vec<Event>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight: i64,
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    #[serde(default)]
    pub on_failure: OnFailure,
}

/// The file format before defaults (only `steps`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    steps: Vec<Step>,
}

/// The validated steps of a chart tree, in declared order (parent chart first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    pub steps: Vec<Step>,
}

impl Lifecycle {
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }
}

pub fn shell_words(cmd: &[String]) -> String {
    cmd.iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA).expect("lifecycle schema is JSON");
        jsonschema::validator_for(&schema).expect("lifecycle schema is a valid schema")
    })
}

/// `step "drain" (steps[0])` for an instance path `/steps/0/...`, and the field path.
fn locate(doc: &Value, pointer: &str) -> (String, String) {
    let mut parts = pointer.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some("steps"), Some(i)) => {
            let field = parts.collect::<Vec<_>>().join(".");
            let name = doc
                .pointer(&format!("/steps/{i}/name"))
                .and_then(Value::as_str);
            let step = match name {
                Some(n) => format!("step {n:?} (steps[{i}])"),
                None => format!("steps[{i}]"),
            };
            (step, field)
        }
        _ => (
            String::new(),
            pointer.trim_start_matches('/').replace('/', "."),
        ),
    }
}

fn spec_err(
    file: &str,
    step: &str,
    field: &str,
    message: impl std::fmt::Display,
) -> LifecycleError {
    let mut loc = Vec::new();
    if !step.is_empty() {
        loc.push(step.to_string());
    }
    if !field.is_empty() {
        loc.push(format!("field {field}"));
    }
    let message = if loc.is_empty() {
        message.to_string()
    } else {
        format!("{}: {message}", loc.join(", "))
    };
    LifecycleError::Spec {
        file: file.to_string(),
        message,
    }
}

/// Parses and validates one rendered lifecycle.yaml. `file` names it in errors
/// (`cassandra/lifecycle.yaml`); `prefix` qualifies step names of subcharts (`kafka/`).
pub fn parse(file: &str, text: &str, prefix: &str) -> Result<Vec<Step>, LifecycleError> {
    let doc: Value = match serde_yaml::from_str::<Option<Value>>(text) {
        Ok(Some(v)) => v,
        // An empty file (everything templated away) has no steps.
        Ok(None) => return Ok(Vec::new()),
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!("line {}: ", l.line()))
                .unwrap_or_default();
            return Err(spec_err(file, "", "", format!("{at}invalid YAML: {e}")));
        }
    };
    let mut errors: Vec<(usize, String, String, String)> = validator()
        .iter_errors(&doc)
        .map(|e| {
            let pointer = e.instance_path().to_string();
            // Steps in file order, whatever order the validator walks them in.
            let index = pointer
                .strip_prefix("/steps/")
                .and_then(|r| r.split('/').next())
                .and_then(|i| i.parse().ok())
                .unwrap_or(usize::MAX);
            let (step, field) = locate(&doc, &pointer);
            (index, field, step, e.to_string())
        })
        .collect();
    if !errors.is_empty() {
        errors.sort();
        errors.dedup();
        let msgs: Vec<String> = errors
            .iter()
            .map(|(_, f, s, m)| match spec_err(file, s, f, m) {
                LifecycleError::Spec { message, .. } => message,
                other => other.to_string(),
            })
            .collect();
        return Err(LifecycleError::Spec {
            file: file.to_string(),
            message: msgs.join("; "),
        });
    }
    let parsed: File =
        serde_json::from_value(doc.clone()).map_err(|e| spec_err(file, "", "", e))?;
    let mut seen = std::collections::BTreeSet::new();
    let mut steps = Vec::new();
    for (i, mut step) in parsed.steps.into_iter().enumerate() {
        let at = format!("step {:?} (steps[{i}])", step.name);
        let err = |field: &str, m: String| spec_err(file, &at, field, m);
        if !seen.insert(step.name.clone()) {
            return Err(err("name", "the name is used by an earlier step".into()));
        }
        check_durations(&step).map_err(|(f, m)| err(&f, m))?;
        let only = |e: Event| step.on.iter().all(|x| *x == e);
        if step.exec.is_none() && !only(Event::Rollout) {
            return Err(err(
                "exec",
                "required (only `rollout` steps may leave it out: they then just replace each pod)"
                    .into(),
            ));
        }
        if step.target.pods == PodSet::Removed && !only(Event::PreScaleDown) {
            return Err(err(
                "target.pods",
                "`removed` is only meaningful for `pre-scale-down` steps".into(),
            ));
        }
        if step.on.contains(&Event::PreScaleDown)
            && step.target.kind != Some(WorkloadKind::StatefulSet)
        {
            return Err(err(
                "target.kind",
                "`pre-scale-down` steps must target a StatefulSet (the pods a replica decrease removes are its highest ordinals)".into(),
            ));
        }
        if step.on.contains(&Event::Rollout) {
            if step.target.kind != Some(WorkloadKind::StatefulSet) {
                return Err(err(
                    "target.kind",
                    "`rollout` steps must target a StatefulSet with updateStrategy OnDelete".into(),
                ));
            }
            if step.target.order == Order::Parallel {
                return Err(err(
                    "target.order",
                    "a rollout replaces one pod at a time: use ordinal or reverse-ordinal".into(),
                ));
            }
        }
        let has_parallelism = doc
            .pointer(&format!("/steps/{i}/target/parallelism"))
            .is_some();
        if has_parallelism && step.target.order != Order::Parallel {
            return Err(err(
                "target.parallelism",
                "only meaningful with `order: parallel`".into(),
            ));
        }
        step.name = format!("{prefix}{}", step.name);
        steps.push(step);
    }
    Ok(steps)
}

/// The steps of a rendered chart tree: each file's steps in order, parent chart first;
/// steps of subcharts named `<subchart>/<step>`.
pub fn from_rendered(
    files: &[crate::engine::RenderedFile],
    top: &str,
) -> Result<Lifecycle, LifecycleError> {
    let mut steps = Vec::new();
    for f in files {
        let rel = f
            .name
            .strip_prefix(top)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(&f.name);
        let dir = rel.strip_suffix("lifecycle.yaml").unwrap_or("");
        let prefix: String = dir
            .split('/')
            .collect::<Vec<_>>()
            .chunks(2)
            .filter_map(|c| match c {
                ["charts", name] => Some(format!("{name}/")),
                _ => None,
            })
            .collect();
        steps.extend(parse(&f.name, &f.content, &prefix)?);
    }
    Ok(Lifecycle { steps })
}

fn check_durations(step: &Step) -> Result<(), (String, String)> {
    let mut all = Vec::new();
    if let Some(e) = &step.exec {
        all.push(("exec.timeout", &e.timeout));
    }
    if let Some(g) = &step.gate {
        all.push(("gate.interval", &g.interval));
        all.push(("gate.timeout", &g.timeout));
    }
    for (field, v) in all {
        match duration::parse(v) {
            Ok(d) if d.is_zero() => {
                return Err((field.into(), format!("{v:?} must be more than zero")))
            }
            Ok(_) => {}
            Err(m) => return Err((field.into(), m)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASSANDRA: &str = r#"
steps:
  - name: drain
    on: [pre-delete, pre-rollback]
    target:
      kind: StatefulSet
      name: demo-cassandra
    exec:
      container: cassandra
      command: [nodetool, drain]
      timeout: 5m
  - name: decommission
    on: [pre-scale-down]
    weight: -5
    target: {kind: StatefulSet, name: demo-cassandra, pods: removed}
    exec: {container: cassandra, command: [nodetool, decommission], timeout: 30m, accept-exit-codes: [0, 2]}
    gate:
      http: {port: 9200, path: "/_cluster/health"}
      interval: 500ms
    on-failure: continue
  - name: roll
    on: [rollout]
    target: {kind: StatefulSet, name: demo-cassandra, order: ordinal}
"#;

    #[test]
    fn parses_with_defaults() {
        let steps = parse("cassandra/lifecycle.yaml", CASSANDRA, "").unwrap();
        assert_eq!(steps.len(), 3);
        let d = &steps[0];
        assert_eq!(d.on, [Event::PreDelete, Event::PreRollback]);
        assert_eq!(d.target.order, Order::ReverseOrdinal);
        assert_eq!(d.target.pods, PodSet::All);
        assert_eq!(d.exec.as_ref().unwrap().accept_exit_codes, [0]);
        assert_eq!(d.on_failure, OnFailure::Abort);
        let dc = &steps[1];
        assert_eq!(dc.weight, -5);
        assert_eq!(
            dc.exec.as_ref().unwrap().timeout(),
            Duration::from_secs(1800)
        );
        let g = dc.gate.as_ref().unwrap();
        assert_eq!(g.interval(), Duration::from_millis(500));
        assert_eq!(g.timeout(), Duration::from_secs(600));
        assert_eq!(g.http.as_ref().unwrap().expect_status, [200]);
        assert_eq!(dc.on_failure, OnFailure::Continue);
        assert!(steps[2].exec.is_none());
        let sub = parse("x/charts/c/lifecycle.yaml", CASSANDRA, "c/").unwrap();
        assert_eq!(sub[0].name, "c/drain");
        // Round trip through the record.
        let back: Vec<Step> =
            serde_json::from_value(serde_json::to_value(&steps).unwrap()).unwrap();
        assert_eq!(back, steps);
        assert!(parse("f", "", "").unwrap().is_empty());
        assert!(parse("f", "# only a comment\n", "").unwrap().is_empty());
        let files = [
            crate::engine::RenderedFile {
                name: "stack/lifecycle.yaml".into(),
                content: CASSANDRA.into(),
            },
            crate::engine::RenderedFile {
                name: "stack/charts/kafka/charts/zk/lifecycle.yaml".into(),
                content: CASSANDRA.into(),
            },
        ];
        let all = from_rendered(&files, "stack").unwrap();
        assert_eq!(all.steps.len(), 6);
        assert_eq!(all.steps[0].name, "drain");
        assert_eq!(all.steps[3].name, "kafka/zk/drain");
        assert!(all.step("kafka/zk/roll").is_some());
    }

    fn err(text: &str) -> String {
        parse("cassandra/lifecycle.yaml", text, "")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn schema_errors_name_file_step_and_field() {
        let e = err("steps:\n  - name: drain\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a], timeout: 5x}\n");
        assert!(
            e.starts_with(
                "cassandra/lifecycle.yaml: step \"drain\" (steps[0]), field exec.timeout:"
            ),
            "{e}"
        );
        let e = err("steps:\n  - name: drain\n    on: [pre-deletion]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n");
        assert!(e.contains("field on.0"), "{e}");
        let e = err("steps:\n  - name: Drain!\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n");
        assert!(e.contains("field name"), "{e}");
        let e = err("steps:\n  - name: a\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x, selector: y}\n    exec: {command: [a]}\n");
        assert!(e.contains("field target"), "{e}");
        let e = err("steps:\n  - name: a\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n    colour: red\n");
        assert!(e.contains("colour"), "{e}");
        let e = err("steps: [\n");
        assert!(e.contains("invalid YAML"), "{e}");
        let e = err("[1, 2]\n");
        assert!(e.starts_with("cassandra/lifecycle.yaml: "), "{e}");
    }

    #[test]
    fn combination_rules() {
        let step = |extra: &str| {
            format!("steps:\n  - name: s\n    on: [pre-delete]\n    target: {{kind: StatefulSet, name: x{extra}}}\n    exec: {{command: [a]}}\n")
        };
        assert!(err(&step(", pods: removed")).contains("field target.pods: `removed`"));
        assert!(err(&step(", parallelism: 2")).contains("field target.parallelism"));
        assert!(parse("f", &step(", order: parallel, parallelism: 2"), "").is_ok());
        let e = err(
            "steps:\n  - name: s\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x}\n",
        );
        assert!(e.contains("field exec: required"), "{e}");
        let e = err(
            "steps:\n  - name: s\n    on: [rollout]\n    target: {kind: Deployment, name: x}\n",
        );
        assert!(e.contains("field target.kind"), "{e}");
        let e = err("steps:\n  - name: s\n    on: [pre-scale-down]\n    target: {selector: a=b}\n    exec: {command: [a]}\n");
        assert!(e.contains("field target.kind"), "{e}");
        let dup = "steps:\n  - name: s\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n  - name: s\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n";
        assert!(err(dup).contains("step \"s\" (steps[1]), field name: the name is used"));
        let zero = "steps:\n  - name: s\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a], timeout: 0s}\n";
        assert!(err(zero).contains("field exec.timeout: \"0s\" must be more than zero"));
    }
}
