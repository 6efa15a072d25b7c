//! The cluster layer: a `Cluster` trait (discover, apply, get, list, delete, wait) and its
//! kube-rs implementation. Actions only talk to `dyn Cluster`, so tests and dry runs can
//! substitute their own.

mod client;
pub mod ready;
mod retry;

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

pub use client::{ConnectOptions, KubeCluster};
pub use ready::Readiness;
pub use retry::RetryPolicy;

#[derive(Debug, Error)]
pub enum KubeError {
    #[error("kubeconfig: {0}")]
    Config(String),
    /// A permanent refusal (4xx other than 429): reported at once.
    #[error("{object}: the API server refused it ({code} {reason}): {message}")]
    Api {
        object: String,
        code: u16,
        reason: String,
        message: String,
    },
    /// Transient failures that outlasted the retries.
    #[error("{object}: {message} (gave up after {attempts} attempts)")]
    Transient {
        object: String,
        message: String,
        attempts: u32,
    },
    #[error("{object}: the cluster does not serve kind {kind} in {api_version}")]
    UnknownKind {
        object: String,
        api_version: String,
        kind: String,
    },
    #[error("{object}: invalid object: {message}")]
    Invalid { object: String, message: String },
    #[error("{object}: not ready after {waited:?}: {reason}")]
    Timeout {
        object: String,
        waited: Duration,
        reason: String,
    },
    #[error("{object}: {reason}")]
    Failed { object: String, reason: String },
}

/// The identity of one object in the cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    /// Absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// Reads the identity of a JSON object; `None` when apiVersion, kind or name is missing.
    pub fn of(obj: &Value) -> Option<ObjectRef> {
        Some(ObjectRef {
            api_version: obj.get("apiVersion")?.as_str()?.to_string(),
            kind: obj.get("kind")?.as_str()?.to_string(),
            namespace: obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string),
            name: obj.pointer("/metadata/name")?.as_str()?.to_string(),
        })
    }

    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.group();
        if g.is_empty() {
            write!(f, "{}", self.kind)?;
        } else {
            write!(f, "{}.{g}", self.kind)?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " {ns}/{}", self.name),
            None => write!(f, " {}", self.name),
        }
    }
}

/// How the API serves one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub api_version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// Take over fields another manager owns (`--force-conflicts`).
    pub force_conflicts: bool,
    /// Server-side dry run: validated and defaulted by the server, not stored.
    pub dry_run: bool,
}

/// What stackpkg needs from a cluster. Namespaced objects must carry their namespace.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// The namespace of the current context (or `-n`).
    fn namespace(&self) -> &str;
    /// Maps a kind to its resource; answers are cached for the life of the value.
    async fn discover(&self, api_version: &str, kind: &str) -> Result<Resource, KubeError>;
    /// Server-side apply with field manager `stackpkg`; returns the object as stored.
    async fn apply(&self, obj: &Value, opts: &ApplyOptions) -> Result<Value, KubeError>;
    /// Creates the object; a 409 (`AlreadyExists`) when it exists.
    async fn create(&self, obj: &Value) -> Result<Value, KubeError>;
    /// Replaces the object; with `metadata.resourceVersion` set, a 409 when it changed since.
    async fn replace(&self, obj: &Value) -> Result<Value, KubeError>;
    async fn get(&self, r: &ObjectRef) -> Result<Option<Value>, KubeError>;
    /// Objects of one kind in a namespace (all namespaces when `None`) matching a label selector.
    async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, KubeError>;
    /// Deletes in the background; `false` when the object was already gone.
    async fn delete(&self, r: &ObjectRef) -> Result<bool, KubeError>;
    /// Like `list`, but only each object's metadata, as
    /// `{"apiVersion", "kind", "metadata"}` with the kind of the listed objects: no bodies
    /// cross the wire (the API server's `PartialObjectMetadataList`), and one request,
    /// unpaged, as Helm lists its release Secrets. The default trims a full `list`, for
    /// implementations without a cheaper way.
    async fn list_metadata(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, KubeError> {
        let full = self
            .list(api_version, kind, namespace, label_selector)
            .await?;
        Ok(full
            .into_iter()
            .map(|mut o| {
                serde_json::json!({
                    "apiVersion": api_version,
                    "kind": kind,
                    "metadata": o["metadata"].take(),
                })
            })
            .collect())
    }

    /// Polls the object until it is ready (see `ready::readiness`) or the deadline passes.
    async fn wait(&self, r: &ObjectRef, timeout: Duration) -> Result<(), KubeError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let reason = match self.get(r).await? {
                None => "it does not exist".to_string(),
                Some(obj) => match ready::readiness(&obj) {
                    Readiness::Ready => return Ok(()),
                    Readiness::Failed(reason) => {
                        return Err(KubeError::Failed {
                            object: r.to_string(),
                            reason,
                        })
                    }
                    Readiness::Pending(reason) => reason,
                },
            };
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(KubeError::Timeout {
                    object: r.to_string(),
                    waited,
                    reason,
                });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}
