//! `uninstall`: delete the release's objects in reverse install order, then its records
//! (or keep them, marked uninstalled). PersistentVolumeClaims made by StatefulSets from
//! volumeClaimTemplates are not part of the release, so they stay: data outlives releases.

use std::sync::Arc;

use crate::action::install::{locked, recover_interrupted, Progress};
use crate::kube::Cluster;
use crate::lifecycle::{run, Event};
use crate::release::lock::LockOptions;
use crate::release::{deploy, now, Driver, Release, ReleaseError, Status};
use crate::Result;

#[derive(Debug, Clone)]
pub struct UninstallRequest {
    pub name: String,
    pub namespace: String,
    pub keep_history: bool,
    pub lock: LockOptions,
    /// Skip hooks (lifecycle steps still run).
    pub no_hooks: bool,
    /// Time limit for each hook and step wait.
    pub timeout: std::time::Duration,
    /// Print what would run and be deleted; change nothing.
    pub dry_run: bool,
}

pub async fn uninstall(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &UninstallRequest,
    progress: Progress<'_>,
) -> Result<Release> {
    let lock = (!req.dry_run).then_some(&req.lock);
    locked(cluster, &req.namespace, &req.name, lock, |took| {
        uninstall_locked(cluster, driver, req, progress, took)
    })
    .await
}

async fn uninstall_locked(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &UninstallRequest,
    progress: Progress<'_>,
    took_over: Option<String>,
) -> Result<Release> {
    let mut history = driver.history(&req.namespace, &req.name).await?;
    if !req.dry_run {
        recover_interrupted(driver, &mut history, took_over.as_deref()).await?;
    }
    let not_found = || ReleaseError::NotFound {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
    };
    let mut last = history.last().cloned().ok_or_else(not_found)?;
    if last.status == Status::Uninstalled {
        return Err(not_found().into());
    }
    let cluster = cluster.as_ref();
    if req.dry_run {
        last.lifecycle.plans = run::release_plans(
            cluster,
            &last,
            &[Event::PreDelete, Event::PostDelete],
            &[],
        )
        .await?;
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
    if let Err(e) = run::release_event(&ctx, &mut last, Event::PreDelete, &[], req.no_hooks).await
    {
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
    if let Err(e) = deploy::delete_all(cluster, &refs, progress).await {
        last.transition(Status::Failed, &format!("Uninstall failed: {e}"))?;
        driver.put(&last).await?;
        return Err(e.into());
    }
    if let Err(e) = run::release_event(&ctx, &mut last, Event::PostDelete, &[], req.no_hooks).await
    {
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
