//! The cluster layer: a `Cluster` trait (discover, apply, get, list, delete, wait) and its
//! kube-rs implementation. Actions only talk to `dyn Cluster`, so tests and dry runs can
//! substitute their own.

mod client;
mod exec;
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
        /// The fields the server named (`details.causes[].field`), for 422s.
        fields: Vec<String>,
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

/// The answer of clusters that cannot reach into pods (test doubles).
fn unsupported(namespace: &str, pod: &str, what: &str) -> KubeError {
    KubeError::Failed {
        object: format!("Pod {namespace}/{pod}"),
        reason: format!("this cluster connection does not support pod {what}"),
    }
}

/// What an exec in a container printed and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
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
    /// Deletes only if the object is still at `resource_version` (a 409 otherwise).
    async fn delete_at_version(
        &self,
        r: &ObjectRef,
        resource_version: &str,
    ) -> Result<bool, KubeError>;

    /// Polls until the object no longer exists (finalizers done) or the deadline passes.
    async fn wait_deleted(&self, r: &ObjectRef, timeout: Duration) -> Result<(), KubeError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            if self.get(r).await?.is_none() {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(KubeError::Timeout {
                    object: r.to_string(),
                    waited,
                    reason: "still exists (being deleted)".into(),
                });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Runs a command in a pod's container (the first container when `None`) and waits
    /// for it at most `timeout`. A non-zero exit is an answer, not an error.
    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, KubeError> {
        let _ = (container, command, timeout);
        Err(unsupported(namespace, pod, "exec"))
    }

    /// A container's log, only its last `tail` lines when given.
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        tail: Option<u32>,
    ) -> Result<String, KubeError> {
        let _ = (container, tail);
        Err(unsupported(namespace, pod, "logs"))
    }

    /// An HTTP GET to a pod's port through the API server's pod proxy: (status, body).
    async fn proxy_get(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        path: &str,
    ) -> Result<(u16, String), KubeError> {
        let _ = (port, path);
        Err(unsupported(namespace, pod, "proxy"))
    }

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
