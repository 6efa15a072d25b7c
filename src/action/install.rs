//! `install`: render → plan (namespaces, ownership marks) → check ownership → record
//! pending-install → apply in install order → optional wait → record deployed.

use std::sync::Arc;
use std::time::Duration;

use crate::action::template::{render_chart_as, TemplateOutput, TemplateRequest};
use crate::chart::Chart;
use crate::engine::ReleaseInfo;
use crate::kube::{ApplyOptions, Cluster, KubeError};
use crate::lifecycle::{run, Event, LifecycleRecord, ScaleDown};
use crate::release::deploy::{self, Planned};
use crate::release::lock::{self, LockOptions};
use crate::release::{now, ChartInfo, Driver, Release, ReleaseError, Status};
use crate::values::{ValueOptions, Values};
use crate::Result;

/// Progress lines for the CLI (stderr); actions never print.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub name: String,
    /// Loaded by the caller (`action::chart_ref::load`), so any chart reference works.
    pub chart: Chart,
    pub values: ValueOptions,
    /// Resolved: `-n` or the context's namespace.
    pub namespace: String,
    pub create_namespace: bool,
    pub wait: bool,
    pub timeout: Duration,
    /// Render and check against the cluster, change nothing.
    pub dry_run: bool,
    pub force_conflicts: bool,
    pub lock: LockOptions,
    /// Skip hooks (lifecycle steps still run).
    pub no_hooks: bool,
}

/// A rendered chart ready to apply.
pub(crate) struct Rendered {
    pub chart: ChartInfo,
    pub user: Values,
    pub computed: Values,
    /// Release objects only: hooks are split out.
    pub output: TemplateOutput,
    pub hooks: Vec<crate::lifecycle::Hook>,
    pub steps: Vec<crate::lifecycle::Step>,
}

/// The same render path as `template`, plus the computed values for the record.
pub(crate) fn render(
    chart: &Chart,
    values: &ValueOptions,
    name: &str,
    namespace: &str,
    revision: u64,
    is_install: bool,
) -> Result<Rendered> {
    let user = values.load()?;
    let req = TemplateRequest {
        release_name: name.to_string(),
        namespace: namespace.to_string(),
        include_crds: true,
        ..Default::default()
    };
    let mut release = ReleaseInfo::install(name, namespace);
    release.revision = revision;
    // A reinstall after `uninstall --keep-history` is an install with a later revision.
    release.is_install = is_install;
    release.is_upgrade = !is_install;
    let mut output = render_chart_as(chart, &user, &req, release)?;
    let (objects, hooks) =
        crate::lifecycle::hooks::split(std::mem::take(&mut output.objects), namespace)?;
    output.objects = objects;
    let steps = crate::lifecycle::spec::from_rendered(&output.lifecycle, &chart.metadata.name)?
        .steps;
    let (_, computed) = crate::values::prepare(chart, &user)?;
    Ok(Rendered {
        chart: ChartInfo {
            name: chart.metadata.name.clone(),
            version: chart.metadata.version.to_string(),
            app_version: chart.metadata.app_version.clone(),
        },
        user,
        computed,
        output,
        hooks,
        steps,
    })
}

