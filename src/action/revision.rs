//! The steps `install`, `upgrade`, `rollback` and `uninstall` share: the release lock with
//! recovery of interrupted revisions, rendering, applying a revision and settling its
//! record, superseding older revisions and `--max-history` pruning.
//!
//! Each mutating action is the same sequence of phases:
//! render → lock (+ recover) → plan/ownership → record pending → apply → wait → record
//! final → supersede/prune. The functions below are those phases.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::action::template::{render_chart_with_values, TemplateOutput, TemplateRequest};
use crate::chart::Chart;
use crate::engine::ReleaseInfo;
use crate::kube::{ApplyOptions, Cluster, KubeError, ObjectRef};
use crate::lifecycle::{run, Event, ScaleDown};
use crate::release::deploy::{self, Applied, ApplyPolicy, Planned};
use crate::release::lock::{self, LockOptions};
use crate::release::{now, ChartInfo, Driver, Release, ReleaseError, Status};
use crate::values::Values;
use crate::Result;

/// Progress lines for the CLI (stderr); actions never print.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// `--dry-run[=client|server]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DryRun {
    #[default]
    None,
    /// Render, resolve kinds and check ownership; send no writes.
    Client,
    /// Also send every object as a server-side dry-run apply (validated and defaulted by
    /// the API server, stored nowhere). No lock, no record.
    Server,
}

impl DryRun {
    pub fn any(self) -> bool {
        self != DryRun::None
    }
}

/// Records kept by default (`--max-history`); 0 keeps all.
pub const DEFAULT_MAX_HISTORY: usize = 10;

/// How a revision is applied: the settings install, upgrade and rollback all take (the
/// CLI's `ApplyArgs`). What only some of them take (`--force`, `--atomic`,
/// `--take-ownership`) stays in their own requests.
#[derive(Debug, Clone)]
pub struct ApplySettings {
    /// Wait until every object is ready.
    pub wait: bool,
    /// Time limit of the wait, of hooks and of rollout replacements.
    pub timeout: Duration,
    pub dry_run: DryRun,
    /// Take over fields another field manager owns.
    pub force_conflicts: bool,
    /// Records kept (0 = all).
    pub max_history: usize,
    pub lock: LockOptions,
    /// Skip hooks (lifecycle steps still run).
    pub no_hooks: bool,
}

impl ApplySettings {
    /// Defaults of the CLI: no wait, a 5-minute timeout, no dry run.
    pub fn new(lock: LockOptions) -> ApplySettings {
        ApplySettings {
            wait: false,
            timeout: Duration::from_secs(300),
            dry_run: DryRun::None,
            force_conflicts: false,
            max_history: DEFAULT_MAX_HISTORY,
            lock,
            no_hooks: false,
        }
    }

    /// The lock to hold: none for a dry run, which writes nothing.
    pub(crate) fn lock(&self) -> Option<&LockOptions> {
        (!self.dry_run.any()).then_some(&self.lock)
    }

    /// `take_ownership` and `recreate` (`--force`) as the command allows them; `atomic`
    /// implies waiting.
    pub(crate) fn settle(&self, take_ownership: bool, recreate: bool, atomic: bool) -> Settle {
        Settle {
            policy: ApplyPolicy {
                apply: ApplyOptions {
                    force_conflicts: self.force_conflicts,
                    dry_run: self.dry_run == DryRun::Server,
                },
                take_ownership,
                recreate,
                timeout: self.timeout,
            },
            wait: (self.wait || atomic).then_some(self.timeout),
        }
    }

