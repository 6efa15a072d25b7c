//! Read-only release commands: `list`, `history`, `status`, `get`, `diff`.
//! Machine-readable output (`-o json|yaml`) is documented in docs/releases.md; its keys are
//! sorted and stable.

use std::io::{IsTerminal, Write};

use regex::Regex;
use serde::Serialize;
use serde_json::{json, Value};

use crate::action::diff::{self, DiffRequest, Target};
use crate::action::{get, history, list, status};
use crate::cli::release::{block_on, connect, outcomes, summary, KubeArgs};
use crate::cli::template::{parse_release_name, ValuesArgs};
use crate::release::{Release, Status, Summary};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DataOutput {
    Yaml,
    Json,
}

fn parse_status(s: &str) -> Result<Status, String> {
    Status::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown status {s:?} (one of: {})", all.join(", "))
    })
}

fn parse_regex(s: &str) -> Result<Regex, String> {
    Regex::new(s).map_err(|e| format!("invalid regular expression: {e}"))
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stackpkg list -A -o json
  stackpkg list --filter '^kafka' --status failed,pending-upgrade")]
pub struct ListArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Releases in every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Every status, including releases uninstalled with --keep-history
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only releases whose name matches this regular expression (unanchored)
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub filter: Option<Regex>,
    /// Only releases whose latest revision has this status; repeatable or comma-separated
    #[arg(long = "status", value_name = "STATUS", value_delimiter = ',', value_parser = parse_status)]
    pub statuses: Vec<Status>,
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg history cass -n data -o yaml")]
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
    /// `json` and `yaml` print the whole record
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

/// Options every `get` subcommand takes.
#[derive(Debug, clap::Args)]
pub struct GetCommon {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// A specific revision (default: the latest)
    #[arg(long)]
    pub revision: Option<u64>,
}

#[derive(Debug, clap::Subcommand)]
pub enum GetCommand {
    /// The values the user supplied (--all: the computed values the templates saw)
    #[command(after_help = "Example:\n  stackpkg get values cass -n data --all -o json")]
    Values {
        #[command(flatten)]
        common: GetCommon,
        /// The computed values: chart defaults coalesced with the user's
        #[arg(long)]
        all: bool,
        #[arg(short = 'o', long, value_enum, default_value = "yaml")]
        output: DataOutput,
    },
    /// The applied objects as a YAML stream
    #[command(after_help = "Example:\n  stackpkg get manifest cass -n data --revision 2")]
    Manifest {
        #[command(flatten)]
        common: GetCommon,
    },
    /// The rendered NOTES
    #[command(after_help = "Example:\n  stackpkg get notes cass -n data")]
    Notes {
        #[command(flatten)]
        common: GetCommon,
    },
    /// The record's hooks (nothing when it has none)
    #[command(after_help = "Example:\n  stackpkg get hooks cass -n data")]
    Hooks {
        #[command(flatten)]
        common: GetCommon,
        #[arg(short = 'o', long, value_enum, default_value = "yaml")]
        output: DataOutput,
    },
    /// Everything: summary, values, hooks, manifest, notes (-o: the whole record)
    #[command(after_help = "Example:\n  stackpkg get all cass -n data -o yaml")]
    All {
        #[command(flatten)]
        common: GetCommon,
        /// Print the computed values instead of the user-supplied ones
        #[arg(long)]
        all: bool,
        /// `json` and `yaml` print the whole record
        #[arg(short = 'o', long, value_enum)]
        output: Option<DataOutput>,
    },
}

/// Options of both `diff` subcommands.
#[derive(Debug, clap::Args)]
pub struct DiffCommon {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Print Secret data and stringData values (masked as `*** (sha256:…)` otherwise)
    #[arg(long)]
    pub show_secrets: bool,
    /// Exit 2 when there are changes (0 when none, 1 on errors)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Unchanged lines shown around each change
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub context: usize,
    /// Colour the diff: auto (on a terminal), always, never
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum DiffCommand {
    /// What `upgrade NAME CHART` with these values would change
    #[command(
        disable_version_flag = true,
        after_help = "Example:\n  stackpkg diff upgrade cass charts/cassandra -n data --set replicas=5"
    )]
    Upgrade {
        /// Release name
        #[arg(value_parser = parse_release_name)]
        name: String,
        /// Chart: a folder, a .tgz, REPO/CHART or an https URL
        chart: String,
        #[command(flatten)]
        source: super::repo::ChartSourceArgs,
        #[command(flatten)]
        values: ValuesArgs,
        #[command(flatten)]
        common: DiffCommon,
    },
    /// What rolling back to REVISION (default: the one before the current) would change
    #[command(after_help = "Example:\n  stackpkg diff rollback cass 2 -n data")]
    Rollback {
        /// Release name
        #[arg(value_parser = parse_release_name)]
        name: String,
        /// Revision to roll back to (default: the one before the current)
        revision: Option<u64>,
        #[command(flatten)]
        common: DiffCommon,
    },
}

