//! `upgrade`: render the new revision (values per `--reuse-values` and friends), apply it,
//! prune what the previous revisions had and this one dropped, supersede them. `--atomic`
//! rolls a failed upgrade back to the last successful revision; `--install` installs a
//! release that does not exist.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::action::install::{install_locked, InstallRequest};
use crate::action::revision::{
    self, apply_and_wait, ensure_namespace, locked, render, to_json, ApplySettings, DryRun,
    Progress,
};
use crate::action::rollback::{rollback_locked, RollbackRequest};
use crate::kube::{Cluster, ObjectRef};
use crate::lifecycle::{Event, LifecycleRecord};
use crate::release::{deploy, now, Driver, Release, ReleaseError, Status};
use crate::values::{merge_maps, ValueOptions, Values};
use crate::Result;

/// Where an upgrade's values come from (Helm's rules).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValuesMode {
    /// The new -f/--set values over the new chart's defaults; with none given, the
    /// previous revision's user values are kept.
    #[default]
    Default,
    /// `--reuse-values`: the new values merged over the previous revision's user values,
    /// over the previous revision's computed values (the new chart's defaults are ignored).
    Reuse,
    /// `--reset-values`: only the new values over the new chart's defaults.
    Reset,
    /// `--reset-then-reuse-values`: the new values merged over the previous user values,
    /// over the new chart's defaults.
    ResetThenReuse,
}

#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    pub name: String,
    pub chart: crate::chart::Chart,
    pub values: ValueOptions,
    pub values_mode: ValuesMode,
    pub namespace: String,
    /// `--install`: install when the release does not exist.
    pub install: bool,
    /// With `install`: create the namespace.
    pub create_namespace: bool,
    /// Delete and recreate objects whose immutable fields changed.
    pub force: bool,
    /// On failure, roll back to the last successful revision; implies `wait`.
    pub atomic: bool,
    pub take_ownership: bool,
    pub settings: ApplySettings,
}

/// Objects of `old` that `new` no longer has, in `old`'s order.
pub fn dropped(old: &[ObjectRef], new: &[ObjectRef]) -> Vec<ObjectRef> {
    let keep: BTreeSet<&ObjectRef> = new.iter().collect();
    old.iter().filter(|r| !keep.contains(r)).cloned().collect()
}

/// The user values to render with, per `mode`, and the chart defaults to use instead of
/// the chart's own (`--reuse-values` only).
pub fn upgrade_values(
    mode: ValuesMode,
    new: Values,
    previous: &Release,
) -> (Values, Option<Values>) {
    let over_previous = |new: Values| {
        let mut base = previous.values.as_object().cloned().unwrap_or_default();
        merge_maps(&mut base, new.as_object().cloned().unwrap_or_default());
        Values::Object(base)
    };
    let empty = new.as_object().is_none_or(|m| m.is_empty());
    match mode {
        ValuesMode::Reset => (new, None),
        ValuesMode::Reuse => {
            let defaults = previous
                .computed_values
                .is_object()
                .then(|| previous.computed_values.clone());
            (over_previous(new), defaults)
        }
        ValuesMode::ResetThenReuse => (over_previous(new), None),
        ValuesMode::Default if empty && previous.values.is_object() => {
            (previous.values.clone(), None)
        }
        ValuesMode::Default => (new, None),
    }
}

pub async fn upgrade(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &UpgradeRequest,
    progress: Progress<'_>,
) -> Result<Release> {
    if req.install {
        // The lock lives in the namespace; an install may have to create it.
        ensure_namespace(
            cluster.as_ref(),
            &req.namespace,
            req.create_namespace,
            req.settings.dry_run.any(),
            progress,
        )
        .await?;
    }
    locked(
        cluster,
        driver,
        &req.namespace,
        &req.name,
        req.settings.lock(),
        |history| upgrade_locked(cluster.as_ref(), driver, req, history, progress),
    )
    .await
}

