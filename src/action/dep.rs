//! `dep update|build|list`: thin orchestration over `repo::deps`.

use std::path::Path;

use crate::repo::config::Paths;
use crate::repo::deps::{self, ChartLock, DepStatus};
use crate::Result;

pub fn update(chart_dir: &Path) -> Result<ChartLock> {
    Ok(deps::update(&Paths::from_env()?, chart_dir)?)
}

pub fn build(chart_dir: &Path) -> Result<ChartLock> {
    Ok(deps::build(&Paths::from_env()?, chart_dir)?)
}

pub fn list(chart_dir: &Path) -> Result<Vec<DepStatus>> {
    Ok(deps::list(chart_dir)?)
}
