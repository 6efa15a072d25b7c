//! Hooks: objects annotated `stackpkg.io/hook` (or Helm's `helm.sh/hook`) are not part of
//! the release; they are created around an operation, waited for, and deleted by policy.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Event, LifecycleError};
use crate::manifest::Object;

pub const PREFIXES: [&str; 2] = ["stackpkg.io/", "helm.sh/"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeletePolicy {
    BeforeHookCreation,
    HookSucceeded,
    HookFailed,
}

impl DeletePolicy {
    fn parse(s: &str) -> Option<DeletePolicy> {
        match s {
            "before-hook-creation" => Some(DeletePolicy::BeforeHookCreation),
            "hook-succeeded" => Some(DeletePolicy::HookSucceeded),
            "hook-failed" => Some(DeletePolicy::HookFailed),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookStatus {
    Running,
    Succeeded,
    Failed,
}

impl std::fmt::Display for HookStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HookStatus::Running => "running",
            HookStatus::Succeeded => "succeeded",
            HookStatus::Failed => "failed",
        })
    }
}

/// The last run of a hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HookRun {
    pub event: Event,
    pub started: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finished: String,
    pub status: HookStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// One hook as the release record keeps it: what it is, its object, its last run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hook {
    pub name: String,
    pub kind: String,
    pub api_version: String,
    /// The template it came from.
    pub source: String,
    pub events: Vec<Event>,
    #[serde(default)]
    pub weight: i64,
    /// Empty means the default, before-hook-creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_policies: Vec<DeletePolicy>,
    /// The rendered object.
    pub manifest: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<HookRun>,
}

/// Release records call them hook records.
pub type HookRecord = Hook;

impl Hook {
    pub fn deletes(&self, p: DeletePolicy) -> bool {
        if self.delete_policies.is_empty() {
            p == DeletePolicy::BeforeHookCreation
        } else {
            self.delete_policies.contains(&p)
        }
    }

