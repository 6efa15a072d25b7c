//! Loading a chart from any reference `template`, `install` and `upgrade` accept:
//! a folder, a `.tgz` path, `REPO/CHART` of a configured repository, or an https URL.

use std::path::{Path, PathBuf};

use crate::chart::Chart;
use crate::repo::config::Paths;
use crate::repo::{resolve_chart_ref, ChartSource, ResolveOptions};
use crate::Result;

pub fn load(reference: &str, opts: &ResolveOptions) -> Result<Chart> {
    let paths = match Paths::from_env() {
        Ok(p) => p,
        // Local charts never consult the config or cache; a pipeline without HOME can
        // still render them.
        Err(_) if Path::new(reference).exists() => Paths {
            config_dir: PathBuf::new(),
            cache_dir: PathBuf::new(),
        },
        Err(e) => return Err(e.into()),
    };
    let resolved = resolve_chart_ref(reference, opts, &paths)?;
    Ok(match resolved.source {
        ChartSource::Dir(d) => crate::chart::load(&d)?,
        ChartSource::Archive { bytes, origin } => crate::chart::load_archive(&bytes, &origin)?,
    })
}
