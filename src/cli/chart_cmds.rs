//! `stackpkg show`, `package`

#[derive(Debug, clap::Subcommand)]
pub enum ShowCommand {}

#[derive(Debug, clap::Args)]
pub struct PackageArgs {}

pub fn show(cmd: ShowCommand) -> crate::Result<()> {
    match cmd {}
}

pub fn package(_args: PackageArgs) -> crate::Result<()> {
    Err(crate::Error::Other("package: not built yet".into()))
}
