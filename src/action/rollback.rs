//! `rollback NAME [REVISION]`: re-applies a stored revision's manifest and values as a
//! new revision (pending-rollback → deployed; the one before → superseded), pruning the
//! objects the target revision does not have.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::action::revision::{self, apply_and_wait, locked, ApplySettings, Progress};
use crate::kube::Cluster;
use crate::lifecycle::{Event, LifecycleRecord};
use crate::release::{deploy, now, Driver, Release, ReleaseError, Status};
use crate::Result;

#[derive(Debug, Clone)]
pub struct RollbackRequest {
    pub name: String,
    pub namespace: String,
    /// The revision to return to; `None`: the one before the latest.
    pub revision: Option<u64>,
    /// Delete and recreate objects whose immutable fields differ.
    pub force: bool,
    pub settings: ApplySettings,
}

pub async fn rollback(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &RollbackRequest,
    progress: Progress<'_>,
) -> Result<Release> {
    locked(
        cluster,
        driver,
        &req.namespace,
        &req.name,
        req.settings.lock(),
        |history| rollback_locked(cluster.as_ref(), driver, req, history, progress),
    )
    .await
}

/// The rollback proper, lock held (also `upgrade --atomic` after a failed upgrade).
pub(crate) async fn rollback_locked(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    req: &RollbackRequest,
    history: Vec<Release>,
    progress: Progress<'_>,
) -> Result<Release> {
    let last = history.last().ok_or_else(|| ReleaseError::NotFound {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
    })?;
    let wanted = match req.revision {
        Some(r) => r,
        None if last.revision > 1 => last.revision - 1,
        None => {
            return Err(ReleaseError::Operation {
                name: req.name.clone(),
                message: format!(
                    "revision {} is the first; there is no earlier revision to roll back to",
                    last.revision
                ),
            }
            .into())
        }
    };
    let target = history
        .iter()
        .find(|r| r.revision == wanted)
        .ok_or_else(|| {
            let kept: Vec<String> = history.iter().map(|r| r.revision.to_string()).collect();
            ReleaseError::Operation {
                name: req.name.clone(),
                message: format!(
                    "no revision {wanted} in namespace {} (stored revisions: {})",
                    req.namespace,
                    kept.join(", ")
                ),
            }
        })?;
    let source = format!("{} revision {wanted}", req.name);
    let objects = crate::manifest::parse_file(&source, &target.manifest)?;
    let planned = deploy::plan(cluster, &objects, &req.name, &req.namespace).await?;
    let resources: Vec<_> = planned.iter().map(|p| p.reference.clone()).collect();

    let description = format!("Rollback to {wanted}");
    let mut rec = Release {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
        revision: last.revision + 1,
        status: Status::PendingRollback,
        chart: target.chart.clone(),
        values: target.values.clone(),
        computed_values: target.computed_values.clone(),
        manifest: target.manifest.clone(),
        resources,
        notes: target.notes.clone(),
        first_deployed: history[0].first_deployed.clone(),
        last_deployed: now(),
        deleted: None,
        description: format!("{description} in progress"),
        // The target revision's hooks and steps (their last runs start afresh).
        hooks: target
            .hooks
            .iter()
            .cloned()
            .map(|mut h| {
                h.last_run = None;
                h
            })
            .collect(),
        lifecycle: LifecycleRecord {
            steps: target.lifecycle.steps.clone(),
            ..Default::default()
        },
    };
    let settle = req.settings.settle(false, req.force, false);
    if req.settings.dry_run.any() {
        revision::dry_run(cluster, &history, &planned, &mut rec, &settle, progress).await?;
        let events = [Event::PreRollback, Event::Rollout, Event::PostRollback];
        revision::dry_run_plans(cluster, &mut rec, &events, &[]).await?;
        return Ok(rec);
    }
    // Objects the target had and the live revisions do not: refuse before writing.
    deploy::check_ownership(
        cluster,
        &revision::new_objects(&history, &planned),
        &req.name,
        &req.namespace,
        false,
    )
    .await?;
    let prune = revision::to_prune(&history, &rec.resources, progress);

    driver.put(&rec).await?;
    let phases = req
        .settings
        .phases(Event::PreRollback, Event::PostRollback, Vec::new());
    let applied = apply_and_wait(
        cluster,
        driver,
        &mut rec,
        &planned,
        &BTreeSet::new(),
        &settle,
        &phases,
        progress,
    )
    .await;
    if let Err(e) = applied.result {
        revision::failed(driver, &mut rec, &format!("{description} failed: {e}")).await?;
        return Err(e.into());
    }
    revision::deployed_then_prune(
        cluster,
        driver,
        &mut rec,
        &history,
        &description,
        &prune,
        "objects it does not have",
        req.settings.max_history,
        progress,
    )
    .await?;
    Ok(rec)
}