    pub(crate) fn phases(&self, pre: Event, post: Event, scale: Vec<ScaleDown>) -> Phases {
        Phases {
            pre,
            post,
            no_hooks: self.no_hooks,
            timeout: self.timeout,
            scale,
        }
    }
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

/// The same render path as `template`; the coalesced values come from the same pass.
pub(crate) fn render(
    chart: &Chart,
    user: Values,
    name: &str,
    namespace: &str,
    revision: u64,
    is_install: bool,
) -> Result<Rendered> {
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
    let (mut output, computed) = render_chart_with_values(chart, &user, &req, release)?;
    let (objects, hooks) =
        crate::lifecycle::hooks::split(std::mem::take(&mut output.objects), namespace)?;
    output.objects = objects;
    let steps =
        crate::lifecycle::spec::from_rendered(&output.lifecycle, &chart.metadata.name)?.steps;
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

/// Runs `op` holding the release lock (none for dry runs, which write nothing), with the
/// release's history. A pending revision found with the lock held belongs to a command
/// that died; it is marked failed first.
pub(crate) async fn locked<T, F, Fut>(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    namespace: &str,
    name: &str,
    opts: Option<&LockOptions>,
    op: F,
) -> Result<T>
where
    F: FnOnce(Vec<Release>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let Some(opts) = opts else {
        let history = driver.history(namespace, name).await?;
        return op(history).await;
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
    let out = async {
        let mut history = driver.history(namespace, name).await?;
        recover_interrupted(driver, &mut history, lock.took_over.as_deref()).await?;
        op(history).await
    }
    .await;
    let released = lock.release().await;
    let value = out?;
    released?;
    Ok(value)
}

async fn recover_interrupted(
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
    let r = ObjectRef::of(&ns).expect("complete object");
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

/// Revisions whose objects may be in the cluster: what an upgrade or rollback may prune
/// and what it already owns.
pub(crate) fn live(history: &[Release]) -> impl Iterator<Item = &Release> {
    history
        .iter()
        .filter(|r| matches!(r.status, Status::Deployed | Status::Failed))
}

/// Objects of the live revisions that `resources` no longer has, in their order, except
/// those marked `resource-policy: keep` (see `without_kept`).
pub(crate) fn to_prune(
    history: &[Release],
    resources: &[ObjectRef],
    progress: Progress<'_>,
) -> Vec<ObjectRef> {
    let keep: BTreeSet<&ObjectRef> = resources.iter().collect();
    let mut prune = Vec::new();
    for r in live(history) {
        for d in r.resources.iter().filter(|o| !keep.contains(o)) {
            if !prune.contains(d) {
                prune.push(d.clone());
            }
        }
    }
    without_kept(history, prune, progress)
}

/// Every revision's stored objects, in `history`'s order; a manifest that does not parse
/// counts as empty.
pub(crate) fn stored_objects(history: &[Release]) -> Vec<Vec<crate::manifest::Object>> {
    history
        .iter()
        .map(|rec| crate::manifest::parse_file(&rec.name, &rec.manifest).unwrap_or_default())
        .collect()
}

/// Drops from `refs` the objects any revision marked `resource-policy: keep`
/// (`stackpkg.io/` or `helm.sh/` spelling): like Helm, neither pruning nor uninstall
/// deletes them; they stay in the cluster, unmanaged, and each is reported.
pub(crate) fn without_kept(
    history: &[Release],
    refs: Vec<ObjectRef>,
    progress: Progress<'_>,
) -> Vec<ObjectRef> {
    // Most upgrades prune nothing: don't parse every stored manifest for them.
    if refs.is_empty() {
        return refs;
    }
    drop_kept(&stored_objects(history), refs, progress)
}

/// `without_kept` over manifests already parsed (`stored_objects`).
pub(crate) fn drop_kept(
    stored: &[Vec<crate::manifest::Object>],
    refs: Vec<ObjectRef>,
    progress: Progress<'_>,
) -> Vec<ObjectRef> {
    let kept: Vec<&crate::manifest::Object> = stored
        .iter()
        .flatten()
        .filter(|o| {
            let policy = ["stackpkg.io/resource-policy", "helm.sh/resource-policy"]
                .iter()
                .find_map(|k| o.value["metadata"]["annotations"][k].as_str());
            policy == Some("keep")
        })
        .collect();
    if kept.is_empty() {
        return refs;
    }
    refs.into_iter()
        .filter(|r| {
            let keep = kept.iter().any(|o| {
                o.api_version == r.api_version
                    && o.kind == r.kind
                    && o.name == r.name
                    && (o.namespace.is_none() || o.namespace == r.namespace)
            });
            if keep {
                progress(&format!("kept {r} (resource-policy: keep)"));
            }
            !keep
        })
        .collect()
}

/// The objects of `planned` no live revision has: the ones whose ownership is unknown.
pub(crate) fn new_objects<'a>(history: &[Release], planned: &'a [Planned]) -> Vec<&'a Planned> {
    let known: BTreeSet<&ObjectRef> = live(history).flat_map(|r| &r.resources).collect();
    planned
        .iter()
        .filter(|p| !known.contains(&p.reference))
        .collect()
}

/// The options every applying command shares.
#[derive(Clone, Debug)]
pub(crate) struct Settle {
    pub policy: ApplyPolicy,
    /// `--wait` (or `--atomic`) with its timeout.
    pub wait: Option<Duration>,
}

/// Which lifecycle events surround an apply (docs/lifecycle.md), and how to run them.
pub(crate) struct Phases {
    pub pre: Event,
    pub post: Event,
    pub no_hooks: bool,
    /// Hooks' and rollout replacements' time limit (`--timeout`).
    pub timeout: Duration,
    /// StatefulSets this revision shrinks: their `pre-scale-down` steps run after the pre
    /// event, before anything is applied.
    pub scale: Vec<ScaleDown>,
}

/// The pre event's hooks and steps, pre-scale-down steps, apply (`guarded` objects get a
/// create-only apply: install), rollouts, the wait, the post event's hooks and steps.
/// Hook and step outcomes land in `rec` (stored by the caller; rollouts store progress).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_and_wait(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    rec: &mut Release,
    planned: &[Planned],
    guarded: &BTreeSet<ObjectRef>,
    settle: &Settle,
    phases: &Phases,
    progress: Progress<'_>,
) -> Applied {
    let (namespace, name) = (rec.namespace.clone(), rec.name.clone());
    let ctx = run::Ctx {
        cluster,
        namespace: &namespace,
        release: &name,
        timeout: phases.timeout,
        progress,
    };
    let mut before = run::release_event(&ctx, rec, phases.pre, &[], phases.no_hooks)
        .await
        .map_err(ReleaseError::from);
    if before.is_ok() && !phases.scale.is_empty() {
        before = run::release_event(
            &ctx,
            rec,
            Event::PreScaleDown,
            &phases.scale,
            phases.no_hooks,
        )
        .await
        .map_err(ReleaseError::from);
    }
    if let Err(e) = before {
        return Applied {
            created: Vec::new(),
            result: Err(e),
        };
    }
    let mut applied = deploy::apply_all(
        cluster,
        planned,
        guarded,
        &settle.policy,
        &rec.name,
        &rec.namespace,
        progress,
    )
    .await;
    // A first install has nothing to roll out: its pods start on the new revision.
    if applied.result.is_ok() && phases.pre != Event::PreInstall {
        applied.result = run::release_rollouts(&ctx, rec, driver).await;
    }
    if applied.result.is_ok() {
        if let Some(t) = settle.wait {
            applied.result = deploy::wait_all(cluster, &rec.resources, t, progress).await;
        }
    }
    if applied.result.is_ok() {
        applied.result = run::release_event(&ctx, rec, phases.post, &[], phases.no_hooks)
            .await
            .map_err(ReleaseError::from);
    }
    applied
}

/// The plans a dry run shows: these events for the record's hooks and steps.
pub(crate) async fn dry_run_plans(
    cluster: &dyn Cluster,
    rec: &mut Release,
    events: &[Event],
    scale: &[ScaleDown],
) -> Result<()> {
    rec.lifecycle.plans = run::release_plans(cluster, rec, events, scale).await?;
    Ok(())
}

/// StatefulSets `planned` shrinks; only charts with `pre-scale-down` steps pay the reads.
pub(crate) async fn scale_downs(
    cluster: &dyn Cluster,
    rec: &Release,
    planned: &[Planned],
) -> Result<Vec<ScaleDown>> {
    if !rec
        .lifecycle
        .steps
        .iter()
        .any(|s| s.on.contains(&Event::PreScaleDown))
    {
        return Ok(Vec::new());
    }
    let objects: Vec<serde_json::Value> = planned.iter().map(|p| p.value.clone()).collect();
    Ok(run::scale_downs(cluster, &objects, &rec.namespace).await?)
}

/// Marks `rec` deployed and stores it; every other revision that was deployed, failed or
/// uninstalled becomes superseded.
pub(crate) async fn deployed(
    driver: &dyn Driver,
    rec: &mut Release,
    history: &[Release],
    description: &str,
) -> Result<()> {
    rec.transition(Status::Deployed, description)?;
    rec.last_deployed = now();
    driver.put(rec).await?;
    for old in history.iter().filter(|r| r.revision != rec.revision) {
        if matches!(
            old.status,
            Status::Deployed | Status::Failed | Status::Uninstalled
        ) {
            let mut old = old.clone();
            let d = old.description.clone();
            old.transition(Status::Superseded, &d)?;
            driver.put(&old).await?;
        }
    }
    Ok(())
}

/// What follows a successful upgrade or rollback: `rec` deployed (see `deployed`), then
/// `prune` deleted (`pruned` names them in the error), then `--max-history`. Superseding
/// comes first: if a delete fails, history still has one deployed revision.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn deployed_then_prune(
    cluster: &dyn Cluster,
    driver: &dyn Driver,
    rec: &mut Release,
    history: &[Release],
    description: &str,
    prune: &[ObjectRef],
    pruned: &str,
    max_history: usize,
    progress: Progress<'_>,
) -> Result<()> {
    deployed(driver, rec, history, description).await?;
    deploy::delete_all(cluster, prune, progress)
        .await
        .map_err(|e| ReleaseError::Operation {
            name: rec.name.clone(),
            message: format!(
                "revision {} is deployed but pruning {pruned} failed: {e}",
                rec.revision
            ),
        })?;
    prune_history(driver, history, rec, max_history).await
}

