//! What runs for an event: hooks and steps merged by weight, each step's pods resolved
//! from the cluster in the step's order. Plans are data: `lifecycle plan` and every
//! `--dry-run` print them; `run` executes them.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::hooks::{self, Hook};
use super::spec::{shell_words, Order, PodSet, Step, WorkloadKind};
use super::{Event, LifecycleError};
use crate::kube::{Cluster, ObjectRef};

/// A StatefulSet an upgrade shrinks: ordinals `to..from` go away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScaleDown {
    pub statefulset: String,
    pub from: i64,
    pub to: i64,
}

impl ScaleDown {
    /// The removed pods, highest ordinal first.
    pub fn removed(&self) -> Vec<String> {
        (self.to.max(0)..self.from)
            .rev()
            .map(|i| format!("{}-{i}", self.statefulset))
            .collect()
    }
}

/// One hook or step, in run order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PlannedUnit {
    Hook {
        name: String,
        kind: String,
        weight: i64,
    },
    Step {
        name: String,
        weight: i64,
        target: String,
        order: String,
        /// Pods in the order they are visited (for `parallel`, the order they start).
        pods: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gate: Option<String>,
        on_failure: String,
        /// Why there are no pods, when there are none.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub event: Event,
    pub units: Vec<PlannedUnit>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Human-readable lines, one unit per line plus its command and gate.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{}:", self.event);
        if self.units.is_empty() {
            let _ = writeln!(s, "  (nothing)");
        }
        for (i, u) in self.units.iter().enumerate() {
            match u {
                PlannedUnit::Hook { name, kind, weight } => {
                    let _ = writeln!(s, "  {}. hook {kind}/{name} (weight {weight})", i + 1);
                }
                PlannedUnit::Step {
                    name,
                    weight,
                    target,
                    order,
                    pods,
                    command,
                    gate,
                    on_failure,
                    note,
                } => {
                    let _ = writeln!(
                        s,
                        "  {}. step {name} (weight {weight}) on {target}, {order}, on-failure {on_failure}",
                        i + 1
                    );
                    if pods.is_empty() {
                        let _ = writeln!(
                            s,
                            "     pods: none{}",
                            note.as_deref()
                                .map(|n| format!(" ({n})"))
                                .unwrap_or_default()
                        );
                    } else {
                        let _ = writeln!(s, "     pods: {}", pods.join(", "));
                    }
                    if let Some(c) = command {
                        let _ = writeln!(s, "     exec: {c}");
                    }
                    if let Some(g) = gate {
                        let _ = writeln!(s, "     gate: {g}");
                    }
                }
            }
        }
        s
    }
}

