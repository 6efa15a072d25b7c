//! `stackpkg dep update|build|list`

use std::path::PathBuf;

use super::repo::{table, Output};
use crate::action::dep as act;

#[derive(Debug, clap::Subcommand)]
pub enum DepCommand {
    /// Resolve the newest matching versions into Chart.lock and vendor them into charts/
    #[command(alias = "up")]
    #[command(after_help = "Example:\n  stackpkg dep update charts/streaming-analytics")]
    Update {
        #[arg(default_value = ".")]
        chart: PathBuf,
    },
    /// Vendor exactly the versions in Chart.lock (digests checked)
    #[command(after_help = "Example:\n  stackpkg dep build charts/streaming-analytics")]
    Build {
        #[arg(default_value = ".")]
        chart: PathBuf,
    },
    /// Show each dependency's status: ok, missing, wrong version, lock out of date
    #[command(alias = "ls")]
    #[command(after_help = "Example:\n  stackpkg dep list charts/streaming-analytics -o json")]
    List {
        #[arg(default_value = ".")]
        chart: PathBuf,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
}

fn print_lock(lock: &crate::repo::deps::ChartLock) {
    for d in &lock.dependencies {
        println!("{} {} from {}", d.name, d.version, d.repository);
    }
}

pub fn run(cmd: DepCommand) -> crate::Result<()> {
    match cmd {
        DepCommand::Update { chart } => {
            let lock = act::update(&chart)?;
            print_lock(&lock);
            Ok(())
        }
        DepCommand::Build { chart } => {
            let lock = act::build(&chart)?;
            print_lock(&lock);
            Ok(())
        }
        DepCommand::List { chart, output } => {
            let deps = act::list(&chart)?;
            match output {
                Output::Table => {
                    let rows: Vec<Vec<String>> = deps
                        .iter()
                        .map(|d| {
                            vec![
                                d.name.clone(),
                                d.version.clone(),
                                d.repository.clone(),
                                d.status.clone(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        table(&["NAME", "VERSION", "REPOSITORY", "STATUS"], &rows)
                    );
                }
                Output::Json => println!("{}", serde_json::to_string_pretty(&deps).expect("json")),
                Output::Yaml => print!("{}", serde_yaml::to_string(&deps).expect("yaml")),
            }
            Ok(())
        }
    }
}
