//! `list`: the latest revision of each release, one storage list call.

use crate::release::{Driver, Release, Status};
use crate::Result;

#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    /// Also show releases uninstalled with --keep-history.
    pub all: bool,
}

/// Sorted by namespace, then name.
pub async fn list(driver: &dyn Driver, req: &ListRequest) -> Result<Vec<Release>> {
    let records = driver.list(req.namespace.as_deref()).await?;
    let mut latest: Vec<Release> = Vec::new();
    for r in records {
        match latest.last_mut() {
            Some(l) if l.namespace == r.namespace && l.name == r.name => {
                if r.revision > l.revision {
                    *l = r;
                }
            }
            _ => latest.push(r),
        }
    }
    latest.retain(|r| req.all || r.status != Status::Uninstalled);
    Ok(latest)
}
