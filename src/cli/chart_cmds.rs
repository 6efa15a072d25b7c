//! `stackpkg show`, `package`

use std::path::PathBuf;

use crate::action::show::ShowKind;

#[derive(Debug, clap::Args)]
pub struct ChartArg {
    /// A chart folder or a packaged .tgz
    pub chart: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
#[command(
    after_help = "Examples:\n  stackpkg show values charts/kafka > my-values.yaml\n  stackpkg show all cassandra-1.0.0.tgz"
)]
pub enum ShowCommand {
    /// Print Chart.yaml
    #[command(after_help = "Example:\n  stackpkg show chart charts/cassandra")]
    Chart(ChartArg),
    /// Print the default values (values.yaml)
    #[command(after_help = "Example:\n  stackpkg show values charts/kafka > my-values.yaml")]
    Values(ChartArg),
    /// Print the chart's README
    #[command(after_help = "Example:\n  stackpkg show readme cassandra-1.0.0.tgz")]
    Readme(ChartArg),
    /// Print values.schema.json
    #[command(after_help = "Example:\n  stackpkg show schema charts/spark")]
    Schema(ChartArg),
    /// Print the CRDs under crds/
    #[command(after_help = "Example:\n  stackpkg show crds charts/kafka")]
    Crds(ChartArg),
    /// Print Chart.yaml, values, README and CRDs, separated by ---
    #[command(after_help = "Example:\n  stackpkg show all charts/zookeeper")]
    All(ChartArg),
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  stackpkg package charts/cassandra -d dist/\n\n\
Entries are sorted, with fixed owners, modes and times: packaging the same files\n\
twice gives byte-identical archives (same sha256)."
)]
pub struct PackageArgs {
    /// The chart folder to package
    pub chart: PathBuf,
    /// Folder to write NAME-VERSION.tgz into (created if missing)
    #[arg(short = 'd', long = "destination", default_value = ".")]
    pub destination: PathBuf,
}

pub fn show(cmd: ShowCommand) -> crate::Result<()> {
    let (kind, arg) = match cmd {
        ShowCommand::Chart(a) => (ShowKind::Chart, a),
        ShowCommand::Values(a) => (ShowKind::Values, a),
        ShowCommand::Readme(a) => (ShowKind::Readme, a),
        ShowCommand::Schema(a) => (ShowKind::Schema, a),
        ShowCommand::Crds(a) => (ShowKind::Crds, a),
        ShowCommand::All(a) => (ShowKind::All, a),
    };
    let text = crate::action::show::show(kind, &arg.chart)?;
    print!("{text}");
    Ok(())
}

pub fn package(args: PackageArgs) -> crate::Result<()> {
    let (path, digest) = crate::action::package::package(&args.chart, &args.destination)?;
    println!("{}", path.display());
    eprintln!("sha256:{digest}");
    Ok(())
}
