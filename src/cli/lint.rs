//! `stackpkg lint`

use std::path::PathBuf;

use super::template::ValuesArgs;
use crate::action::lint::{self as action, Severity};
use crate::Error;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stackpkg lint ./mychart
  stackpkg lint ./mychart --strict -f ci/production.yaml")]
pub struct Args {
    /// Chart folder or packaged chart (.tgz)
    pub chart: PathBuf,
    /// Validate every rendered object against the Kubernetes JSON schemas; warnings fail too
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub values: ValuesArgs,
}

pub fn run(args: Args) -> crate::Result<()> {
    let report = action::run(&args.chart, &args.values.options(), args.strict);
    for f in &report.findings {
        println!("[{}] {}", f.severity, f.message);
    }
    let (errors, warnings) = (
        report.count(Severity::Error),
        report.count(Severity::Warning),
    );
    let summary = format!(
        "{}: {} object(s) rendered, {errors} error(s), {warnings} warning(s){}",
        args.chart.display(),
        report.objects,
        if args.strict { " (strict)" } else { "" }
    );
    if report.failed(args.strict) {
        Err(Error::Other(format!("lint failed: {summary}")))
    } else {
        println!("{summary}");
        Ok(())
    }
}