fn list_row(s: &Summary) -> Vec<String> {
    vec![
        s.name.clone(),
        s.namespace.clone(),
        s.revision.to_string(),
        s.updated.clone(),
        s.status.to_string(),
        format!("{}-{}", s.chart.name, s.chart.version),
        s.chart.app_version.clone().unwrap_or_default(),
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

/// One row of `list`/`history -o json|yaml`: the documented, stable keys.
fn json_row(s: &Summary) -> Value {
    json!({
        "name": s.name,
        "namespace": s.namespace,
        "revision": s.revision,
        "updated": s.updated,
        "status": s.status,
        "chart": format!("{}-{}", s.chart.name, s.chart.version),
        "appVersion": s.chart.app_version,
        "description": s.description,
    })
}

/// `json_row` plus what hooks and lifecycle steps did in that revision.
fn history_row((s, r): (&Summary, &Release)) -> Value {
    let mut v = json_row(s);
    v["hooks"] = Value::Array(
        r.hooks
            .iter()
            .map(|h| {
                json!({
                    "name": h.name, "kind": h.kind, "events": h.events, "weight": h.weight,
                    "lastRun": h.last_run,
                })
            })
            .collect(),
    );
    v["lifecycle"] = json!(r.lifecycle.runs);
    v
}

pub(crate) fn print_data<T: Serialize>(v: &T, format: DataOutput) {
    match format {
        DataOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(v).expect("JSON values serialise")
        ),
        DataOutput::Yaml => print!(
            "{}",
            serde_yaml::to_string(v).expect("JSON values serialise as YAML")
        ),
    }
}

pub fn list(a: ListArgs) -> Result<()> {
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let req = list::ListRequest {
            namespace: (!a.all_namespaces).then(|| cluster.namespace().to_string()),
            filter: a.filter.clone(),
            statuses: a.statuses.clone(),
            all: a.all,
        };
        let rels = list::list(driver.as_ref(), &req).await?;
        let rows = || Value::Array(rels.iter().map(json_row).collect());
        match a.output {
            Output::Json => print_data(&rows(), DataOutput::Json),
            Output::Yaml => print_data(&rows(), DataOutput::Yaml),
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
                    &rels.iter().map(list_row).collect::<Vec<_>>()
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
        let sums: Vec<Summary> = h.iter().map(Summary::of).collect();
        let rows = || Value::Array(sums.iter().zip(&h).map(history_row).collect());
        match a.output {
            Output::Json => print_data(&rows(), DataOutput::Json),
            Output::Yaml => print_data(&rows(), DataOutput::Yaml),
            Output::Table => {
                let rows: Vec<Vec<String>> = sums
                    .iter()
                    .zip(&h)
                    .map(|(r, rec)| {
                        vec![
                            r.revision.to_string(),
                            r.updated.clone(),
                            r.status.to_string(),
                            format!("{}-{}", r.chart.name, r.chart.version),
                            r.chart.app_version.clone().unwrap_or_default(),
                            outcomes(rec),
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
            Output::Json => print_data(&r, DataOutput::Json),
            Output::Yaml => print_data(&r, DataOutput::Yaml),
            Output::Table => print!("{}", summary(&r)),
        }
        Ok(())
    })?
}

async fn fetch(c: &GetCommon) -> Result<Release> {
    let (cluster, driver) = connect(&c.kube).await?;
    get::get(driver.as_ref(), cluster.namespace(), &c.name, c.revision).await
}

fn print_text(s: &str) {
    if s.is_empty() {
        return;
    }
    print!("{s}");
    if !s.ends_with('\n') {
        println!();
    }
}

/// Hooks as text: a string as is, anything else as YAML.
fn hooks_text(h: &Value) -> String {
    match h {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other).expect("JSON values serialise as YAML"),
    }
}

pub fn get(cmd: GetCommand) -> Result<()> {
    block_on(async {
        match cmd {
            GetCommand::Values {
                common,
                all,
                output,
            } => {
                let r = fetch(&common).await?;
                print_data(get::values(&r, all), output);
            }
            GetCommand::Manifest { common } => print_text(&fetch(&common).await?.manifest),
            GetCommand::Notes { common } => {
                print_text(fetch(&common).await?.notes.as_deref().unwrap_or(""))
            }
            GetCommand::Hooks { common, output } => {
                if let Some(h) = get::hooks(&fetch(&common).await?) {
                    match output {
                        DataOutput::Yaml => print_text(&hooks_text(&h)),
                        DataOutput::Json => print_data(&h, DataOutput::Json),
                    }
                }
            }
            GetCommand::All {
                common,
                all,
                output,
            } => {
                let r = fetch(&common).await?;
                match output {
                    Some(f) => print_data(&r, f),
                    None => print!("{}", get_all_text(&r, all)),
                }
            }
        }
        Ok(())
    })?
}

fn get_all_text(r: &Release, all: bool) -> String {
    let mut s = summary(r);
    let yaml = |v: &Value| serde_yaml::to_string(v).expect("JSON values serialise as YAML");
    if all {
        s.push_str("\nCOMPUTED VALUES:\n");
    } else {
        s.push_str("\nUSER-SUPPLIED VALUES:\n");
    }
    s.push_str(&yaml(get::values(r, all)));
    if let Some(h) = get::hooks(r) {
        s.push_str("\nHOOKS:\n");
        s.push_str(&hooks_text(&h));
        if !s.ends_with('\n') {
            s.push('\n');
        }
    }
    s.push_str("\nMANIFEST:\n");
    s.push_str(&r.manifest);
    s
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Colours unified-diff lines by their first character.
fn colour_diff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let c = if line.starts_with("+++") || line.starts_with("---") {
            BOLD
        } else if line.starts_with('+') {
            GREEN
        } else if line.starts_with('-') {
            RED
        } else if line.starts_with("@@") {
            CYAN
        } else {
            ""
        };
        if c.is_empty() {
            out.push_str(line);
        } else {
            let body = line.strip_suffix('\n');
            out.push_str(c);
            out.push_str(body.unwrap_or(line));
            out.push_str(RESET);
            if body.is_some() {
                out.push('\n');
            }
        }
    }
    out
}

pub fn diff(cmd: DiffCommand) -> Result<()> {
    let (common, name, target) = match cmd {
        DiffCommand::Upgrade {
            name,
            chart,
            source,
            values,
            common,
        } => {
            // Resolved before the runtime starts: fetching a REPO/CHART runs its own client.
            let chart = crate::action::chart_ref::load(&chart, &source.options())?;
            let target = Target::Upgrade {
                chart: Box::new(chart),
                values: values.options(),
            };
            (common, name, target)
        }
        DiffCommand::Rollback {
            name,
            revision,
            common,
        } => (common, name, Target::Rollback { revision }),
    };
    let result = block_on(async {
        let (cluster, driver) = connect(&common.kube).await?;
        let req = DiffRequest {
            name,
            namespace: cluster.namespace().to_string(),
            target,
            show_secrets: common.show_secrets,
            context: common.context,
        };
        diff::diff(driver.as_ref(), &req).await
    })??;
    let colour = match common.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal(),
    };
    let mut out = String::new();
    for d in &result.objects {
        let header = format!("{} ({})\n", d.object, d.change.as_str());
        if colour {
            out.push_str(&format!("{BOLD}{}{RESET}\n", header.trim_end()));
            out.push_str(&colour_diff(&d.unified));
        } else {
            out.push_str(&header);
            out.push_str(&d.unified);
        }
        if !d.unified.ends_with('\n') {
            out.push('\n');
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::io("cannot write to standard output", e))?;
    if result.objects.is_empty() {
        eprintln!(
            "no changes between revision {} and {}",
            result.from_revision, result.to
        );
    } else if common.detailed_exitcode {
        // Documented contract: 2 means "there are changes" (as terraform plan and
        // helm-diff do); errors keep exit code 1.
        std::process::exit(2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn colours_only_change_lines() {
        let c = colour_diff("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z\n");
        assert!(c.contains(&format!("{RED}-x{RESET}\n")));
        assert!(c.contains(&format!("{GREEN}+y{RESET}\n")));
        assert!(c.ends_with(" z\n"));
    }

    #[test]
    fn bad_filter_and_status_are_usage_errors() {
        assert!(parse_regex("(")
            .unwrap_err()
            .contains("invalid regular expression"));
        let e = parse_status("done").unwrap_err();
        assert!(
            e.contains("unknown status \"done\"") && e.contains("pending-install"),
            "{e}"
        );
    }
}
