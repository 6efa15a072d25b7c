//! Release commands that change a release: `install`, `upgrade`, `rollback`, `uninstall`.
//! The read commands are in `inspect.rs` and share `KubeArgs`, `connect` and `summary` from here.

use std::ops::AsyncFnOnce;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::action::revision::{ApplySettings, DryRun, Progress, DEFAULT_MAX_HISTORY};
use crate::action::upgrade::ValuesMode;
use crate::action::{install, rollback, uninstall, upgrade};
use crate::cli::progress::View;
use crate::cli::template::{parse_release_name, ValuesArgs};
use crate::kube::{Cluster, ConnectOptions, KubeCluster};
use crate::release::lock::LockOptions;
use crate::release::{configmaps, Driver, MemoryDriver, Release, SecretsDriver};
use crate::{Error, Result};

/// How to reach the cluster; shared by every release command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KubeArgs {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: the current context)
    #[arg(long = "kube-context", value_name = "NAME")]
    pub kube_context: Option<String>,
    /// Namespace of the release (default: the context's namespace)
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Where release records live: Secrets or ConfigMaps in the release namespace, or this
    /// process only
    #[arg(long, value_enum, env = "STACKPKG_STORAGE", default_value = "secrets")]
    pub storage: Storage,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Storage {
    #[default]
    Secrets,
    /// The same layout in ConfigMaps (binaryData), for when Secrets are off limits.
    Configmaps,
    /// Records kept in memory and lost when the command ends (experiments, CI renders).
    Memory,
}

/// `300`, `90s`, `5m`, `1h`, `1m30s`, `500ms`: the grammar lifecycle.yaml uses too.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::lifecycle::duration::parse(s)
}

/// `--dry-run[=client|server]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRunArg {
    /// Render and check ownership against the cluster; send no writes
    Client,
    /// Also send each object as a server-side dry-run apply; nothing is stored
    Server,
}

/// What every command that applies a revision takes (install, upgrade, rollback).
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Wait until every object is ready (rollouts complete, Jobs done, PVCs bound)
    #[arg(long)]
    pub wait: bool,
    /// Time limit for --wait (300, 90s, 5m, 1h)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Change nothing; print the manifest. `client` (the default) checks against the
    /// cluster without writing, `server` also has the API server dry-run every object
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "client")]
    pub dry_run: Option<DryRunArg>,
    /// Take over fields that another field manager owns
    #[arg(long)]
    pub force_conflicts: bool,
    /// Skip hooks (lifecycle steps still run)
    #[arg(long)]
    pub no_hooks: bool,
    /// Release records kept; older ones are deleted (0 keeps all)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_HISTORY)]
    pub max_history: usize,
    /// A lock left by a command that died expires this long after its last renewal
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Print nothing on stderr but errors (no progress lines or live view)
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

impl ApplyArgs {
    fn settings(&self) -> ApplySettings {
        ApplySettings {
            wait: self.wait,
            timeout: self.timeout,
            dry_run: match self.dry_run {
                None => DryRun::None,
                Some(DryRunArg::Client) => DryRun::Client,
                Some(DryRunArg::Server) => DryRun::Server,
            },
            force_conflicts: self.force_conflicts,
            max_history: self.max_history,
            lock: LockOptions::new(self.lock_timeout),
            no_hooks: self.no_hooks,
        }
    }

