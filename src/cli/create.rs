//! `stackpkg create`

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  stackpkg create mychart && stackpkg lint --strict mychart && stackpkg template demo mychart")]
pub struct Args {
    /// Folder to create; its last component is the chart name
    pub name: PathBuf,
}

pub fn run(args: Args) -> crate::Result<()> {
    let files = crate::action::create::run(&args.name)?;
    println!(
        "Created chart {} ({} files)",
        args.name.display(),
        files.len()
    );
    Ok(())
}
