//! The `secrets` driver: one Secret per revision, `stackpkg.release.v1.<name>.v<rev>`, type
//! `stackpkg.io/release.v1`, labels owner/name/status/version, data `release` = gzip JSON.
//! Records larger than one chunk continue in chunk Secrets (`….c1`, `….c2`…) written before
//! the head Secret, so a reader never finds a head whose chunks are missing.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{codec, Driver, Release, ReleaseError};
use crate::kube::{ApplyOptions, Cluster, ObjectRef};

pub const SECRET_TYPE: &str = "stackpkg.io/release.v1";
pub const CHUNK_TYPE: &str = "stackpkg.io/release.v1.chunk";
const OWNER: &str = "stackpkg";
const CHUNK_OWNER: &str = "stackpkg-chunk";
const CHUNKS_ANNOTATION: &str = "stackpkg.io/chunks";
const SHA_ANNOTATION: &str = "stackpkg.io/sha256";
/// Bytes of compressed record per Secret: well under the 1 MiB Secret limit.
pub const CHUNK_SIZE: usize = 768 * 1024;

pub struct SecretsDriver {
    cluster: Arc<dyn Cluster>,
    chunk_size: usize,
}

pub fn secret_name(name: &str, revision: u64) -> String {
    format!("stackpkg.release.v1.{name}.v{revision}")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn secret_ref(namespace: &str, name: String) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(namespace.to_string()),
        name,
    }
}

impl SecretsDriver {
    pub fn new(cluster: Arc<dyn Cluster>) -> SecretsDriver {
        SecretsDriver {
            cluster,
            chunk_size: CHUNK_SIZE,
        }
    }

    /// Smaller chunks, for tests.
    pub fn with_chunk_size(mut self, size: usize) -> SecretsDriver {
        self.chunk_size = size.max(1);
        self
    }

    /// Reassembles and decodes one head Secret.
    async fn read(&self, secret: &Value) -> Result<Release, ReleaseError> {
        let ns = secret
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let sname = secret
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let record = format!("Secret {ns}/{sname}");
        let bad = |message: String| ReleaseError::Record {
            record: record.clone(),
            message,
        };
        let mut bytes = data_of(secret).map_err(&bad)?;
        let annotations = secret.pointer("/metadata/annotations");
        let ann = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
        let chunks: u64 = match ann(CHUNKS_ANNOTATION) {
            None => 1,
            Some(s) => s
                .parse()
                .ok()
                .filter(|n| (1..=4096).contains(n))
                .ok_or_else(|| {
                    bad(format!(
                        "annotation {CHUNKS_ANNOTATION} is {s:?}, not a chunk count"
                    ))
                })?,
        };
        for i in 1..chunks {
            let cref = secret_ref(ns, format!("{sname}.c{i}"));
            let chunk = self
                .cluster
                .get(&cref)
                .await?
                .ok_or_else(|| bad(format!("chunk Secret {} is missing", cref.name)))?;
            bytes.extend(data_of(&chunk).map_err(|m| bad(format!("chunk {}: {m}", cref.name)))?);
        }
        if let Some(want) = ann(SHA_ANNOTATION) {
            let got = hex::encode(Sha256::digest(&bytes));
            if got != want {
                return Err(bad(format!(
                    "reassembled record does not match its checksum ({chunks} chunks)"
                )));
            }
        }
        let rel = codec::decode(&bytes, &record)?;
        if rel.namespace != ns {
            return Err(bad(format!(
                "record says namespace {}, stored in {ns}",
                rel.namespace
            )));
        }
        Ok(rel)
    }

    async fn heads(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<Release>, ReleaseError> {
        let secrets = self
            .cluster
            .list("v1", "Secret", namespace, selector)
            .await?;
        let mut out = Vec::with_capacity(secrets.len());
        for s in &secrets {
            if s.get("type").and_then(Value::as_str) != Some(SECRET_TYPE) {
                continue;
            }
            out.push(self.read(s).await?);
        }
        out.sort_by(|a, b| {
            (&a.namespace, &a.name, a.revision).cmp(&(&b.namespace, &b.name, b.revision))
        });
        Ok(out)
    }
}

fn data_of(secret: &Value) -> Result<Vec<u8>, String> {
    let enc = secret
        .pointer("/data/release")
        .and_then(Value::as_str)
        .ok_or("has no data.release")?;
    b64()
        .decode(enc)
        .map_err(|e| format!("data.release is not base64: {e}"))
}

#[async_trait]
impl Driver for SecretsDriver {
    fn name(&self) -> &'static str {
        "secrets"
    }

    async fn put(&self, r: &Release) -> Result<(), ReleaseError> {
        let bytes = codec::encode(r);
        let parts: Vec<&[u8]> = bytes.chunks(self.chunk_size).collect();
        let head_name = secret_name(&r.name, r.revision);
        let version = r.revision.to_string();
        for (i, part) in parts.iter().enumerate().skip(1) {
            let chunk = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": format!("{head_name}.c{i}"),
                    "namespace": r.namespace,
                    "labels": {"owner": CHUNK_OWNER, "name": r.name, "version": version},
                },
                "type": CHUNK_TYPE,
                "data": {"release": b64().encode(part)},
            });
            self.cluster.apply(&chunk, &ApplyOptions::default()).await?;
        }
        let mut annotations = BTreeMap::new();
        if parts.len() > 1 {
            annotations.insert(CHUNKS_ANNOTATION, parts.len().to_string());
            annotations.insert(SHA_ANNOTATION, hex::encode(Sha256::digest(&bytes)));
        }
        let head = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": head_name,
                "namespace": r.namespace,
                "labels": {"owner": OWNER, "name": r.name, "status": r.status.as_str(), "version": version},
                "annotations": annotations,
            },
            "type": SECRET_TYPE,
            "data": {"release": b64().encode(parts.first().copied().unwrap_or(&[]))},
        });
        // Server-side apply: keys dropped from our manifest (a vanished chunk annotation)
        // are removed because we own them.
        self.cluster.apply(&head, &ApplyOptions::default()).await?;
        Ok(())
    }

    async fn history(&self, namespace: &str, name: &str) -> Result<Vec<Release>, ReleaseError> {
        self.heads(Some(namespace), &format!("owner={OWNER},name={name}"))
            .await
    }

    async fn list(&self, namespace: Option<&str>) -> Result<Vec<Release>, ReleaseError> {
        self.heads(namespace, &format!("owner={OWNER}")).await
    }

    async fn delete(&self, namespace: &str, name: &str, revision: u64) -> Result<(), ReleaseError> {
        let head = secret_name(name, revision);
        let chunks = self
            .cluster
            .list(
                "v1",
                "Secret",
                Some(namespace),
                &format!("owner={CHUNK_OWNER},name={name},version={revision}"),
            )
            .await?;
        // Head first: once it is gone the record is gone, even if a chunk delete fails.
        self.cluster.delete(&secret_ref(namespace, head)).await?;
        for c in chunks {
            if let Some(n) = c.pointer("/metadata/name").and_then(Value::as_str) {
                self.cluster
                    .delete(&secret_ref(namespace, n.to_string()))
                    .await?;
            }
        }
        Ok(())
    }
}
