//! Putting a release's objects into the cluster and taking them out: ownership marks,
//! ownership checks, applying in install order, pruning, deleting in reverse order.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::future::{join_all, try_join_all};
use serde_json::{json, Value};

use super::ReleaseError;
use crate::kube::{ApplyOptions, Cluster, KubeError, ObjectRef};

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGER: &str = "stackpkg";
pub const RELEASE_NAME_ANNOTATION: &str = "meta.stackpkg.io/release-name";
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.stackpkg.io/release-namespace";

/// An object ready to apply, with its resolved identity.
#[derive(Clone, Debug)]
pub struct Planned {
    pub reference: ObjectRef,
    pub value: Value,
}

/// (apiVersion, kind) → namespaced, for every kind the given CRDs define.
fn crd_kinds(objects: &[crate::manifest::Object]) -> BTreeMap<(String, String), bool> {
    let mut out = BTreeMap::new();
    for o in objects
        .iter()
        .filter(|o| o.kind == "CustomResourceDefinition")
    {
        let spec = &o.value["spec"];
        let (Some(group), Some(kind)) = (spec["group"].as_str(), spec["names"]["kind"].as_str())
        else {
            continue;
        };
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        for v in spec["versions"].as_array().into_iter().flatten() {
            if let Some(name) = v["name"].as_str() {
                out.insert((format!("{group}/{name}"), kind.to_string()), namespaced);
            }
        }
    }
    out
}

/// Resolves namespaces through discovery and adds the ownership marks.
pub async fn plan(
    cluster: &dyn Cluster,
    objects: &[crate::manifest::Object],
    release: &str,
    namespace: &str,
) -> Result<Vec<Planned>, ReleaseError> {
    let defined = crd_kinds(objects);
    let mut out = Vec::with_capacity(objects.len());
    for o in objects {
        let mut v = o.value.clone();
        let key = (o.api_version.clone(), o.kind.clone());
        let namespaced = match cluster.discover(&o.api_version, &o.kind).await {
            Ok(res) => res.namespaced,
            // Kinds of CRDs in this same chart do not exist until those are applied.
            Err(KubeError::UnknownKind { .. }) if defined.contains_key(&key) => defined[&key],
            Err(KubeError::UnknownKind {
                api_version, kind, ..
            }) => {
                return Err(KubeError::UnknownKind {
                    object: format!("{} (from {})", o.id(namespace), o.source),
                    api_version,
                    kind,
                }
                .into())
            }
            Err(e) => return Err(e.into()),
        };
        let meta = v
            .as_object_mut()
            .and_then(|m| {
                m.entry("metadata")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            })
            .ok_or_else(|| KubeError::Invalid {
                object: o.id(namespace),
                message: format!("metadata is not a mapping (from {})", o.source),
            })?;
        if namespaced {
            if o.namespace.is_none() {
                meta.insert("namespace".into(), json!(namespace));
            }
        } else {
            meta.remove("namespace");
        }
        for (key, k, val) in [
            ("labels", MANAGED_BY_LABEL, MANAGER),
            ("annotations", RELEASE_NAME_ANNOTATION, release),
            ("annotations", RELEASE_NAMESPACE_ANNOTATION, namespace),
        ] {
            let map = meta.entry(key).or_insert_with(|| json!({}));
            if !map.is_object() {
                *map = json!({});
            }
            map[k] = json!(val);
        }
        let reference = ObjectRef::of(&v).ok_or_else(|| KubeError::Invalid {
            object: o.id(namespace),
            message: format!("no name (from {})", o.source),
        })?;
        out.push(Planned {
            reference,
            value: v,
        });
    }
    Ok(out)
}

