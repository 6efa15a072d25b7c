//! `uninstall`: delete the release's objects in reverse install order, then its records
//! (or keep them, marked uninstalled). PersistentVolumeClaims made by StatefulSets from
//! volumeClaimTemplates are not part of the release, so they stay unless
//! `--delete-volumes`: data outlives releases by default.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::action::revision::{drop_kept, locked, stored_objects, Progress};
use crate::kube::{Cluster, ObjectRef};
use crate::lifecycle::{run, Event};
use crate::manifest::Object;
use crate::release::lock::LockOptions;
use crate::release::{deploy, now, Driver, Release, ReleaseError, Status};
use crate::Result;

#[derive(Debug, Clone)]
pub struct UninstallRequest {
    pub name: String,
    pub namespace: String,
    pub keep_history: bool,
    /// Wait until every deleted object is gone (finalizers done).
    pub wait: bool,
    pub timeout: Duration,
    /// Also delete the PVCs the release's StatefulSets made from volumeClaimTemplates.
    pub delete_volumes: bool,
    pub lock: LockOptions,
    /// Skip hooks (lifecycle steps still run).
    pub no_hooks: bool,
    /// Print the pre-/post-delete hooks and steps that would run; change nothing.
    pub dry_run: bool,
}

impl UninstallRequest {
    /// Defaults of the CLI: no wait, volumes kept.
    pub fn new(name: &str, namespace: &str, lock: LockOptions) -> UninstallRequest {
        UninstallRequest {
            name: name.to_string(),
            namespace: namespace.to_string(),
            keep_history: false,
            wait: false,
            timeout: Duration::from_secs(300),
            delete_volumes: false,
            lock,
            no_hooks: false,
            dry_run: false,
        }
    }
}

pub async fn uninstall(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &UninstallRequest,
    progress: Progress<'_>,
) -> Result<Release> {
    let lock = (!req.dry_run).then_some(&req.lock);
    locked(
        cluster,
        driver,
        &req.namespace,
        &req.name,
        lock,
        |history| uninstall_locked(cluster.as_ref(), driver, req, history, progress),
    )
    .await
}

/// The StatefulSets (as rendered) among the release's objects, from the records' manifests
/// (`stored_objects`), newest first: no request needed to know their claim templates.
fn statefulsets(stored: &[Vec<Object>], refs: &[ObjectRef], namespace: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for o in stored.iter().rev().flatten() {
        if o.kind != "StatefulSet" {
            continue;
        }
        let mut v = o.value.clone();
        if v.pointer("/metadata/namespace").is_none() {
            v["metadata"]["namespace"] = Value::from(namespace);
        }
        let Some(r) = ObjectRef::of(&v) else { continue };
        let seen = out.iter().any(|s| ObjectRef::of(s).as_ref() == Some(&r));
        if refs.contains(&r) && !seen {
            out.push(v);
        }
    }
    out
}

async fn uninstall_locked(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    req: &UninstallRequest,
    history: Vec<Release>,
    progress: Progress<'_>,
) -> Result<Release> {
    let not_found = || ReleaseError::NotFound {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
    };
    let mut last = history.last().cloned().ok_or_else(not_found)?;
    if last.status == Status::Uninstalled {
        return Err(not_found().into());
    }
    if req.dry_run {
        let events = [Event::PreDelete, Event::PostDelete];
        last.lifecycle.plans = run::release_plans(cluster, &last, &events, &[]).await?;
        last.description = "Dry run complete".into();
        return Ok(last);
    }
    last.transition(Status::Uninstalling, "Deletion in progress")?;
    driver.put(&last).await?;
    let ctx = run::Ctx {
        cluster,
        namespace: &req.namespace,
        release: &req.name,
        timeout: req.timeout,
        progress,
    };
    // Pre-delete hooks and steps (drain every node…) before anything is removed.
    if let Err(e) = run::release_event(&ctx, &mut last, Event::PreDelete, &[], req.no_hooks).await {
        last.transition(Status::Failed, &format!("Uninstall failed: {e}"))?;
        driver.put(&last).await?;
        return Err(e.into());
    }

    // Everything any live revision applied: a failed upgrade may have added objects.
    let mut refs = Vec::new();
    for r in &history {
        if matches!(r.status, Status::Deployed | Status::Failed) || r.revision == last.revision {
            for o in &r.resources {
                if !refs.contains(o) {
                    refs.push(o.clone());
                }
            }
        }
    }
    let outcome = async {
        // Parsed once: for the claim templates and for what `resource-policy: keep` keeps.
        let stored = stored_objects(&history);
        let sets = statefulsets(&stored, &refs, &req.namespace);
        // One list finds the claims (only for releases with claim templates).
        let claims = if sets.is_empty() {
            Vec::new()
        } else {
            let pvcs = cluster
                .list("v1", "PersistentVolumeClaim", Some(&req.namespace), "")
                .await?;
            sets.iter()
                .flat_map(|s| deploy::claims_of(s, &pvcs))
                .collect()
        };
        let refs = drop_kept(&stored, refs, progress);
        let mut gone = deploy::delete_all(cluster, &refs, progress).await?;
        if req.delete_volumes {
            gone.extend(deploy::delete_all(cluster, &claims, progress).await?);
        } else {
            for c in &claims {
                progress(&format!(
                    "kept {c} (made from a volumeClaimTemplate; --delete-volumes deletes it)"
                ));
            }
        }
        if req.wait {
            deploy::wait_gone(cluster, &gone, req.timeout).await?;
        }
        run::release_event(&ctx, &mut last, Event::PostDelete, &[], req.no_hooks).await?;
        Ok::<_, ReleaseError>(())
    }
    .await;
    if let Err(e) = outcome {
        last.transition(Status::Failed, &format!("Uninstall failed: {e}"))?;
        driver.put(&last).await?;
        return Err(e.into());
    }
    last.transition(Status::Uninstalled, "Uninstallation complete")?;
    last.deleted = Some(now());
    if req.keep_history {
        driver.put(&last).await?;
    } else {
        for r in &history {
            driver.delete(&r.namespace, &r.name, r.revision).await?;
        }
    }
    Ok(last)
}
