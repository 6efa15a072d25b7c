//! Release commands that change a release: `install`, `upgrade`, `uninstall`. The read
//! commands are in `inspect.rs` and share `KubeArgs`, `connect` and `summary` from here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::action::{install, uninstall, upgrade};
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

/// `300`, `90s`, `5m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (examples: 300, 90s, 5m, 1h, 1m30s)");
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stackpkg install cass charts/cassandra -n data --create-namespace --wait
  stackpkg install demo ./mychart -f prod.yaml --set replicas=3 --dry-run")]
pub struct InstallArgs {
    /// Release name (lowercase letters, digits and '-')
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    /// Chart: a folder, a .tgz, REPO/CHART or an https URL
    pub chart: String,
    #[command(flatten)]
    pub source: super::repo::ChartSourceArgs,
    #[command(flatten)]
    pub values: ValuesArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Create the release namespace if it does not exist
    #[arg(long)]
    pub create_namespace: bool,
    /// Wait until every object is ready (rollouts complete, Jobs done, PVCs bound)
    #[arg(long)]
    pub wait: bool,
    /// Time limit for --wait (300, 90s, 5m, 1h)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Render and check against the cluster; change nothing, print the manifest
    #[arg(long)]
    pub dry_run: bool,
    /// Take over fields that another field manager owns
    #[arg(long)]
    pub force_conflicts: bool,
    /// A lock left by a command that died expires this long after its last renewal
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  stackpkg upgrade cass charts/cassandra -n data --set replicas=5 --wait")]
pub struct UpgradeArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    /// Chart: a folder, a .tgz, REPO/CHART or an https URL
    pub chart: String,
    #[command(flatten)]
    pub source: super::repo::ChartSourceArgs,
    #[command(flatten)]
    pub values: ValuesArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Wait until every object is ready
    #[arg(long)]
    pub wait: bool,
    /// Time limit for --wait (300, 90s, 5m, 1h)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Render and check against the cluster; change nothing, print the manifest
    #[arg(long)]
    pub dry_run: bool,
    /// Take over fields that another field manager owns
    #[arg(long)]
    pub force_conflicts: bool,
    /// A lock left by a command that died expires this long after its last renewal
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg uninstall cass -n data --keep-history")]
pub struct UninstallArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Keep the release records, marked uninstalled
    #[arg(long)]
    pub keep_history: bool,
    /// A lock left by a command that died expires this long after its last renewal
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

pub(super) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the async runtime", e))?;
    Ok(rt.block_on(f))
}

pub(super) async fn connect(k: &KubeArgs) -> Result<(Arc<dyn Cluster>, Box<dyn Driver>)> {
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

fn progress(line: &str) {
    eprintln!("{line}");
}

pub(super) fn summary(r: &Release) -> String {
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
        print!("\nMANIFEST:\n{}", r.manifest);
    }
}

pub fn install(a: InstallArgs) -> Result<()> {
    // Resolved before the runtime starts: fetching a REPO/CHART runs its own HTTP client.
    let chart = crate::action::chart_ref::load(&a.chart, &a.source.options())?;
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let req = install::InstallRequest {
            name: a.name.clone(),
            chart,
            values: a.values.options(),
            namespace: cluster.namespace().to_string(),
            create_namespace: a.create_namespace,
            wait: a.wait,
            timeout: a.timeout,
            dry_run: a.dry_run,
            force_conflicts: a.force_conflicts,
            lock: LockOptions::new(a.lock_timeout),
        };
        let r = install::install(&cluster, driver.as_ref(), &req, &progress).await?;
        print_applied(&r, a.dry_run);
        Ok(())
    })?
}

pub fn upgrade(a: UpgradeArgs) -> Result<()> {
    let chart = crate::action::chart_ref::load(&a.chart, &a.source.options())?;
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let req = upgrade::UpgradeRequest {
            name: a.name.clone(),
            chart,
            values: a.values.options(),
            namespace: cluster.namespace().to_string(),
            wait: a.wait,
            timeout: a.timeout,
            dry_run: a.dry_run,
            force_conflicts: a.force_conflicts,
            lock: LockOptions::new(a.lock_timeout),
        };
        let r = upgrade::upgrade(&cluster, driver.as_ref(), &req, &progress).await?;
        print_applied(&r, a.dry_run);
        Ok(())
    })?
}

pub fn uninstall(a: UninstallArgs) -> Result<()> {
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let req = uninstall::UninstallRequest {
            name: a.name.clone(),
            namespace: cluster.namespace().to_string(),
            keep_history: a.keep_history,
            lock: LockOptions::new(a.lock_timeout),
        };
        let r = uninstall::uninstall(&cluster, driver.as_ref(), &req, &progress).await?;
        println!("release \"{}\" uninstalled", r.name);
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
