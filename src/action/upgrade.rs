//! `upgrade`: render the new revision, apply it, prune what the previous revision had and
//! this one dropped, supersede the previous record.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::action::install::{
    apply_revision, ensure_namespace, locked, recover_interrupted, render, to_json, Phases,
    Progress,
};
use crate::lifecycle::{run, Event, LifecycleRecord};
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
    /// Skip hooks (lifecycle steps still run).
    pub no_hooks: bool,
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
    let mut rec = Release {
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
        hooks: rendered.hooks,
        lifecycle: LifecycleRecord {
            steps: rendered.steps,
            ..Default::default()
        },
    };
    // Only charts with pre-scale-down steps pay for looking at the live StatefulSets.
    let scale = if rec
        .lifecycle
        .steps
        .iter()
        .any(|s| s.on.contains(&Event::PreScaleDown))
    {
        let objects: Vec<serde_json::Value> = planned.iter().map(|p| p.value.clone()).collect();
        run::scale_downs(cluster, &objects, &req.namespace).await?
    } else {
        Vec::new()
    };
    if req.dry_run {
        rec.description = "Dry run complete".into();
        rec.lifecycle.plans = run::release_plans(
            cluster,
            &rec,
            &[
                Event::PreUpgrade,
                Event::PreScaleDown,
                Event::Rollout,
                Event::PostUpgrade,
            ],
            &scale,
        )
        .await?;
        return Ok(rec);
    }
    driver.put(&rec).await?;
    let apply = ApplyOptions {
        force_conflicts: req.force_conflicts,
        dry_run: false,
    };
    let phases = Phases {
        pre: Event::PreUpgrade,
        post: Event::PostUpgrade,
        no_hooks: req.no_hooks,
        timeout: req.timeout,
        scale,
    };
    let rec = apply_revision(
        cluster,
        driver,
        rec,
        &planned,
        &apply,
        req.wait.then_some(req.timeout),
        &phases,
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
