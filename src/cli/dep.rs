//! `stackpkg dep update|build|list`

#[derive(Debug, clap::Subcommand)]
pub enum DepCommand {}

pub fn run(cmd: DepCommand) -> crate::Result<()> {
    match cmd {}
}
