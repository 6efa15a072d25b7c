//! Putting a release's objects into the cluster and taking them out: ownership marks,
//! ownership checks, applying in install order, pruning, deleting in reverse order.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::future::try_join_all;
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

/// Refuses objects that exist and belong to another release or to nobody. One list call
/// per kind and namespace instead of one get per object.
pub async fn check_ownership(
    cluster: &dyn Cluster,
    planned: &[Planned],
    release: &str,
    namespace: &str,
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
            let ann = |k: &str| {
                obj.pointer("/metadata/annotations")
                    .and_then(|a| a.get(k))
                    .and_then(Value::as_str)
            };
            let object = ObjectRef {
                api_version: api_version.clone(),
                kind: kind.clone(),
                namespace: ns.clone(),
                name: r.name.clone(),
            }
            .to_string();
            match (
                ann(RELEASE_NAME_ANNOTATION),
                ann(RELEASE_NAMESPACE_ANNOTATION),
            ) {
                (Some(n), Some(nns)) if n == release && nns == namespace => {}
                (Some(n), nns) => {
                    return Err(ReleaseError::Owned {
                        object,
                        owner: n.to_string(),
                        owner_namespace: nns.unwrap_or("?").to_string(),
                        release: release.to_string(),
                    })
                }
                (None, _) => return Err(ReleaseError::Unmanaged { object }),
            }
        }
    }
    Ok(())
}

/// Applies in order; consecutive objects of one kind go concurrently. CRDs are waited for
/// (Established) before anything after them, since later objects may be of their kinds.
pub async fn apply_all(
    cluster: &dyn Cluster,
    planned: &[Planned],
    opts: &ApplyOptions,
    timeout: Duration,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), ReleaseError> {
    let mut i = 0;
    while i < planned.len() {
        let kind = &planned[i].reference.kind;
        let end = planned[i..]
            .iter()
            .position(|p| &p.reference.kind != kind)
            .map_or(planned.len(), |n| i + n);
        let group = &planned[i..end];
        try_join_all(group.iter().map(|p| async move {
            cluster.apply(&p.value, opts).await?;
            progress(&format!("applied {}", p.reference));
            Ok::<_, KubeError>(())
        }))
        .await?;
        if kind == "CustomResourceDefinition" && !opts.dry_run {
            try_join_all(group.iter().map(|p| cluster.wait(&p.reference, timeout))).await?;
        }
        i = end;
    }
    Ok(())
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

/// Deletes in reverse install order; objects already gone are fine.
pub async fn delete_all(
    cluster: &dyn Cluster,
    refs: &[ObjectRef],
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), ReleaseError> {
    for r in refs.iter().rev() {
        if cluster.delete(r).await? {
            progress(&format!("deleted {r}"));
        }
    }
    Ok(())
}