pub(crate) fn to_json(v: &Values) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Runs `op` holding the release lock (none for dry runs, which write nothing). `op` gets
/// the holder whose expired lock was taken over, if any.
pub(crate) async fn locked<T, F, Fut>(
    cluster: &Arc<dyn Cluster>,
    namespace: &str,
    name: &str,
    opts: Option<&LockOptions>,
    op: F,
) -> Result<T>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let Some(opts) = opts else {
        return op(None).await;
    };
    let lock = match lock::acquire(cluster.clone(), namespace, name, opts).await {
        Ok(l) => l,
        // No namespace, so no release in it.
        Err(ReleaseError::Kube(KubeError::Api { code: 404, .. })) => {
            return Err(ReleaseError::NotFound {
                name: name.to_string(),
                namespace: namespace.to_string(),
            }
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let out = op(lock.took_over.clone()).await;
    let released = lock.release().await;
    let value = out?;
    released?;
    Ok(value)
}

/// With the lock held, a pending revision belongs to a command that died: mark it failed.
pub(crate) async fn recover_interrupted(
    driver: &dyn Driver,
    history: &mut [Release],
    took_over: Option<&str>,
) -> Result<()> {
    if let Some(last) = history.last_mut().filter(|r| r.status.is_pending()) {
        let who = took_over.unwrap_or("an earlier command");
        let desc = format!(
            "Interrupted: {who} stopped while the revision was {} and its lock expired",
            last.status
        );
        last.transition(Status::Failed, &desc)?;
        driver.put(last).await?;
    }
    Ok(())
}

pub(crate) async fn ensure_namespace(
    cluster: &dyn Cluster,
    namespace: &str,
    create: bool,
    dry_run: bool,
    progress: Progress<'_>,
) -> Result<()> {
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    if create && !dry_run {
        // Apply is idempotent: no need to look first.
        cluster.apply(&ns, &ApplyOptions::default()).await?;
        progress(&format!("namespace {namespace} ready"));
        return Ok(());
    }
    let r = crate::kube::ObjectRef::of(&ns).expect("complete object");
    if cluster.get(&r).await?.is_some() {
        return Ok(());
    }
    if !create {
        return Err(crate::Error::Other(format!(
            "namespace {namespace} does not exist (add --create-namespace to create it)"
        )));
    }
    Ok(())
}

/// Which lifecycle events surround an apply, and how to run them.
pub(crate) struct Phases {
    pub pre: Event,
    pub post: Event,
    pub no_hooks: bool,
    /// Hooks' and rollout replacements' time limit (`--timeout`).
    pub timeout: Duration,
    /// StatefulSets this revision shrinks (upgrades): their `pre-scale-down` steps run
    /// after the pre event, before anything is applied.
    pub scale: Vec<ScaleDown>,
}

/// Pre event, pre-scale-down steps, apply, rollouts, optional wait, post event; then the
/// record moves to deployed, or to failed with the first error. Returns the final record.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_revision(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    mut rec: Release,
    planned: &[Planned],
    apply: &ApplyOptions,
    wait: Option<Duration>,
    phases: &Phases,
    progress: Progress<'_>,
) -> Result<Release> {
    let verb = if rec.status == Status::PendingInstall {
        "Install"
    } else {
        "Upgrade"
    };
    let timeout = wait.unwrap_or(Duration::from_secs(300));
    let (namespace, name) = (rec.namespace.clone(), rec.name.clone());
    let ctx = run::Ctx {
        cluster,
        namespace: &namespace,
        release: &name,
        timeout: phases.timeout,
        progress,
    };
    let mut outcome: Result<()> =
        run::release_event(&ctx, &mut rec, phases.pre, &[], phases.no_hooks)
            .await
            .map_err(Into::into);
    if outcome.is_ok() && !phases.scale.is_empty() {
        outcome = run::release_event(
            &ctx,
            &mut rec,
            Event::PreScaleDown,
            &phases.scale,
            phases.no_hooks,
        )
        .await
        .map_err(Into::into);
    }
    if outcome.is_ok() {
        outcome = deploy::apply_all(cluster, planned, apply, timeout, progress)
            .await
            .map_err(Into::into);
    }
    if outcome.is_ok() {
        outcome = run::release_rollouts(&ctx, &mut rec, driver).await;
    }
    if outcome.is_ok() {
        if let Some(t) = wait {
            outcome = deploy::wait_all(cluster, &rec.resources, t, progress)
                .await
                .map_err(Into::into);
        }
    }
    if outcome.is_ok() {
        outcome = run::release_event(&ctx, &mut rec, phases.post, &[], phases.no_hooks)
            .await
            .map_err(Into::into);
    }
    match outcome {
        Ok(()) => {
            rec.transition(Status::Deployed, &format!("{verb} complete"))?;
            rec.last_deployed = now();
            driver.put(&rec).await?;
            Ok(rec)
        }
        Err(e) => {
            rec.transition(Status::Failed, &format!("{verb} failed: {e}"))?;
            driver.put(&rec).await?;
            Err(e)
        }
    }
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
        req.dry_run,
        progress,
    )
    .await?;
    let lock = (!req.dry_run).then_some(&req.lock);
    locked(cluster, &req.namespace, &req.name, lock, |took| {
        install_locked(cluster, driver, req, progress, took)
    })
    .await
}

async fn install_locked(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &InstallRequest,
    progress: Progress<'_>,
    took_over: Option<String>,
) -> Result<Release> {
    let mut history = driver.history(&req.namespace, &req.name).await?;
    if !req.dry_run {
        recover_interrupted(driver, &mut history, took_over.as_deref()).await?;
    }
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
        &req.values,
        &req.name,
        &req.namespace,
        revision,
        true,
    )?;
    let cluster = cluster.as_ref();
    let planned =
        deploy::plan(cluster, &rendered.output.objects, &req.name, &req.namespace).await?;
    deploy::check_ownership(cluster, &planned, &req.name, &req.namespace).await?;

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
    if req.dry_run {
        rec.description = "Dry run complete".into();
        rec.lifecycle.plans = run::release_plans(
            cluster,
            &rec,
            &[Event::PreInstall, Event::PostInstall],
            &[],
        )
        .await?;
        return Ok(rec);
    }
    driver.put(&rec).await?;
    // A previous, uninstalled incarnation kept with --keep-history is now history.
    if let Some(mut last) = history.last().cloned() {
        last.transition(Status::Superseded, &last.description.clone())?;
        driver.put(&last).await?;
    }
    let apply = ApplyOptions {
        force_conflicts: req.force_conflicts,
        dry_run: false,
    };
    let phases = Phases {
        pre: Event::PreInstall,
        post: Event::PostInstall,
        no_hooks: req.no_hooks,
        timeout: req.timeout,
        scale: Vec::new(),
    };
    apply_revision(
        cluster,
        driver,
        rec,
        &planned,
        &apply,
        req.wait.then_some(req.timeout),
        &phases,
        progress,
    )
    .await
}