/// `matchLabels` and `matchExpressions` as a label selector string.
pub fn selector_string(sel: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match e["operator"].as_str().unwrap_or_default() {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

/// The ordinal of a pod name (`x-3` → 3).
pub fn ordinal(name: &str) -> Option<i64> {
    name.rsplit_once('-')?.1.parse().ok()
}

pub fn workload_ref(kind: WorkloadKind, name: &str, namespace: &str) -> ObjectRef {
    ObjectRef {
        api_version: "apps/v1".into(),
        kind: kind.as_str().into(),
        namespace: Some(namespace.to_string()),
        name: name.to_string(),
    }
}

/// The pods a step runs on, in its order; `Err(note)`-like empty results carry a reason.
pub async fn target_pods(
    cluster: &dyn Cluster,
    namespace: &str,
    step: &Step,
    scale: &[ScaleDown],
) -> Result<(Vec<String>, Option<String>), LifecycleError> {
    let t = &step.target;
    let (selector, set_name) = match (&t.kind, &t.name, &t.selector) {
        (Some(kind), Some(name), _) => {
            let r = workload_ref(*kind, name, namespace);
            let Some(obj) = cluster.get(&r).await? else {
                return Ok((Vec::new(), Some(format!("{r} does not exist"))));
            };
            let sel = selector_string(&obj["spec"]["selector"]);
            if sel.is_empty() {
                return Err(LifecycleError::Target {
                    step: step.name.clone(),
                    message: format!("{r} has no spec.selector"),
                });
            }
            (
                sel,
                (*kind == WorkloadKind::StatefulSet).then(|| name.clone()),
            )
        }
        (_, _, Some(sel)) => (sel.clone(), None),
        _ => {
            return Err(LifecycleError::Target {
                step: step.name.clone(),
                message: "target needs kind and name, or selector".into(),
            })
        }
    };
    let pods = cluster
        .list("v1", "Pod", Some(namespace), &selector)
        .await?;
    let mut names: Vec<(Option<i64>, String)> = pods
        .iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .filter_map(|p| p.pointer("/metadata/name").and_then(Value::as_str))
        .filter(|n| {
            // A StatefulSet's own pods are `<name>-<ordinal>`.
            set_name.as_ref().is_none_or(|s| {
                n.strip_prefix(s.as_str())
                    .and_then(|r| r.strip_prefix('-'))
                    .is_some_and(|o| o.parse::<u64>().is_ok())
            })
        })
        .map(|n| (ordinal(n), n.to_string()))
        .collect();
    if t.pods == PodSet::Removed {
        let Some(sd) = scale
            .iter()
            .find(|s| Some(&s.statefulset) == set_name.as_ref())
        else {
            return Ok((Vec::new(), Some("no scale-down of this StatefulSet".into())));
        };
        let removed = sd.removed();
        names.retain(|(_, n)| removed.contains(n));
    }
    names.sort();
    if t.order == Order::ReverseOrdinal {
        names.reverse();
    }
    let note = names
        .is_empty()
        .then(|| format!("no pods match {selector}"));
    Ok((names.into_iter().map(|(_, n)| n).collect(), note))
}

fn order_name(step: &Step) -> String {
    match step.target.order {
        Order::Ordinal => "ordinal".into(),
        Order::ReverseOrdinal => "reverse-ordinal".into(),
        Order::Parallel => format!("parallel (at most {} at once)", step.target.parallelism),
    }
}

/// Hooks and steps of one event in run order: weight ascending; at equal weight hooks
/// (in their own order: kind install order, then name) before steps (in declared order).
pub fn merge<'a>(
    hooks: &'a [Hook],
    steps: &'a [Step],
    event: Event,
) -> Vec<Result<&'a Hook, &'a Step>> {
    let mut all: Vec<(i64, u8, usize, Result<&Hook, &Step>)> = Vec::new();
    for (i, h) in hooks::for_event(hooks, event).into_iter().enumerate() {
        all.push((h.weight, 0, i, Ok(h)));
    }
    for (i, s) in steps.iter().filter(|s| s.on.contains(&event)).enumerate() {
        all.push((s.weight, 1, i, Err(s)));
    }
    all.sort_by_key(|(w, class, i, _)| (*w, *class, *i));
    all.into_iter().map(|(_, _, _, u)| u).collect()
}

/// Plans one event: which hooks and steps, on which pods (as the cluster is now).
pub async fn plan(
    cluster: &dyn Cluster,
    namespace: &str,
    hooks: &[Hook],
    steps: &[Step],
    event: Event,
    scale: &[ScaleDown],
) -> Result<Plan, LifecycleError> {
    let mut units = Vec::new();
    for u in merge(hooks, steps, event) {
        match u {
            Ok(h) => units.push(PlannedUnit::Hook {
                name: h.name.clone(),
                kind: h.kind.clone(),
                weight: h.weight,
            }),
            Err(s) => {
                let (pods, note) = target_pods(cluster, namespace, s, scale).await?;
                let mut command = s.exec.as_ref().map(|e| {
                    let c = e
                        .container
                        .as_deref()
                        .map(|c| format!(" in {c}"))
                        .unwrap_or_default();
                    format!(
                        "{}{c} (timeout {}, accept exit {:?})",
                        shell_words(&e.command),
                        e.timeout,
                        e.accept_exit_codes
                    )
                });
                if event == Event::Rollout {
                    let then = "delete the pod, wait for its replacement Ready on the new revision";
                    command = Some(match command {
                        Some(c) => format!("{c}; then {then}"),
                        None => then.to_string(),
                    });
                }
                units.push(PlannedUnit::Step {
                    name: s.name.clone(),
                    weight: s.weight,
                    target: s.target.describe(),
                    order: order_name(s),
                    pods,
                    command,
                    gate: s.gate.as_ref().map(|g| {
                        format!(
                            "{} every {} for at most {}",
                            g.describe(),
                            g.interval,
                            g.timeout
                        )
                    }),
                    on_failure: match s.on_failure {
                        super::spec::OnFailure::Abort => "abort".into(),
                        super::spec::OnFailure::Continue => "continue".into(),
                    },
                    note,
                });
            }
        }
    }
    Ok(Plan { event, units })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_and_ordinals() {
        let sel = json!({"matchLabels": {"app": "x", "tier": "db"},
            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(&sel), "app=x,tier=db,zone in (a,b),!gone");
        assert_eq!(ordinal("demo-cassandra-12"), Some(12));
        assert_eq!(ordinal("web-7d9f-abcde"), None);
        let sd = ScaleDown {
            statefulset: "c".into(),
            from: 5,
            to: 3,
        };
        assert_eq!(sd.removed(), ["c-4", "c-3"]);
    }

    #[test]
    fn merge_puts_hooks_first_at_equal_weight() {
        let objs = crate::manifest::parse_file(
            "c/templates/h.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: backup\n  annotations: {stackpkg.io/hook: pre-delete, stackpkg.io/hook-weight: \"5\"}\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: announce\n  annotations: {stackpkg.io/hook: pre-delete}\n",
        )
        .unwrap();
        let (_, hooks) = hooks::split(objs, "ns").unwrap();
        let steps = super::super::spec::parse(
            "lifecycle.yaml",
            "steps:\n  - name: late\n    on: [pre-delete]\n    weight: 10\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n  - name: drain\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n  - name: early\n    on: [pre-delete]\n    weight: -1\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n  - name: other\n    on: [post-delete]\n    target: {kind: StatefulSet, name: x}\n    exec: {command: [a]}\n",
            "",
        )
        .unwrap();
        let order: Vec<String> = merge(&hooks, &steps, Event::PreDelete)
            .into_iter()
            .map(|u| match u {
                Ok(h) => format!("hook {}", h.name),
                Err(s) => format!("step {}", s.name),
            })
            .collect();
        assert_eq!(
            order,
            [
                "step early",
                "hook announce",
                "step drain",
                "hook backup",
                "step late"
            ]
        );
    }
}
