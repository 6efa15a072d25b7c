//! `diff upgrade|rollback`: what an upgrade or a rollback would change, object by object,
//! between the current revision's manifest and the new one. Nothing is written.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::action::revision::render;
use crate::action::upgrade::{upgrade_values, ValuesMode};
use crate::chart::Chart;
use crate::manifest::Object;
use crate::release::{Driver, Release, ReleaseError, Status};
use crate::values::ValueOptions;
use crate::Result;

#[derive(Debug, Clone)]
pub enum Target {
    /// Render the chart with these values, as `upgrade` would.
    Upgrade {
        chart: Box<Chart>,
        values: ValueOptions,
    },
    /// The manifest of this revision (default: the one before the current revision).
    Rollback { revision: Option<u64> },
}

#[derive(Debug, Clone)]
pub struct DiffRequest {
    pub name: String,
    pub namespace: String,
    pub target: Target,
    /// Show Secret `data`/`stringData` values instead of masks.
    pub show_secrets: bool,
    /// Unchanged lines around each change.
    pub context: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ObjectDiff {
    /// `Kind namespace/name` (`Kind name` for objects without a namespace).
    pub object: String,
    pub change: Change,
    /// Unified diff of the two YAML forms, headers included.
    pub unified: String,
}

#[derive(Debug, Clone)]
pub struct DiffResult {
    /// The revision compared against (the current one).
    pub from_revision: u64,
    /// `upgrade` or `revision N`.
    pub to: String,
    /// Changed objects only, in the new manifest's order, then removed ones.
    pub objects: Vec<ObjectDiff>,
}

/// The revision in the cluster: the latest deployed one, or the latest at all.
fn current<'a>(history: &'a [Release], req: &DiffRequest) -> Result<&'a Release> {
    let not_found = || ReleaseError::NotFound {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
    };
    let last = history.last().ok_or_else(not_found)?;
    if last.status == Status::Uninstalled {
        return Err(not_found().into());
    }
    Ok(history
        .iter()
        .rev()
        .find(|r| r.status == Status::Deployed)
        .unwrap_or(last))
}

pub async fn diff(driver: &dyn Driver, req: &DiffRequest) -> Result<DiffResult> {
    let history = driver.history(&req.namespace, &req.name).await?;
    let cur = current(&history, req)?;
    let old = crate::manifest::parse_file(
        &format!("release {} revision {}", cur.name, cur.revision),
        &cur.manifest,
    )?;
    let (new, to) = match &req.target {
        Target::Upgrade { chart, values } => {
            let last = history.last().map_or(0, |r| r.revision);
            // The values exactly as a plain `upgrade` would take them.
            let (user, defaults) = upgrade_values(ValuesMode::Default, values.load()?, cur);
            let mut chart = chart.as_ref().clone();
            if let Some(d) = defaults {
                chart.values = d;
            }
            let rendered = render(&chart, user, &req.name, &req.namespace, last + 1, false)?;
            (rendered.output.objects, "upgrade".to_string())
        }
        Target::Rollback { revision } => {
            let want = match revision {
                Some(n) => *n,
                None => cur.revision.checked_sub(1).filter(|n| *n > 0).ok_or_else(|| {
                    ReleaseError::Operation {
                        name: req.name.clone(),
                        message: format!(
                            "revision {} is the first; there is no earlier revision to roll back to",
                            cur.revision
                        ),
                    }
                })?,
            };
            let target = history.iter().find(|r| r.revision == want).ok_or_else(|| {
                ReleaseError::RevisionNotFound {
                    name: req.name.clone(),
                    namespace: req.namespace.clone(),
                    revision: want,
                }
            })?;
            let objs = crate::manifest::parse_file(
                &format!("release {} revision {want}", req.name),
                &target.manifest,
            )?;
            (objs, format!("revision {want}"))
        }
    };
    let from = format!("revision {}", cur.revision);
    Ok(DiffResult {
        from_revision: cur.revision,
        objects: compare(&old, &new, req, &history, (&from, &to)),
        to: to.to_string(),
    })
}

/// Identity: group, kind, namespace (the release's when unset), name.
type Key = (String, String, String, String);