/// `--max-history`: deletes the oldest records until at most `max` remain, never the
/// revision just made (`keep`). 0 keeps everything.
pub(crate) async fn prune_history(
    driver: &dyn Driver,
    history: &[Release],
    keep: &Release,
    max: usize,
) -> Result<()> {
    if max == 0 {
        return Ok(());
    }
    let mut revisions: Vec<u64> = history
        .iter()
        .map(|r| r.revision)
        .filter(|r| *r != keep.revision)
        .collect();
    revisions.sort_unstable();
    let total = revisions.len() + 1;
    for rev in revisions.into_iter().take(total.saturating_sub(max)) {
        driver.delete(&keep.namespace, &keep.name, rev).await?;
    }
    Ok(())
}

/// Marks `rec` failed with `description` and stores it.
pub(crate) async fn failed(
    driver: &dyn Driver,
    rec: &mut Release,
    description: &str,
) -> Result<()> {
    rec.transition(Status::Failed, description)?;
    driver.put(rec).await?;
    Ok(())
}

/// A dry run: ownership of the objects no live revision has, then (server) every object
/// as a dry-run apply. Writes nothing.
pub(crate) async fn dry_run(
    cluster: &dyn Cluster,
    history: &[Release],
    planned: &[Planned],
    rec: &mut Release,
    settle: &Settle,
    progress: Progress<'_>,
) -> Result<()> {
    deploy::check_ownership(
        cluster,
        &new_objects(history, planned),
        &rec.name,
        &rec.namespace,
        settle.policy.take_ownership,
    )
    .await?;
    if settle.policy.apply.dry_run {
        deploy::apply_all(
            cluster,
            planned,
            &BTreeSet::new(),
            &settle.policy,
            &rec.name,
            &rec.namespace,
            progress,
        )
        .await
        .result?;
        rec.description = "Dry run complete (server)".into();
    } else {
        rec.description = "Dry run complete".into();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn at(revision: u64, manifest: &str) -> Release {
        let mut r = crate::release::codec::tests::sample();
        r.revision = revision;
        r.manifest = manifest.into();
        r
    }

    fn obj(kind: &str, ns: &str, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some(ns.into()),
            name: name.into(),
        }
    }

    #[test]
    fn objects_any_revision_keeps_are_left_out_and_reported() {
        let history = [
            at(
                1,
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    stackpkg.io/resource-policy: keep\n",
            ),
            at(2, "not: [valid"),
            at(
                3,
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: other\n  annotations:\n    helm.sh/resource-policy: keep\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
            ),
        ];
        let refs = vec![
            obj("ConfigMap", "apps", "a"),
            obj("ConfigMap", "apps", "b"),
            // Kept in namespace `other` only.
            obj("Secret", "apps", "s"),
            obj("Secret", "other", "s"),
        ];
        let lines = Mutex::new(Vec::<String>::new());
        let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
        let left = without_kept(&history, refs.clone(), &progress);
        assert_eq!(left, [refs[1].clone(), refs[2].clone()]);
        assert_eq!(
            *lines.lock().unwrap(),
            [
                "kept ConfigMap apps/a (resource-policy: keep)",
                "kept Secret other/s (resource-policy: keep)"
            ]
        );

        let stored = stored_objects(&history);
        assert_eq!(stored.iter().map(Vec::len).collect::<Vec<_>>(), [1, 0, 2]);
        assert_eq!(drop_kept(&stored, refs, &|_: &str| {}), left);
    }
}
