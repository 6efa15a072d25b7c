//! `upgrade`: render the new revision, apply it, prune what the previous revision had and
//! this one dropped, supersede the previous record.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::action::install::{
    apply_revision, ensure_namespace, locked, recover_interrupted, render, to_json, Progress,
};
use crate::kube::{ApplyOptions, Cluster, ObjectRef};
use crate::release::lock::LockOptions;
use crate::release::{deploy, now, Driver, Release, ReleaseError, Status};
use crate::values::ValueOptions;
use crate::Result;

#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    pub name: String,
    pub chart: crate::chart::Chart,
    pub values: ValueOptions,
    pub namespace: String,
    pub wait: bool,
    pub timeout: Duration,
    pub dry_run: bool,
    pub force_conflicts: bool,
    pub lock: LockOptions,
}

/// Objects of `old` that `new` no longer has, in `old`'s order.
pub fn dropped(old: &[ObjectRef], new: &[ObjectRef]) -> Vec<ObjectRef> {
    let keep: BTreeSet<&ObjectRef> = new.iter().collect();
    old.iter().filter(|r| !keep.contains(r)).cloned().collect()
}

pub async fn upgrade(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &UpgradeRequest,
    progress: Progress<'_>,
) -> Result<Release> {
    let lock = (!req.dry_run).then_some(&req.lock);
    locked(cluster, &req.namespace, &req.name, lock, |took| {
        upgrade_locked(cluster, driver, req, progress, took)
    })
    .await
}

async fn upgrade_locked(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &UpgradeRequest,
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
    let last = history.last().ok_or_else(not_found)?;
    if last.status == Status::Uninstalled {
        return Err(not_found().into());
    }
    // What is in the cluster now: the deployed revision, or the failed one after it.
    let current = history
        .iter()
        .rev()
        .find(|r| r.status == Status::Deployed)
        .unwrap_or(last);

    let rendered = render(
        &req.chart,
        &req.values,
        &req.name,
        &req.namespace,
        last.revision + 1,
        false,
    )?;
    let cluster = cluster.as_ref();
    ensure_namespace(cluster, &req.namespace, false, req.dry_run, progress).await?;
    let planned =
        deploy::plan(cluster, &rendered.output.objects, &req.name, &req.namespace).await?;
    deploy::check_ownership(cluster, &planned, &req.name, &req.namespace).await?;

    let resources: Vec<ObjectRef> = planned.iter().map(|p| p.reference.clone()).collect();
    let mut prune = Vec::new();
    for r in history
        .iter()
        .filter(|r| r.status == Status::Deployed || r.status == Status::Failed)
    {
        for d in dropped(&r.resources, &resources) {
            if !prune.contains(&d) {
                prune.push(d);
            }
        }
    }
    let rec = Release {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
        revision: last.revision + 1,
        status: Status::PendingUpgrade,
        chart: rendered.chart,
        values: to_json(&rendered.user),
        computed_values: to_json(&rendered.computed),
        manifest: crate::manifest::to_yaml_stream(&rendered.output.objects),
        resources,
        notes: rendered.output.notes,
        first_deployed: current.first_deployed.clone(),
        last_deployed: now(),
        deleted: None,
        description: "Upgrade in progress".into(),
    };
    if req.dry_run {
        let mut rec = rec;
        rec.description = "Dry run complete".into();
        return Ok(rec);
    }
    driver.put(&rec).await?;
    let apply = ApplyOptions {
        force_conflicts: req.force_conflicts,
        dry_run: false,
    };
    let rec = apply_revision(
        cluster,
        driver,
        rec,
        &planned,
        &apply,
        req.wait.then_some(req.timeout),
        progress,
    )
    .await?;
    // Supersede before pruning: if a delete fails, history still has one deployed revision.
    for old in &history {
        if matches!(old.status, Status::Deployed | Status::Failed) {
            let mut old = old.clone();
            let d = old.description.clone();
            old.transition(Status::Superseded, &d)?;
            driver.put(&old).await?;
        }
    }
    deploy::delete_all(cluster, &prune, progress)
        .await
        .map_err(|e| ReleaseError::Operation {
            name: rec.name.clone(),
            message: format!(
                "revision {} is deployed but pruning objects it dropped failed: {e}",
                rec.revision
            ),
        })?;
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: &str, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    #[test]
    fn dropped_keeps_old_order() {
        let old = [r("ConfigMap", "a"), r("Service", "b"), r("ConfigMap", "c")];
        let new = [r("ConfigMap", "a")];
        assert_eq!(
            dropped(&old, &new),
            [r("Service", "b"), r("ConfigMap", "c")]
        );
        assert!(dropped(&old, &old).is_empty());
    }
}