async fn upgrade_locked(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    req: &UpgradeRequest,
    history: Vec<Release>,
    progress: Progress<'_>,
) -> Result<Release> {
    let absent = history
        .last()
        .is_none_or(|l| l.status == Status::Uninstalled);
    if absent && req.install {
        let ireq = InstallRequest {
            name: req.name.clone(),
            chart: req.chart.clone(),
            values: req.values.clone(),
            namespace: req.namespace.clone(),
            create_namespace: req.create_namespace,
            atomic: req.atomic,
            take_ownership: req.take_ownership,
            settings: req.settings.clone(),
        };
        return install_locked(cluster, driver, &ireq, history, progress).await;
    }
    let Some(last) = history.last().filter(|_| !absent) else {
        return Err(ReleaseError::NotFound {
            name: req.name.clone(),
            namespace: req.namespace.clone(),
        }
        .into());
    };
    // What is in the cluster now: the deployed revision, or the failed one after it.
    let current = history
        .iter()
        .rev()
        .find(|r| r.status == Status::Deployed)
        .unwrap_or(last);

    let (user, defaults) = upgrade_values(req.values_mode, req.values.load()?, current);
    let mut chart = req.chart.clone();
    if let Some(d) = defaults {
        chart.values = d;
    }
    let revision = last.revision + 1;
    let rendered = render(&chart, user, &req.name, &req.namespace, revision, false)?;
    let planned =
        deploy::plan(cluster, &rendered.output.objects, &req.name, &req.namespace).await?;
    let mut rec = Release {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
        revision,
        status: Status::PendingUpgrade,
        chart: rendered.chart,
        values: to_json(&rendered.user),
        computed_values: to_json(&rendered.computed),
        manifest: crate::manifest::to_yaml_stream(&rendered.output.objects),
        resources: planned.iter().map(|p| p.reference.clone()).collect(),
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
    let scale = revision::scale_downs(cluster, &rec, &planned).await?;
    let settle = req
        .settings
        .settle(req.take_ownership, req.force, req.atomic);
    if req.settings.dry_run.any() {
        revision::dry_run(cluster, &history, &planned, &mut rec, &settle, progress).await?;
        let events = [
            Event::PreUpgrade,
            Event::PreScaleDown,
            Event::Rollout,
            Event::PostUpgrade,
        ];
        revision::dry_run_plans(cluster, &mut rec, &events, &scale).await?;
        return Ok(rec);
    }
    // Objects this revision adds: refuse ones of others before writing anything.
    deploy::check_ownership(
        cluster,
        &revision::new_objects(&history, &planned),
        &req.name,
        &req.namespace,
        req.take_ownership,
    )
    .await?;
    let prune = revision::to_prune(&history, &rec.resources, progress);

    driver.put(&rec).await?;
    let phases = req
        .settings
        .phases(Event::PreUpgrade, Event::PostUpgrade, scale);
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
        revision::failed(driver, &mut rec, &format!("Upgrade failed: {e}")).await?;
        if req.atomic {
            return Err(roll_back_failed(cluster, driver, req, history, rec, e, progress).await);
        }
        return Err(e.into());
    }
    revision::deployed_then_prune(
        cluster,
        driver,
        &mut rec,
        &history,
        "Upgrade complete",
        &prune,
        "objects it dropped",
        req.settings.max_history,
        progress,
    )
    .await?;
    Ok(rec)
}

/// `--atomic`: back to the newest revision that succeeded (deployed or superseded), as
/// Helm does; the error always carries the upgrade's own failure.
async fn roll_back_failed(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    req: &UpgradeRequest,
    mut history: Vec<Release>,
    failed: Release,
    err: ReleaseError,
    progress: Progress<'_>,
) -> crate::Error {
    let good = history
        .iter()
        .rev()
        .find(|r| matches!(r.status, Status::Deployed | Status::Superseded))
        .map(|r| r.revision);
    let name = req.name.clone();
    let Some(good) = good else {
        return ReleaseError::Operation {
            name,
            message: format!(
                "upgrade failed and no earlier revision succeeded to roll back to (--atomic): {err}"
            ),
        }
        .into();
    };
    progress(&format!(
        "upgrade failed; rolling back to revision {good} (--atomic)"
    ));
    history.push(failed);
    let rreq = RollbackRequest {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
        revision: Some(good),
        force: req.force,
        // --atomic implies --wait; a dry run never fails this far.
        settings: ApplySettings {
            wait: true,
            dry_run: DryRun::None,
            ..req.settings.clone()
        },
    };
    let message = match rollback_locked(cluster, driver, &rreq, history, progress).await {
        Ok(r) => format!(
            "upgrade failed and was rolled back to revision {good} as revision {} (--atomic): {err}",
            r.revision
        ),
        Err(e2) => format!(
            "upgrade failed: {err}; rolling back to revision {good} (--atomic) failed too: {e2}"
        ),
    };
    ReleaseError::Operation { name, message }.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn values_modes_follow_helm() {
        let mut prev = crate::release::codec::tests::sample();
        prev.values = json!({"a": "user-old", "n": {"y": 2}});
        prev.computed_values = json!({"a": "user-old", "b": "chart-old", "n": {"x": 0, "y": 2}});
        let new = json!({"n": {"z": 3}});
        let run = |m| upgrade_values(m, new.clone(), &prev);
        let merged = json!({"a": "user-old", "n": {"y": 2, "z": 3}});

        assert_eq!(run(ValuesMode::Reset), (new.clone(), None));
        assert_eq!(
            run(ValuesMode::Reuse),
            (merged.clone(), Some(prev.computed_values.clone())),
            "old computed values replace the chart's defaults"
        );
        assert_eq!(run(ValuesMode::ResetThenReuse), (merged, None));
        assert_eq!(run(ValuesMode::Default), (new, None), "given values win");
        assert_eq!(
            upgrade_values(ValuesMode::Default, json!({}), &prev),
            (prev.values.clone(), None),
            "no values given: the previous ones"
        );
    }
}
