//! `stackpkg lint`

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> crate::Result<()> {
    Err(crate::Error::Other("lint: not built yet".into()))
}
