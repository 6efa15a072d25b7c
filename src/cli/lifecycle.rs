//! `lifecycle plan|run` and `test`: a release's hooks and lifecycle steps by hand.

use std::time::Duration;

use crate::action::lifecycle as act;
use crate::cli::inspect::{print_data, DataOutput, Output};
use crate::cli::progress::View;
use crate::cli::release::{block_on, connect, parse_duration, KubeArgs};
use crate::cli::template::parse_release_name;
use crate::lifecycle::Event;
use crate::release::lock::LockOptions;
use crate::Result;

fn parse_event(s: &str) -> Result<Event, String> {
    Event::parse(s).ok_or_else(|| {
        format!(
            "unknown event {s:?} (known: {})",
            Event::ALL.map(|e| e.as_str()).join(", ")
        )
    })
}

#[derive(Debug, clap::Subcommand)]
pub enum LifecycleCommand {
    /// Print which hooks and steps would run, on which pods, in which order, with which commands
    #[command(after_help = "Examples:
  stackpkg lifecycle plan cass -n data
  stackpkg lifecycle plan cass -n data --event pre-delete -o json")]
    Plan(PlanArgs),
    /// Run one lifecycle step now (for example, drain a node before maintenance)
    #[command(
        after_help = "Example:\n  stackpkg lifecycle run cass drain --pod cass-cassandra-2 -n data"
    )]
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Only this event (pre-install … post-delete, pre-scale-down, rollout, test)
    #[arg(long, value_parser = parse_event)]
    pub event: Option<Event>,
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    /// Step name (as in lifecycle.yaml; `sub/step` for a subchart's)
    pub step: String,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Only this pod (one of the step's targets)
    #[arg(long)]
    pub pod: Option<String>,
    /// Time limit for waiting on replaced pods (300, 90s, 5m, 1h)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// A lock left by a command that died expires this long after its last renewal
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Print nothing on stderr but errors (no progress lines or live view)
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg test cass -n data --logs")]
pub struct TestArgs {
    /// Release name
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Print each test pod's log
    #[arg(long)]
    pub logs: bool,
    /// Time limit for each test (300, 90s, 5m, 1h)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// A lock left by a command that died expires this long after its last renewal
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Print nothing on stderr but errors (no progress lines or live view)
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(cmd: LifecycleCommand) -> Result<()> {
    match cmd {
        LifecycleCommand::Plan(a) => block_on(async {
            let (cluster, driver) = connect(&a.kube).await?;
            let plans = act::plan(
                cluster.as_ref(),
                driver.as_ref(),
                cluster.namespace(),
                &a.name,
                a.event,
            )
            .await?;
            match a.output {
                Output::Json => print_data(&plans, DataOutput::Json),
                Output::Yaml => print_data(&plans, DataOutput::Yaml),
                Output::Table if plans.is_empty() => {
                    println!("release {} has no hooks or lifecycle steps", a.name)
                }
                Output::Table => {
                    for p in &plans {
                        print!("{}", p.render());
                    }
                }
            }
            Ok(())
        })?,
        LifecycleCommand::Run(a) => block_on(async {
            let (cluster, driver) = connect(&a.kube).await?;
            let req = act::RunStepRequest {
                name: a.name.clone(),
                namespace: cluster.namespace().to_string(),
                step: a.step.clone(),
                pod: a.pod.clone(),
                timeout: a.timeout,
                lock: LockOptions::new(a.lock_timeout),
            };
            let view = View::new(a.quiet, false);
            let runs =
                act::run_step(&cluster, driver.as_ref(), &req, &|l: &str| view.line(l)).await?;
            drop(view);
            for r in &runs {
                println!("{} {}: {}", r.step, r.pod, r.status);
            }
            if runs.is_empty() {
                println!("step {}: no pods to run on", a.step);
            }
            Ok(())
        })?,
    }
}

pub fn test(a: TestArgs) -> Result<()> {
    block_on(async {
        let (cluster, driver) = connect(&a.kube).await?;
        let req = act::TestRequest {
            name: a.name.clone(),
            namespace: cluster.namespace().to_string(),
            timeout: a.timeout,
            logs: a.logs,
            lock: LockOptions::new(a.lock_timeout),
        };
        let view = View::new(a.quiet, false);
        let (results, err) =
            act::test(&cluster, driver.as_ref(), &req, &|l: &str| view.line(l)).await?;
        drop(view);
        println!("NAME: {}\nNAMESPACE: {}", a.name, req.namespace);
        if results.is_empty() {
            println!("TEST SUITE: None");
        }
        for r in &results {
            println!(
                "TEST SUITE:     {}/{}\nLast Started:   {}\nLast Completed: {}\nPhase:          {}",
                r.kind, r.name, r.started, r.finished, r.status
            );
            if !r.message.is_empty() {
                println!(
                    "Message:        {}",
                    r.message.replace('\n', "\n                ")
                );
            }
            if let Some(l) = &r.logs {
                println!("POD LOGS: {}\n{}", r.name, l.trim_end());
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })?
}
