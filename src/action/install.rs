//! `install`: namespace → lock → render → plan → record pending-install → apply (create-only,
//! which also checks ownership) → optional wait → record deployed. `--atomic` deletes what a
//! failed install created and its record.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::action::revision::{
    self, apply_and_wait, ensure_namespace, locked, render, to_json, ApplySettings,
};
use crate::chart::Chart;
use crate::kube::{Cluster, ObjectRef};
use crate::lifecycle::{Event, LifecycleRecord};
use crate::release::deploy;
use crate::release::{now, Driver, Release, ReleaseError, Status};
use crate::values::ValueOptions;
use crate::Result;

pub use crate::action::revision::Progress;

#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub name: String,
    /// Loaded by the caller (`action::chart_ref::load`), so any chart reference works.
    pub chart: Chart,
    pub values: ValueOptions,
    /// Resolved: `-n` or the context's namespace.
    pub namespace: String,
    pub create_namespace: bool,
    /// On failure, delete what this install created and its record; implies `wait`.
    pub atomic: bool,
    /// Adopt existing objects of another release or of nobody instead of refusing them.
    pub take_ownership: bool,
    /// `max_history` matters for a reinstall over a kept history.
    pub settings: ApplySettings,
}

/// `--generate-name`: `<chart>-<unix seconds>` (ten digits), as Helm names them, with the
/// chart name shortened so the whole stays within the 53 characters of a release name.
pub fn generate_name(chart: &str) -> String {
    let secs = jiff::Timestamp::now().as_second();
    let suffix = format!("-{secs}");
    let mut base: String = chart
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    base.truncate(53 - suffix.len());
    let base = base.trim_matches('-');
    let base = if base.is_empty() { "release" } else { base };
    format!("{base}{suffix}")
}

pub async fn install(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &InstallRequest,
    progress: Progress<'_>,
) -> Result<Release> {
    // First: the lock lives in the namespace.
    ensure_namespace(
        cluster.as_ref(),
        &req.namespace,
        req.create_namespace,
        req.settings.dry_run.any(),
        progress,
    )
    .await?;
    locked(
        cluster,
        driver,
        &req.namespace,
        &req.name,
        req.settings.lock(),
        |history| install_locked(cluster.as_ref(), driver, req, history, progress),
    )
    .await
}

/// The install proper, lock held (also `upgrade --install` of a release with no history).
pub(crate) async fn install_locked(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    req: &InstallRequest,
    history: Vec<Release>,
    progress: Progress<'_>,
) -> Result<Release> {
    if let Some(last) = history.last() {
        if last.status != Status::Uninstalled {
            return Err(ReleaseError::Exists {
                name: req.name.clone(),
                namespace: req.namespace.clone(),
                revision: last.revision,
                status: last.status,
            }
            .into());
        }
    }
    let revision = history.last().map_or(1, |r| r.revision + 1);
    let rendered = render(
        &req.chart,
        req.values.load()?,
        &req.name,
        &req.namespace,
        revision,
        true,
    )?;
    let planned =
        deploy::plan(cluster, &rendered.output.objects, &req.name, &req.namespace).await?;

    let time = now();
    let mut rec = Release {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
        revision,
        status: Status::PendingInstall,
        chart: rendered.chart,
        values: to_json(&rendered.user),
        computed_values: to_json(&rendered.computed),
        manifest: crate::manifest::to_yaml_stream(&rendered.output.objects),
        resources: planned.iter().map(|p| p.reference.clone()).collect(),
        notes: rendered.output.notes,
        first_deployed: time.clone(),
        last_deployed: time,
        deleted: None,
        description: "Install in progress".into(),
        hooks: rendered.hooks,
        lifecycle: LifecycleRecord {
            steps: rendered.steps,
            ..Default::default()
        },
    };
    let settle = req.settings.settle(req.take_ownership, false, req.atomic);
    if req.settings.dry_run.any() {
        revision::dry_run(cluster, &[], &planned, &mut rec, &settle, progress).await?;
        revision::dry_run_plans(
            cluster,
            &mut rec,
            &[Event::PreInstall, Event::PostInstall],
            &[],
        )
        .await?;
        return Ok(rec);
    }

    driver.put(&rec).await?;
    // Every object gets a create-only apply: one request creates it, and one that exists
    // is read once and refused unless it is ours (or --take-ownership).
    let guarded: BTreeSet<ObjectRef> = rec.resources.iter().cloned().collect();
    let phases = req
        .settings
        .phases(Event::PreInstall, Event::PostInstall, Vec::new());
    let applied = apply_and_wait(
        cluster, driver, &mut rec, &planned, &guarded, &settle, &phases, progress,
    )
    .await;
    let err = match applied.result {
        Ok(()) => {
            revision::deployed(driver, &mut rec, &history, "Install complete").await?;
            revision::prune_history(driver, &history, &rec, req.settings.max_history).await?;
            return Ok(rec);
        }
        Err(e) => e,
    };
    let refused = matches!(
        err,
        ReleaseError::Owned { .. } | ReleaseError::Unmanaged { .. }
    );
    if refused || req.atomic {
        // Leave nothing behind: the objects this install created (never ones it found),
        // then its record. A refusal is not a failed release, and --atomic undoes one.
        let undone = async {
            deploy::delete_all(cluster, &applied.created, progress).await?;
            driver
                .delete(&rec.namespace, &rec.name, rec.revision)
                .await?;
            Ok::<_, ReleaseError>(())
        }
        .await;
        return match undone {
            Ok(()) if refused => Err(err.into()),
            Ok(()) => Err(ReleaseError::Operation {
                name: rec.name.clone(),
                message: format!("install failed and was uninstalled (--atomic): {err}"),
            }
            .into()),
            Err(e2) => {
                let msg = format!("Install failed: {err}; removing what it created failed: {e2}");
                revision::failed(driver, &mut rec, &msg).await?;
                Err(ReleaseError::Operation {
                    name: rec.name.clone(),
                    message: msg,
                }
                .into())
            }
        };
    }
    revision::failed(driver, &mut rec, &format!("Install failed: {err}")).await?;
    Err(err.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid_release_names() {
        let n = generate_name("cassandra");
        let (base, digits) = n.rsplit_once('-').unwrap();
        assert_eq!(base, "cassandra");
        assert_eq!(digits.len(), 10);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        let long = generate_name(&"x_".repeat(40));
        assert!(long.len() <= 53, "{long}");
        assert!(!long.contains('_') && !long.contains("--"), "{long}");
        assert!(generate_name("--").starts_with("release-"));
    }
}
