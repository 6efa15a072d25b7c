//! `list`: the latest revision of each release, one storage list call per namespace (one in
//! all for `-A`), answered from the records' labels and annotations. `--status superseded`
//! alone lists every superseded revision instead, as Helm's `list --superseded` does: a
//! latest revision is never superseded.

use regex::Regex;

use crate::release::{Driver, Status, Summary};
use crate::Result;

#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    /// Only releases whose name matches (unanchored, like `grep`).
    pub filter: Option<Regex>,
    /// Only releases whose latest revision has one of these statuses. Empty: every status
    /// but `uninstalled` (or every status with `all`).
    pub statuses: Vec<Status>,
    /// Every status, including releases uninstalled with --keep-history.
    pub all: bool,
}

impl ListRequest {
    fn shows(&self, s: &Summary) -> bool {
        let status_ok = if !self.statuses.is_empty() {
            self.statuses.contains(&s.status)
        } else {
            self.all || s.status != Status::Uninstalled
        };
        status_ok && self.filter.as_ref().is_none_or(|re| re.is_match(&s.name))
    }
}

/// Sorted by namespace, then name (and revision for superseded ones).
pub async fn list(driver: &dyn Driver, req: &ListRequest) -> Result<Vec<Summary>> {
    let ns = req.namespace.as_deref();
    let mut latest = if req.statuses == [Status::Superseded] {
        driver.superseded(ns).await?
    } else {
        driver.latest(ns).await?
    };
    latest.retain(|s| req.shows(s));
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::codec::tests::sample;
    use crate::release::MemoryDriver;

    #[tokio::test]
    async fn filters_by_name_and_status() {
        let d = MemoryDriver::new();
        for (name, status) in [
            ("web", Status::Deployed),
            ("db", Status::Failed),
            ("old", Status::Uninstalled),
            ("new", Status::PendingInstall),
        ] {
            let mut r = sample();
            r.name = name.into();
            r.status = status;
            d.put(&r).await.unwrap();
        }
        let d = &d;
        let names = move |req: ListRequest| async move {
            list(d, &req)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(ListRequest::default()).await, ["db", "new", "web"]);
        let all = ListRequest {
            all: true,
            ..Default::default()
        };
        assert_eq!(names(all).await, ["db", "new", "old", "web"]);
        let failed = ListRequest {
            statuses: vec![Status::Failed, Status::Uninstalled],
            ..Default::default()
        };
        assert_eq!(names(failed).await, ["db", "old"]);
        let filtered = ListRequest {
            filter: Some(Regex::new("^(w|n)e").unwrap()),
            ..Default::default()
        };
        assert_eq!(names(filtered).await, ["new", "web"]);
    }

    #[tokio::test]
    async fn superseded_alone_lists_every_superseded_revision() {
        let d = MemoryDriver::new();
        for (name, rev, status) in [
            ("web", 1, Status::Superseded),
            ("web", 2, Status::Superseded),
            ("web", 3, Status::Deployed),
            ("db", 1, Status::Failed),
        ] {
            let mut r = sample();
            r.name = name.into();
            r.revision = rev;
            r.status = status;
            d.put(&r).await.unwrap();
        }
        let got = |statuses: Vec<Status>| {
            let d = &d;
            async move {
                let req = ListRequest {
                    statuses,
                    ..Default::default()
                };
                list(d, &req)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|s| format!("{}.v{}", s.name, s.revision))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(got(vec![Status::Superseded]).await, ["web.v1", "web.v2"]);
        // Mixed with other statuses it filters latest revisions, which are never superseded.
        assert_eq!(
            got(vec![Status::Superseded, Status::Failed]).await,
            ["db.v1"]
        );
    }
}
