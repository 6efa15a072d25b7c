//! Release commands: `install`, `upgrade`, `uninstall`, `list`, `history`, `status`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::action::{history, install, list, status, uninstall, upgrade};
use crate::cli::template::{parse_release_name, ValuesArgs};
use crate::kube::{Cluster, ConnectOptions, KubeCluster};
use crate::release::lock::LockOptions;
use crate::release::{Driver, MemoryDriver, Release, SecretsDriver};
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
    /// Where release records live: Secrets in the release namespace, or this process only
    #[arg(long, value_enum, env = "STACKPKG_STORAGE", default_value = "secrets")]
    pub storage: Storage,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Storage {
    #[default]
    Secrets,
    /// Records kept in memory and lost when the command ends (experiments, CI renders).
    Memory,
}

/// `300`, `90s`, `5m`, `1h`, `1m30s`, `500ms`: the grammar lifecycle.yaml uses too.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::lifecycle::duration::parse(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
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
    /// Skip hooks (lifecycle steps still run)
    #[arg(long)]
    pub no_hooks: bool,
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
    /// Skip hooks (lifecycle steps still run)
    #[arg(long)]
    pub no_hooks: bool,
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
    /// Skip hooks (lifecycle steps still run)
    #[arg(long)]
    pub no_hooks: bool,
    /// Time limit for each hook and each lifecycle step's waits (300, 90s, 5m, 1h)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the pre-/post-delete hooks and steps that would run; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// A lock left by a command that died expires this long after its last renewal
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg list -A -o json")]
pub struct ListArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Releases in every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Also releases uninstalled with --keep-history
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg history cass -n data")]
pub struct HistoryArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg status cass -n data --revision 2 -o json")]
pub struct StatusArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// A specific revision (default: the latest)
    #[arg(long)]
    pub revision: Option<u64>,
    /// `json` prints the whole record
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
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
        Storage::Memory => Box::new(MemoryDriver::new()),
    };
    Ok((cluster, driver))
}

pub(crate) fn progress(line: &str) {
    eprintln!("{line}");
}

fn summary(r: &Release) -> String {
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
            no_hooks: a.no_hooks,
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
            no_hooks: a.no_hooks,
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
            no_hooks: a.no_hooks,
            timeout: a.timeout,
            dry_run: a.dry_run,
        };
        let r = uninstall::uninstall(&cluster, driver.as_ref(), &req, &progress).await?;
        if a.dry_run {
            print!("{}", summary(&r));
            print_plans(&r);
        } else {
            println!("release \"{}\" uninstalled", r.name);
        }
        Ok(())
    })?
}

fn row(r: &Release) -> Vec<String> {
    vec![
        r.name.clone(),
        r.namespace.clone(),
        r.revision.to_string(),
        r.last_deployed.clone(),
        r.status.to_string(),
        format!("{}-{}", r.chart.name, r.chart.version),
        r.chart.app_version.clone().unwrap_or_default(),
    ]
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            out.push_str(c);
            if i + 1 < n {
                out.push_str(&" ".repeat(width[i] - c.chars().count() + 2));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

fn json_row(r: &Release) -> serde_json::Value {
    serde_json::json!({
        "name": r.name,
        "namespace": r.namespace,
        "revision": r.revision,
        "updated": r.last_deployed,
        "status": r.status,
        "chart": format!("{}-{}", r.chart.name, r.chart.version),
        "appVersion": r.chart.app_version,
        "description": r.description,
        "hooks": r.hooks.iter().map(|h| serde_json::json!({
            "name": h.name, "kind": h.kind, "events": h.events, "weight": h.weight,
            "lastRun": h.last_run,
        })).collect::<Vec<_>>(),
        "lifecycle": r.lifecycle.runs,
    })
}

/// `hook pre-install/migrate ok, step pre-delete/drain failed`: what ran for a revision.
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
        // One entry per step and event: failed wins over succeeded.
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

fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values serialise")
    );
}

pub fn list(a: ListArgs) -> Result<()> {
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let req = list::ListRequest {
            namespace: (!a.all_namespaces).then(|| cluster.namespace().to_string()),
            all: a.all,
        };
        let rels = list::list(driver.as_ref(), &req).await?;
        match a.output {
            Output::Json => print_json(&rels.iter().map(json_row).collect()),
            Output::Table => print!(
                "{}",
                table(
                    &[
                        "NAME",
                        "NAMESPACE",
                        "REVISION",
                        "UPDATED",
                        "STATUS",
                        "CHART",
                        "APP VERSION"
                    ],
                    &rels.iter().map(row).collect::<Vec<_>>()
                )
            ),
        }
        Ok(())
    })?
}

pub fn history(a: HistoryArgs) -> Result<()> {
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let h = history::history(driver.as_ref(), cluster.namespace(), &a.name).await?;
        match a.output {
            Output::Json => print_json(&h.iter().map(json_row).collect()),
            Output::Table => {
                let rows: Vec<Vec<String>> = h
                    .iter()
                    .map(|r| {
                        vec![
                            r.revision.to_string(),
                            r.last_deployed.clone(),
                            r.status.to_string(),
                            format!("{}-{}", r.chart.name, r.chart.version),
                            r.chart.app_version.clone().unwrap_or_default(),
                            outcomes(r),
                            r.description.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &[
                            "REVISION",
                            "UPDATED",
                            "STATUS",
                            "CHART",
                            "APP VERSION",
                            "HOOKS/STEPS",
                            "DESCRIPTION"
                        ],
                        &rows
                    )
                );
            }
        }
        Ok(())
    })?
}

pub fn status(a: StatusArgs) -> Result<()> {
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let r = status::status(driver.as_ref(), cluster.namespace(), &a.name, a.revision).await?;
        match a.output {
            Output::Json => print_json(&serde_json::to_value(&r).expect("records serialise")),
            Output::Table => print!("{}", summary(&r)),
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

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["long".into(), "x".into()],
                vec!["s".into(), "y".into()],
            ],
        );
        assert_eq!(t, "A     BB\nlong  x\ns     y\n");
    }
}