    /// Install-order rank of the kind (hooks of equal weight run in install order).
    pub fn kind_rank(&self) -> usize {
        crate::manifest::kind_rank(&self.kind)
    }
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<(&'static str, &'a str)> {
    let ann = obj.pointer("/metadata/annotations")?;
    PREFIXES.iter().find_map(|p| {
        ann.get(format!("{p}{key}"))
            .and_then(Value::as_str)
            .map(|v| (*p, v))
    })
}

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The hook an object declares, if it is one.
pub fn hook_of(o: &Object, namespace: &str) -> Result<Option<Hook>, LifecycleError> {
    let Some((prefix, events)) = annotation(&o.value, "hook") else {
        return Ok(None);
    };
    let bad = |message: String| LifecycleError::Hook {
        object: o.id(namespace),
        source_name: o.source.clone(),
        message,
    };
    let mut evs = Vec::new();
    for e in list(events) {
        match Event::parse(e).filter(|e| e.is_hook_event()) {
            Some(ev) if !evs.contains(&ev) => evs.push(ev),
            Some(_) => {}
            None => {
                return Err(bad(format!(
                    "annotation {prefix}hook: unknown hook event {e:?} (known: pre-install, post-install, pre-upgrade, post-upgrade, pre-rollback, post-rollback, pre-delete, post-delete, test)"
                )))
            }
        }
    }
    if evs.is_empty() {
        return Err(bad(format!("annotation {prefix}hook is empty")));
    }
    let weight = match annotation(&o.value, "hook-weight") {
        None => 0,
        Some((p, w)) => w.trim().parse::<i64>().map_err(|_| {
            bad(format!(
                "annotation {p}hook-weight: {w:?} is not an integer"
            ))
        })?,
    };
    let mut delete_policies = Vec::new();
    if let Some((p, v)) = annotation(&o.value, "hook-delete-policy") {
        for d in list(v) {
            let policy = DeletePolicy::parse(d).ok_or_else(|| {
                bad(format!("annotation {p}hook-delete-policy: unknown policy {d:?} (known: before-hook-creation, hook-succeeded, hook-failed)"))
            })?;
            if !delete_policies.contains(&policy) {
                delete_policies.push(policy);
            }
        }
        delete_policies.sort();
    }
    Ok(Some(Hook {
        name: o.name.clone(),
        kind: o.kind.clone(),
        api_version: o.api_version.clone(),
        source: o.source.clone(),
        events: evs,
        weight,
        delete_policies,
        manifest: o.value.clone(),
        last_run: None,
    }))
}

/// Splits rendered objects into release objects and hooks (hooks sorted: weight, kind
/// install order, name).
pub fn split(
    objects: Vec<Object>,
    namespace: &str,
) -> Result<(Vec<Object>, Vec<Hook>), LifecycleError> {
    let mut keep = Vec::with_capacity(objects.len());
    let mut hooks = Vec::new();
    for o in objects {
        match hook_of(&o, namespace)? {
            Some(h) => hooks.push(h),
            None => keep.push(o),
        }
    }
    sort(&mut hooks);
    Ok((keep, hooks))
}

pub fn sort(hooks: &mut [Hook]) {
    hooks.sort_by(|a, b| {
        (a.weight, a.kind_rank(), &a.kind, &a.name).cmp(&(
            b.weight,
            b.kind_rank(),
            &b.kind,
            &b.name,
        ))
    });
}

/// Hooks of one event, in run order.
pub fn for_event(hooks: &[Hook], event: Event) -> Vec<&Hook> {
    hooks.iter().filter(|h| h.events.contains(&event)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(yaml: &str) -> Vec<Object> {
        crate::manifest::parse_file("c/templates/hooks.yaml", yaml).unwrap()
    }

    #[test]
    fn split_orders_by_weight_kind_name() {
        let objs = objects(
            r#"apiVersion: v1
kind: ConfigMap
metadata: {name: plain}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: b-job
  annotations: {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "5"}
---
apiVersion: v1
kind: Pod
metadata:
  name: test-pod
  annotations: {"stackpkg.io/hook": test, "stackpkg.io/hook-delete-policy": "hook-succeeded, before-hook-creation"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: z-cm
  annotations: {"stackpkg.io/hook": pre-install, "stackpkg.io/hook-weight": "-1"}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: a-job
  annotations: {"stackpkg.io/hook": pre-install}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a-cm
  annotations: {"stackpkg.io/hook": pre-install}
"#,
        );
        let (keep, hooks) = split(objs, "ns").unwrap();
        assert_eq!(keep.len(), 1);
        assert_eq!(keep[0].name, "plain");
        let names: Vec<_> = hooks.iter().map(|h| h.name.as_str()).collect();
        // weight -1; weight 0: ConfigMap before Pod before Job (install order), then name.
        assert_eq!(names, ["z-cm", "a-cm", "test-pod", "a-job", "b-job"]);
        let b = hooks.iter().find(|h| h.name == "b-job").unwrap();
        assert_eq!(b.events, [Event::PreInstall, Event::PreUpgrade]);
        assert_eq!(b.weight, 5);
        assert!(b.deletes(DeletePolicy::BeforeHookCreation));
        assert!(!b.deletes(DeletePolicy::HookSucceeded));
        let t = hooks.iter().find(|h| h.name == "test-pod").unwrap();
        assert_eq!(
            t.delete_policies,
            [
                DeletePolicy::BeforeHookCreation,
                DeletePolicy::HookSucceeded
            ]
        );
        let pre: Vec<_> = for_event(&hooks, Event::PreInstall)
            .iter()
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(pre, ["z-cm", "a-cm", "a-job", "b-job"]);
    }

    #[test]
    fn bad_annotations_name_the_object() {
        for (ann, msg) in [
            (
                r#"{"stackpkg.io/hook": "pre-instal"}"#,
                "unknown hook event \"pre-instal\"",
            ),
            (
                r#"{"stackpkg.io/hook": " , "}"#,
                "annotation stackpkg.io/hook is empty",
            ),
            (
                r#"{"stackpkg.io/hook": "rollout"}"#,
                "unknown hook event \"rollout\"",
            ),
            (
                r#"{"helm.sh/hook": "test", "helm.sh/hook-weight": "x"}"#,
                "annotation helm.sh/hook-weight: \"x\" is not an integer",
            ),
            (
                r#"{"helm.sh/hook": "test", "helm.sh/hook-delete-policy": "never"}"#,
                "unknown policy \"never\"",
            ),
        ] {
            let objs = objects(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {ann}\n"
            ));
            let e = split(objs, "ns").unwrap_err().to_string();
            assert!(
                e.starts_with("Pod ns/p (from c/templates/hooks.yaml): "),
                "{e}"
            );
            assert!(e.contains(msg), "{e}");
        }
    }
}
