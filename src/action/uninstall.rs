//! `uninstall`: delete the release's objects in reverse install order, then its records
//! (or keep them, marked uninstalled). PersistentVolumeClaims made by StatefulSets from
//! volumeClaimTemplates are not part of the release, so they stay: data outlives releases.

use std::sync::Arc;

use crate::action::install::{ensure_idle, Progress};
use crate::kube::Cluster;
use crate::release::{deploy, now, Driver, Release, ReleaseError, Status};
use crate::Result;

#[derive(Debug, Clone)]
pub struct UninstallRequest {
    pub name: String,
    pub namespace: String,
    pub keep_history: bool,
}

pub async fn uninstall(
    cluster: &Arc<dyn Cluster>,
    driver: &dyn Driver,
    req: &UninstallRequest,
    progress: Progress<'_>,
) -> Result<Release> {
    let history = driver.history(&req.namespace, &req.name).await?;
    ensure_idle(&history)?;
    let not_found = || ReleaseError::NotFound {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
    };
    let mut last = history.last().cloned().ok_or_else(not_found)?;
    if last.status == Status::Uninstalled {
        return Err(not_found().into());
    }
    last.transition(Status::Uninstalling, "Deletion in progress")?;
    driver.put(&last).await?;

    // Everything any live revision applied: a failed upgrade may have added objects.
    let mut refs = Vec::new();
    for r in &history {
        if matches!(r.status, Status::Deployed | Status::Failed) || r.revision == last.revision {
            for o in &r.resources {
                if !refs.contains(o) {
                    refs.push(o.clone());
                }
            }
        }
    }
    let cluster = cluster.as_ref();
    if let Err(e) = deploy::delete_all(cluster, &refs, progress).await {
        last.transition(Status::Failed, &format!("Uninstall failed: {e}"))?;
        driver.put(&last).await?;
        return Err(e.into());
    }
    last.transition(Status::Uninstalled, "Uninstallation complete")?;
    last.deleted = Some(now());
    if req.keep_history {
        driver.put(&last).await?;
    } else {
        for r in &history {
            driver.delete(&r.namespace, &r.name, r.revision).await?;
        }
    }
    Ok(last)
}