fn key(o: &Object, ns: &str) -> Key {
    (
        o.group().to_string(),
        o.kind.clone(),
        o.namespace.clone().unwrap_or_else(|| ns.to_string()),
        o.name.clone(),
    )
}

/// Kinds that are never namespaced, for headers of objects that set no namespace (the
/// manifest is compared before discovery fills namespaces in).
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "RuntimeClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
];

/// `Kind ns/name`, or `Kind name` for cluster-scoped objects: known kinds, and kinds the
/// release's stored resources show without a namespace (custom resources).
fn label(o: &Object, ns: &str, history: &[Release]) -> String {
    let cluster_scoped = o.namespace.is_none()
        && (CLUSTER_SCOPED.contains(&o.kind.as_str())
            || history.iter().any(|r| {
                r.resources.iter().any(|x| {
                    x.kind == o.kind && x.api_version == o.api_version && x.namespace.is_none()
                })
            }));
    if cluster_scoped {
        format!("{} {}", o.kind, o.name)
    } else {
        format!(
            "{} {}/{}",
            o.kind,
            o.namespace.as_deref().unwrap_or(ns),
            o.name
        )
    }
}

fn compare(
    old: &[Object],
    new: &[Object],
    req: &DiffRequest,
    history: &[Release],
    (from, to): (&str, &str),
) -> Vec<ObjectDiff> {
    let ns = &req.namespace;
    let old_by_key: BTreeMap<Key, &Object> = old.iter().map(|o| (key(o, ns), o)).collect();
    let new_keys: BTreeMap<Key, ()> = new.iter().map(|o| (key(o, ns), ())).collect();
    let mut out = Vec::new();
    let mut push = |o: &Object, before: Option<&Object>, after: Option<&Object>| {
        let a = before.map_or(String::new(), |o| yaml(o, req.show_secrets));
        let b = after.map_or(String::new(), |o| yaml(o, req.show_secrets));
        if a == b {
            return;
        }
        let change = match (before, after) {
            (None, _) => Change::Added,
            (_, None) => Change::Removed,
            _ => Change::Changed,
        };
        let unified = similar::TextDiff::from_lines(&a, &b)
            .unified_diff()
            .context_radius(req.context)
            .header(from, to)
            .to_string();
        out.push(ObjectDiff {
            object: label(o, ns, history),
            change,
            unified,
        });
    };
    for o in new {
        push(o, old_by_key.get(&key(o, ns)).copied(), Some(o));
    }
    for o in old {
        if !new_keys.contains_key(&key(o, ns)) {
            push(o, Some(o), None);
        }
    }
    out
}

/// The object as YAML with sorted keys (formatting differences in templates do not show),
/// Secret values masked unless `show`.
fn yaml(o: &Object, show: bool) -> String {
    let mut v = o.value.clone();
    if !show && o.group().is_empty() && o.kind == "Secret" {
        mask_secret(&mut v);
    }
    serde_yaml::to_string(&v).unwrap_or_else(|e| format!("# cannot print as YAML: {e}\n"))
}

/// Replaces every `data`/`stringData` value with `***` and a short hash of the value, so a
/// changed value still shows as a change without printing it.
pub fn mask_secret(v: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = v.get_mut(field) {
            for val in m.values_mut() {
                let text = match &*val {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let digest = hex::encode(Sha256::digest(text.as_bytes()));
                *val = Value::String(format!("*** (sha256:{})", &digest[..12]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_keep_changes_visible() {
        let mut a = json!({"kind": "Secret", "data": {"p": "czNjcmV0"}, "stringData": {"q": "x"}});
        let mut b = json!({"kind": "Secret", "data": {"p": "b3RoZXI="}, "stringData": {"q": "x"}});
        mask_secret(&mut a);
        mask_secret(&mut b);
        let pa = a["data"]["p"].as_str().unwrap();
        assert!(
            pa.starts_with("*** (sha256:") && !pa.contains("czNjcmV0"),
            "{pa}"
        );
        assert_ne!(a["data"]["p"], b["data"]["p"]);
        assert_eq!(a["stringData"]["q"], b["stringData"]["q"]);
    }
}