/// Whether `live` may be applied by `release`: it carries this release's marks, or
/// `take_ownership` adopts it from another release or from nobody.
fn may_take(
    live: &Value,
    object: String,
    release: &str,
    namespace: &str,
    take_ownership: bool,
) -> Result<(), ReleaseError> {
    let ann = |k: &str| {
        live.pointer("/metadata/annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    match (
        ann(RELEASE_NAME_ANNOTATION),
        ann(RELEASE_NAMESPACE_ANNOTATION),
    ) {
        (Some(n), Some(nns)) if n == release && nns == namespace => Ok(()),
        _ if take_ownership => Ok(()),
        (Some(n), nns) => Err(ReleaseError::Owned {
            object,
            owner: n.to_string(),
            owner_namespace: nns.unwrap_or("?").to_string(),
            release: release.to_string(),
        }),
        (None, _) => Err(ReleaseError::Unmanaged { object }),
    }
}

/// Refuses objects that exist and belong to another release or to nobody (unless
/// `take_ownership`). One list call per kind and namespace instead of one get per object.
/// Used where nothing may be written before the answer: dry runs, and the objects an
/// upgrade or rollback adds.
pub async fn check_ownership(
    cluster: &dyn Cluster,
    planned: &[&Planned],
    release: &str,
    namespace: &str,
    take_ownership: bool,
) -> Result<(), ReleaseError> {
    let mut groups: BTreeMap<(String, String, Option<String>), BTreeSet<String>> = BTreeMap::new();
    for p in planned {
        let r = &p.reference;
        groups
            .entry((r.api_version.clone(), r.kind.clone(), r.namespace.clone()))
            .or_default()
            .insert(r.name.clone());
    }
    for ((api_version, kind, ns), names) in groups {
        let existing = match cluster.list(&api_version, &kind, ns.as_deref(), "").await {
            Ok(list) => list,
            // Not served yet (its CRD comes with this chart): nothing of it can exist.
            Err(KubeError::UnknownKind { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        for obj in existing {
            let Some(r) = ObjectRef::of(&obj) else {
                continue;
            };
            if !names.contains(&r.name) {
                continue;
            }
            let object = ObjectRef {
                api_version: api_version.clone(),
                kind: kind.clone(),
                namespace: ns.clone(),
                name: r.name.clone(),
            }
            .to_string();
            may_take(&obj, object, release, namespace, take_ownership)?;
        }
    }
    Ok(())
}

/// A `metadata.uid` no object has. Applied with it, an object that exists is refused
/// (the API server will not change a uid) while a missing one is created with a fresh
/// uid: a create-only apply that checks ownership without a read in the common case.
pub const CREATE_ONLY_UID: &str = "00000000-0000-0000-0000-000000000000";

/// How to apply a revision's objects.
#[derive(Clone, Debug, Default)]
pub struct ApplyPolicy {
    pub apply: ApplyOptions,
    /// Adopt objects that belong to another release or to nobody (`--take-ownership`).
    pub take_ownership: bool,
    /// Delete and recreate objects whose immutable fields changed (`--force`).
    pub recreate: bool,
    /// For CRDs to be Established and recreated objects to be gone.
    pub timeout: Duration,
}

/// What `apply_all` did: the objects it created (they did not exist before), and how it
/// ended. On failure every request already sent has been answered, so `created` is complete.
#[derive(Debug)]
pub struct Applied {
    pub created: Vec<ObjectRef>,
    pub result: Result<(), ReleaseError>,
}

/// The server refused a create-only apply because the object exists.
fn exists(e: &KubeError) -> bool {
    match e {
        KubeError::Api {
            code: 422, fields, ..
        } => fields.iter().any(|f| f == "metadata.uid"),
        KubeError::Api {
            code: 409, message, ..
        } => message.contains("UID"),
        _ => false,
    }
}

/// A 422 for a field that cannot change once the object exists.
pub fn immutable(e: &KubeError) -> bool {
    match e {
        KubeError::Api {
            code: 422,
            message,
            fields,
            ..
        } => {
            !fields.iter().any(|f| f == "metadata.uid")
                && (message.contains("immutable")
                    || message.contains("are forbidden")
                    || message.contains("may not change"))
        }
        _ => false,
    }
}

fn immutable_error(r: &ObjectRef, e: KubeError) -> ReleaseError {
    match e {
        KubeError::Api {
            message, fields, ..
        } => ReleaseError::Immutable {
            object: r.to_string(),
            fields: if fields.is_empty() {
                "spec".into()
            } else {
                fields.join(", ")
            },
            message,
        },
        other => other.into(),
    }
}

/// Applies one object; `Ok(true)` when it was created.
async fn apply_one(
    cluster: &dyn Cluster,
    p: &Planned,
    guarded: bool,
    policy: &ApplyPolicy,
    release: &str,
    namespace: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<bool, ReleaseError> {
    if guarded {
        let mut v = p.value.clone();
        v["metadata"]["uid"] = json!(CREATE_ONLY_UID);
        match cluster.apply(&v, &policy.apply).await {
            Ok(_) => {
                progress(&format!("applied {}", p.reference));
                return Ok(true);
            }
            Err(e) if exists(&e) => {
                // It exists: one read decides whether it may be applied.
                if let Some(live) = cluster.get(&p.reference).await? {
                    may_take(
                        &live,
                        p.reference.to_string(),
                        release,
                        namespace,
                        policy.take_ownership,
                    )?;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    match cluster.apply(&p.value, &policy.apply).await {
        Ok(_) => {}
        Err(e) if immutable(&e) && policy.recreate => {
            if policy.apply.dry_run {
                progress(&format!(
                    "would delete and recreate {} (immutable field changed)",
                    p.reference
                ));
                return Ok(false);
            }
            progress(&format!(
                "recreating {} (immutable field changed, --force)",
                p.reference
            ));
            cluster.delete(&p.reference).await?;
            cluster.wait_deleted(&p.reference, policy.timeout).await?;
            cluster.apply(&p.value, &policy.apply).await?;
        }
        Err(e) if immutable(&e) => return Err(immutable_error(&p.reference, e)),
        Err(e) => return Err(e.into()),
    }
    progress(&format!("applied {}", p.reference));
    Ok(false)
}

/// Applies in order; consecutive objects of one kind go concurrently. CRDs are waited for
/// (Established) before anything after them, since later objects may be of their kinds.
/// Objects in `guarded` get a create-only apply first (see `CREATE_ONLY_UID`).
pub async fn apply_all(
    cluster: &dyn Cluster,
    planned: &[Planned],
    guarded: &BTreeSet<ObjectRef>,
    policy: &ApplyPolicy,
    release: &str,
    namespace: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Applied {
    let mut created = Vec::new();
    let mut i = 0;
    while i < planned.len() {
        let kind = &planned[i].reference.kind;
        let end = planned[i..]
            .iter()
            .position(|p| &p.reference.kind != kind)
            .map_or(planned.len(), |n| i + n);
        let group = &planned[i..end];
        // join_all, not try_join_all: a failure must not abandon requests in flight, or
        // an object could be created without being counted.
        let results = join_all(group.iter().map(|p| {
            let g = guarded.contains(&p.reference);
            apply_one(cluster, p, g, policy, release, namespace, progress)
        }))
        .await;
        let mut failure = None;
        for (p, r) in group.iter().zip(results) {
            match r {
                Ok(true) => created.push(p.reference.clone()),
                Ok(false) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Applied {
                created,
                result: Err(e),
            };
        }
        if kind == "CustomResourceDefinition" && !policy.apply.dry_run {
            if let Err(e) = try_join_all(
                group
                    .iter()
                    .map(|p| cluster.wait(&p.reference, policy.timeout)),
            )
            .await
            {
                return Applied {
                    created,
                    result: Err(e.into()),
                };
            }
        }
        i = end;
    }
    Applied {
        created,
        result: Ok(()),
    }
}

/// Waits for every object to be ready, all at once, within `timeout`.
pub async fn wait_all(
    cluster: &dyn Cluster,
    refs: &[ObjectRef],
    timeout: Duration,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), ReleaseError> {
    try_join_all(refs.iter().map(|r| async move {
        cluster.wait(r, timeout).await?;
        progress(&format!("ready {r}"));
        Ok::<_, KubeError>(())
    }))
    .await?;
    Ok(())
}

/// Deletes in reverse install order; objects already gone are fine. Returns the objects
/// this call deleted.
pub async fn delete_all(
    cluster: &dyn Cluster,
    refs: &[ObjectRef],
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<ObjectRef>, ReleaseError> {
    let mut deleted = Vec::new();
    for r in refs.iter().rev() {
        if cluster.delete(r).await? {
            progress(&format!("deleted {r}"));
            deleted.push(r.clone());
        }
    }
    Ok(deleted)
}

/// Waits until every object is gone, all at once, within `timeout`.
pub async fn wait_gone(
    cluster: &dyn Cluster,
    refs: &[ObjectRef],
    timeout: Duration,
) -> Result<(), ReleaseError> {
    try_join_all(refs.iter().map(|r| cluster.wait_deleted(r, timeout))).await?;
    Ok(())
}

/// The PersistentVolumeClaims a StatefulSet made from its volumeClaimTemplates, among
/// `claims`: named `<template>-<statefulset>-<ordinal>`.
pub fn claims_of(statefulset: &Value, claims: &[Value]) -> Vec<ObjectRef> {
    let Some(sts) = ObjectRef::of(statefulset) else {
        return Vec::new();
    };
    let templates: Vec<&str> = statefulset
        .pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/metadata/name").and_then(Value::as_str))
        .collect();
    let mut out = Vec::new();
    for c in claims {
        let Some(r) = ObjectRef::of(c) else { continue };
        if r.namespace != sts.namespace {
            continue;
        }
        let made = templates.iter().any(|t| {
            r.name
                .strip_prefix(&format!("{t}-{}-", sts.name))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
        if made {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_matched_by_template_statefulset_and_ordinal() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "a"},
            "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}]}});
        let pvc = |ns: &str, n: &str| {
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": n, "namespace": ns}})
        };
        let claims = [
            pvc("a", "data-db-0"),
            pvc("a", "data-db-12"),
            pvc("a", "data-db-x"),
            pvc("a", "data-dbx-0"),
            pvc("b", "data-db-1"),
            pvc("a", "logs-db-0"),
        ];
        let names: Vec<String> = claims_of(&sts, &claims)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["data-db-0", "data-db-12"]);
    }

    #[test]
    fn error_classes() {
        let api = |code, message: &str, fields: &[&str]| KubeError::Api {
            object: "x".into(),
            code,
            reason: "Invalid".into(),
            message: message.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        };
        assert!(exists(&api(
            422,
            "metadata.uid: field is immutable",
            &["metadata.uid"]
        )));
        assert!(!immutable(&api(
            422,
            "metadata.uid: field is immutable",
            &["metadata.uid"]
        )));
        assert!(immutable(&api(422, "spec: Forbidden: updates to statefulset spec for fields other than 'replicas' are forbidden", &["spec"])));
        assert!(immutable(&api(
            422,
            "spec.template: field is immutable",
            &["spec.template"]
        )));
        assert!(!immutable(&api(
            422,
            "spec.ports: Required value",
            &["spec.ports"]
        )));
        assert!(!exists(&api(409, "conflict with someone", &[])));
    }
}
