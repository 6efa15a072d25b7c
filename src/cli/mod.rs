//! Command-line interface: argument structs and output formatting only.
//! Each command lives in its own file and calls one action.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod chart_cmds;
mod create;
mod dep;
mod inspect;
mod lifecycle;
mod lint;
mod progress;
mod release;
mod repo;
mod template;

#[derive(Debug, Parser)]
#[command(
    name = "stackpkg",
    version,
    about = "A package manager for Kubernetes made for data stacks",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a chart's manifests locally, without a cluster
    #[command(disable_version_flag = true)]
    Template(template::Args),
    /// Check a chart for problems
    Lint(lint::Args),
    /// Show a chart's information
    #[command(subcommand)]
    Show(chart_cmds::ShowCommand),
    /// Create a new chart with a working scaffold
    Create(create::Args),
    /// Package a chart folder into a versioned, reproducible .tgz
    Package(chart_cmds::PackageArgs),
    /// Add, list, remove, update, index and serve chart repositories
    #[command(subcommand)]
    Repo(repo::RepoCommand),
    /// Search the configured repositories
    #[command(subcommand)]
    Search(repo::SearchCommand),
    /// Download a chart from a repository
    #[command(disable_version_flag = true)]
    Pull(repo::PullArgs),
    /// Upload a packaged chart to a stackpkg or ChartMuseum-compatible repository
    Push(repo::PushArgs),
    /// Verify a packaged chart's signature
    Verify(repo::VerifyArgs),
    /// Create an ed25519 key pair for signing packages
    Keygen(repo::KeygenArgs),
    /// Sign a packaged chart (writes CHART.tgz.minisig)
    Sign(repo::SignArgs),
    /// Manage a chart's dependencies
    #[command(subcommand)]
    Dep(dep::DepCommand),
    /// Install a chart as a new release on the cluster
    #[command(disable_version_flag = true)]
    Install(release::InstallArgs),
    /// Upgrade a release to a new chart version or new values
    #[command(disable_version_flag = true)]
    Upgrade(release::UpgradeArgs),
    /// Return a release to an earlier revision (as a new revision)
    Rollback(release::RollbackArgs),
    /// Delete a release's objects and records
    Uninstall(release::UninstallArgs),
    /// List releases
    List(inspect::ListArgs),
    /// Show a release's revisions
    History(inspect::HistoryArgs),
    /// Show a release's status and notes
    Status(inspect::StatusArgs),
    /// Print a revision's values, manifest, notes or hooks
    #[command(subcommand)]
    Get(inspect::GetCommand),
    /// Show what an upgrade or a rollback would change, object by object
    #[command(subcommand)]
    Diff(inspect::DiffCommand),
    /// Run a release's test hooks and report each
    Test(lifecycle::TestArgs),
    /// Plan or run a release's lifecycle steps by hand
    #[command(subcommand)]
    Lifecycle(lifecycle::LifecycleCommand),
    /// Print the version
    #[command(after_help = "Example:\n  stackpkg version")]
    Version,
    /// Generate a shell completion script
    #[command(
        after_help = "Example:\n  stackpkg completion bash > /etc/bash_completion.d/stackpkg"
    )]
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Entry point used by `main.rs`: parse, dispatch, print the error on failure.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

pub fn run(cli: Cli) -> crate::Result<()> {
    match cli.command {
        Command::Template(args) => template::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Show(cmd) => chart_cmds::show(cmd),
        Command::Create(args) => create::run(args),
        Command::Package(args) => chart_cmds::package(args),
        Command::Repo(cmd) => repo::run_repo(cmd),
        Command::Search(cmd) => repo::run_search(cmd),
        Command::Pull(args) => repo::pull(args),
        Command::Push(args) => repo::push(args),
        Command::Verify(args) => repo::verify(args),
        Command::Keygen(args) => repo::keygen(args),
        Command::Sign(args) => repo::sign(args),
        Command::Dep(cmd) => dep::run(cmd),
        Command::Install(args) => release::install(args),
        Command::Upgrade(args) => release::upgrade(args),
        Command::Rollback(args) => release::rollback(args),
        Command::Uninstall(args) => release::uninstall(args),
        Command::List(args) => inspect::list(args),
        Command::History(args) => inspect::history(args),
        Command::Status(args) => inspect::status(args),
        Command::Get(cmd) => inspect::get(cmd),
        Command::Diff(cmd) => inspect::diff(cmd),
        Command::Test(args) => lifecycle::test(args),
        Command::Lifecycle(cmd) => lifecycle::run(cmd),
        Command::Version => {
            println!("stackpkg {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "stackpkg",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}
