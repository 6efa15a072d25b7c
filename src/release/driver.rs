//! Storage drivers: where release records live.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;

use super::{codec, ChartInfo, Release, ReleaseError, Status};

/// What `list` shows of a release: its latest revision without values or manifest.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub name: String,
    pub namespace: String,
    pub revision: u64,
    pub status: Status,
    pub chart: ChartInfo,
    /// `lastDeployed` of the record, RFC 3339 UTC.
    pub updated: String,
    pub description: String,
}

impl Summary {
    pub fn of(r: &Release) -> Summary {
        Summary {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            revision: r.revision,
            status: r.status,
            chart: r.chart.clone(),
            updated: r.last_deployed.clone(),
            description: r.description.clone(),
        }
    }
}

#[async_trait]
pub trait Driver: Send + Sync {
    fn name(&self) -> &'static str;
    /// Stores a record, replacing one with the same name and revision.
    async fn put(&self, r: &Release) -> Result<(), ReleaseError>;
    /// Every revision of a release, oldest first (empty when there is none).
    async fn history(&self, namespace: &str, name: &str) -> Result<Vec<Release>, ReleaseError>;
    /// Every record in a namespace, or in all namespaces for `None`, sorted by namespace,
    /// name and revision.
    async fn list(&self, namespace: Option<&str>) -> Result<Vec<Release>, ReleaseError>;
    async fn delete(&self, namespace: &str, name: &str, revision: u64) -> Result<(), ReleaseError>;

    /// The latest revision of every release in a namespace (all for `None`), sorted by
    /// namespace and name. Drivers that keep the summary beside the record answer without
    /// decoding records (`list` over thousands of revisions).
    async fn latest(&self, namespace: Option<&str>) -> Result<Vec<Summary>, ReleaseError> {
        let mut out: Vec<Summary> = Vec::new();
        for r in self.list(namespace).await? {
            match out.last_mut() {
                Some(l) if l.namespace == r.namespace && l.name == r.name => {
                    if r.revision > l.revision {
                        *l = Summary::of(&r);
                    }
                }
                _ => out.push(Summary::of(&r)),
            }
        }
        Ok(out)
    }

    /// Every `superseded` revision (what Helm's `list --superseded` shows), sorted by
    /// namespace, name and revision.
    async fn superseded(&self, namespace: Option<&str>) -> Result<Vec<Summary>, ReleaseError> {
        Ok(self
            .list(namespace)
            .await?
            .iter()
            .filter(|r| r.status == Status::Superseded)
            .map(Summary::of)
            .collect())
    }

    async fn get(
        &self,
        namespace: &str,
        name: &str,
        revision: u64,
    ) -> Result<Release, ReleaseError> {
        self.history(namespace, name)
            .await?
            .into_iter()
            .find(|r| r.revision == revision)
            .ok_or_else(|| ReleaseError::RevisionNotFound {
                name: name.to_string(),
                namespace: namespace.to_string(),
                revision,
            })
    }
}

/// Records in this process only: tests, `--dry-run`, embedding.
#[derive(Default)]
pub struct MemoryDriver {
    /// Encoded like the other drivers so the codec is always exercised.
    records: Mutex<BTreeMap<(String, String, u64), Vec<u8>>>,
}

impl MemoryDriver {
    pub fn new() -> MemoryDriver {
        MemoryDriver::default()
    }

    fn decode_all<'a>(
        it: impl Iterator<Item = (&'a (String, String, u64), &'a Vec<u8>)>,
    ) -> Result<Vec<Release>, ReleaseError> {
        it.map(|((ns, n, rev), b)| codec::decode(b, &format!("memory {ns}/{n}.v{rev}")))
            .collect()
    }
}

#[async_trait]
impl Driver for MemoryDriver {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn put(&self, r: &Release) -> Result<(), ReleaseError> {
        self.records.lock().expect("records lock").insert(
            (r.namespace.clone(), r.name.clone(), r.revision),
            codec::encode(r),
        );
        Ok(())
    }

    async fn history(&self, namespace: &str, name: &str) -> Result<Vec<Release>, ReleaseError> {
        let recs = self.records.lock().expect("records lock");
        MemoryDriver::decode_all(
            recs.iter()
                .filter(|((ns, n, _), _)| ns == namespace && n == name),
        )
    }

    async fn list(&self, namespace: Option<&str>) -> Result<Vec<Release>, ReleaseError> {
        let recs = self.records.lock().expect("records lock");
        MemoryDriver::decode_all(
            recs.iter()
                .filter(|((ns, _, _), _)| namespace.is_none_or(|want| want == ns)),
        )
    }

    async fn delete(&self, namespace: &str, name: &str, revision: u64) -> Result<(), ReleaseError> {
        self.records.lock().expect("records lock").remove(&(
            namespace.to_string(),
            name.to_string(),
            revision,
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::codec::tests::sample;

    #[tokio::test]
    async fn memory_driver_keeps_revisions_apart() {
        let d = MemoryDriver::new();
        let mut r = sample();
        d.put(&r).await.unwrap();
        r.revision = 2;
        d.put(&r).await.unwrap();
        let mut other = sample();
        other.namespace = "other".into();
        d.put(&other).await.unwrap();
        let h = d.history("data", "demo").await.unwrap();
        assert_eq!(h.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(d.list(None).await.unwrap().len(), 3);
        assert_eq!(d.list(Some("other")).await.unwrap().len(), 1);
        d.delete("data", "demo", 1).await.unwrap();
        assert!(matches!(
            d.get("data", "demo", 1).await,
            Err(ReleaseError::RevisionNotFound { revision: 1, .. })
        ));
        assert_eq!(d.get("data", "demo", 2).await.unwrap().revision, 2);
    }
}
