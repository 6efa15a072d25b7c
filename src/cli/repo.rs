//! `stackpkg repo …`, `search`, `pull`, `push`, `verify`

#[derive(Debug, clap::Subcommand)]
pub enum RepoCommand {}

#[derive(Debug, clap::Subcommand)]
pub enum SearchCommand {}

#[derive(Debug, clap::Args)]
pub struct PullArgs {}

#[derive(Debug, clap::Args)]
pub struct PushArgs {}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

pub fn run_repo(cmd: RepoCommand) -> crate::Result<()> {
    match cmd {}
}

pub fn run_search(cmd: SearchCommand) -> crate::Result<()> {
    match cmd {}
}

pub fn pull(_args: PullArgs) -> crate::Result<()> {
    Err(crate::Error::Other("pull: not built yet".into()))
}

pub fn push(_args: PushArgs) -> crate::Result<()> {
    Err(crate::Error::Other("push: not built yet".into()))
}

pub fn verify(_args: VerifyArgs) -> crate::Result<()> {
    Err(crate::Error::Other("verify: not built yet".into()))
}