    /// Connects, runs the applying action with the progress view, prints the revision.
    fn run(
        &self,
        action: impl AsyncFnOnce(&Arc<dyn Cluster>, &dyn Driver, Progress<'_>) -> Result<Release>,
    ) -> Result<()> {
        block_on(async {
            let (cluster, driver) = connect(&self.kube).await?;
            let view = View::new(self.quiet, self.wait);
            let r = action(&cluster, driver.as_ref(), &|l: &str| view.line(l)).await?;
            drop(view);
            print_applied(&r, self.dry_run.is_some());
            Ok(())
        })?
    }
}

/// What install and upgrade take besides `ApplyArgs`: the chart, values and ownership.
#[derive(Debug, clap::Args)]
pub struct ChartArgs {
    #[command(flatten)]
    pub source: super::repo::ChartSourceArgs,
    #[command(flatten)]
    pub values: ValuesArgs,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Create the release namespace if it does not exist
    #[arg(long)]
    pub create_namespace: bool,
    /// On failure, undo: a failed install is uninstalled, a failed upgrade rolled back
    /// to the last successful revision. Implies --wait
    #[arg(long)]
    pub atomic: bool,
    /// Adopt existing objects that belong to another release or to nobody
    #[arg(long)]
    pub take_ownership: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stackpkg install cass charts/cassandra -n data --create-namespace --wait
  stackpkg install demo ./mychart -f prod.yaml --set replicas=3 --dry-run
  stackpkg install --generate-name charts/redis --atomic --timeout 2m")]
pub struct InstallArgs {
    /// Release name (lowercase letters, digits and '-'); with --generate-name, the chart
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Chart: a folder, a .tgz, REPO/CHART or an https URL
    #[arg(value_name = "CHART")]
    pub chart: Option<String>,
    /// Name the release `<chart>-<unix time>` (give only CHART)
    #[arg(short = 'g', long)]
    pub generate_name: bool,
    #[command(flatten)]
    pub common: ChartArgs,
}

impl InstallArgs {
    /// (release name, chart reference)
    fn resolve(&self, chart_name: impl FnOnce(&str) -> Result<String>) -> Result<(String, String)> {
        match (&self.chart, self.generate_name) {
            (None, true) => Ok((
                install::generate_name(&chart_name(&self.name)?),
                self.name.clone(),
            )),
            (Some(_), true) => Err(Error::Usage(
                "--generate-name takes only CHART, not NAME CHART".into(),
            )),
            (None, false) => Err(Error::Usage(
                "missing CHART: give NAME CHART, or --generate-name CHART".into(),
            )),
            (Some(chart), false) => {
                let name = parse_release_name(&self.name).map_err(|e| {
                    Error::Usage(format!("invalid release name {:?}: {e}", self.name))
                })?;
                Ok((name, chart.clone()))
            }
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stackpkg upgrade cass charts/cassandra -n data --set replicas=5 --wait
  stackpkg upgrade cass charts/cassandra -n data --reuse-values --set image.tag=5.0.2 --atomic
  stackpkg upgrade --install web ./web -n apps --create-namespace")]
pub struct UpgradeArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    /// Chart: a folder, a .tgz, REPO/CHART or an https URL
    pub chart: String,
    #[command(flatten)]
    pub common: ChartArgs,
    /// Install the release if it does not exist
    #[arg(short = 'i', long)]
    pub install: bool,
    /// Merge the given values over the previous revision's, on the previous computed
    /// values (the new chart's defaults are not used)
    #[arg(long)]
    pub reuse_values: bool,
    /// Only the given values over the new chart's defaults (wins over the other two)
    #[arg(long)]
    pub reset_values: bool,
    /// Merge the given values over the previous revision's, on the new chart's defaults
    #[arg(long)]
    pub reset_then_reuse_values: bool,
    /// Delete and recreate objects whose immutable fields changed
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples (the first returns to the previous revision):
  stackpkg rollback cass -n data
  stackpkg rollback cass 3 -n data --wait")]
pub struct RollbackArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    /// Revision to return to (default: the one before the latest)
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub revision: Option<u64>,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Delete and recreate objects whose immutable fields differ
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stackpkg uninstall cass -n data --keep-history
  stackpkg uninstall cass -n data --wait --delete-volumes")]
pub struct UninstallArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Keep the release records, marked uninstalled
    #[arg(long)]
    pub keep_history: bool,
    /// Wait until every deleted object is gone
    #[arg(long)]
    pub wait: bool,
    /// Time limit for --wait (300, 90s, 5m, 1h)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Also delete the PersistentVolumeClaims the release's StatefulSets made from
    /// volumeClaimTemplates (kept by default: they hold the data)
    #[arg(long)]
    pub delete_volumes: bool,
    /// Skip hooks (lifecycle steps still run)
    #[arg(long)]
    pub no_hooks: bool,
    /// Print the pre-/post-delete hooks and steps that would run; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// A lock left by a command that died expires this long after its last renewal
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Print nothing on stderr but errors (no progress lines or live view)
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub(crate) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the async runtime", e))?;
    Ok(rt.block_on(f))
}

pub(crate) async fn connect(k: &KubeArgs) -> Result<(Arc<dyn Cluster>, Box<dyn Driver>)> {
    let cluster: Arc<dyn Cluster> = Arc::new(
        KubeCluster::connect(&ConnectOptions {
            kubeconfig: k.kubeconfig.clone(),
            context: k.kube_context.clone(),
            namespace: k.namespace.clone(),
        })
        .await?,
    );
    let driver: Box<dyn Driver> = match k.storage {
        Storage::Secrets => Box::new(SecretsDriver::new(cluster.clone())),
        Storage::Configmaps => Box::new(configmaps::driver(cluster.clone())),
        Storage::Memory => Box::new(MemoryDriver::new()),
    };
    Ok((cluster, driver))
}

pub(crate) fn summary(r: &Release) -> String {
    let mut s = format!(
        "NAME: {}\nNAMESPACE: {}\nSTATUS: {}\nREVISION: {}\nLAST DEPLOYED: {}\nCHART: {}-{}\nDESCRIPTION: {}\n",
        r.name, r.namespace, r.status, r.revision, r.last_deployed, r.chart.name, r.chart.version, r.description
    );
    if let Some(n) = r.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        s.push_str("\nNOTES:\n");
        s.push_str(n.trim_end());
        s.push('\n');
    }
    s
}

fn print_applied(r: &Release, dry_run: bool) {
    print!("{}", summary(r));
    if dry_run {
        print_plans(r);
        print!("\nMANIFEST:\n{}", r.manifest);
    }
}

/// A dry run's hooks and lifecycle steps, event by event.
fn print_plans(r: &Release) {
    if r.lifecycle.plans.iter().all(|p| p.is_empty()) {
        return;
    }
    println!("\nLIFECYCLE PLAN:");
    for p in &r.lifecycle.plans {
        print!("{}", p.render());
    }
}

/// `hook pre-install/migrate succeeded, step pre-delete/drain failed`: what ran for a
/// revision.
pub(crate) fn outcomes(r: &Release) -> String {
    let mut parts: Vec<String> = r
        .hooks
        .iter()
        .filter_map(|h| {
            let run = h.last_run.as_ref()?;
            Some(format!("hook {}/{} {}", run.event, h.name, run.status))
        })
        .collect();
    let mut seen = std::collections::BTreeMap::new();
    for run in &r.lifecycle.runs {
        // One entry per step and event: a failure wins over successes.
        let e = seen
            .entry((run.event, run.step.clone()))
            .or_insert(run.status);
        if run.status != crate::lifecycle::RunStatus::Succeeded {
            *e = run.status;
        }
    }
    for ((event, step), status) in seen {
        parts.push(format!("step {event}/{step} {status}"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

pub fn install(a: InstallArgs) -> Result<()> {
    let c = &a.common;
    // Resolved before the runtime starts: fetching a REPO/CHART runs its own HTTP client.
    let mut loaded = None;
    let (name, chart_ref) = a.resolve(|chart_ref| {
        let chart = crate::action::chart_ref::load(chart_ref, &c.source.options())?;
        let name = chart.metadata.name.clone();
        loaded = Some(chart);
        Ok(name)
    })?;
    let chart = match loaded {
        Some(chart) => chart,
        None => crate::action::chart_ref::load(&chart_ref, &c.source.options())?,
    };
    c.apply.run(async |cluster, driver, progress| {
        let req = install::InstallRequest {
            name,
            chart,
            values: c.values.options(),
            namespace: cluster.namespace().to_string(),
            create_namespace: c.create_namespace,
            atomic: c.atomic,
            take_ownership: c.take_ownership,
            settings: c.apply.settings(),
        };
        install::install(cluster, driver, &req, progress).await
    })
}

pub fn upgrade(a: UpgradeArgs) -> Result<()> {
    let c = &a.common;
    let chart = crate::action::chart_ref::load(&a.chart, &c.source.options())?;
    // Helm's precedence when several are given.
    let values_mode = if a.reset_values {
        ValuesMode::Reset
    } else if a.reuse_values {
        ValuesMode::Reuse
    } else if a.reset_then_reuse_values {
        ValuesMode::ResetThenReuse
    } else {
        ValuesMode::Default
    };
    c.apply.run(async |cluster, driver, progress| {
        let req = upgrade::UpgradeRequest {
            name: a.name.clone(),
            chart,
            values: c.values.options(),
            values_mode,
            namespace: cluster.namespace().to_string(),
            install: a.install,
            create_namespace: c.create_namespace,
            force: a.force,
            atomic: c.atomic,
            take_ownership: c.take_ownership,
            settings: c.apply.settings(),
        };
        upgrade::upgrade(cluster, driver, &req, progress).await
    })
}

pub fn rollback(a: RollbackArgs) -> Result<()> {
    a.apply.run(async |cluster, driver, progress| {
        let req = rollback::RollbackRequest {
            name: a.name.clone(),
            namespace: cluster.namespace().to_string(),
            revision: a.revision,
            force: a.force,
            settings: a.apply.settings(),
        };
        rollback::rollback(cluster, driver, &req, progress).await
    })
}

pub fn uninstall(a: UninstallArgs) -> Result<()> {
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let req = uninstall::UninstallRequest {
            name: a.name.clone(),
            namespace: cluster.namespace().to_string(),
            keep_history: a.keep_history,
            wait: a.wait,
            timeout: a.timeout,
            delete_volumes: a.delete_volumes,
            lock: LockOptions::new(a.lock_timeout),
            no_hooks: a.no_hooks,
            dry_run: a.dry_run,
        };
        // Deletions are counted, not waited for: nothing to name as slowest.
        let view = View::new(a.quiet, false);
        let r =
            uninstall::uninstall(&cluster, driver.as_ref(), &req, &|l: &str| view.line(l)).await?;
        drop(view);
        if a.dry_run {
            print!("{}", summary(&r));
            print_plans(&r);
        } else {
            println!("release \"{}\" uninstalled", r.name);
        }
        Ok(())
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        for bad in ["", "5x", "m", "5m3", "-1", "1.5m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
