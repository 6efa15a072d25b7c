//! The `secrets` driver: one Secret per revision, `stackpkg.release.v1.<name>.v<rev>`, type
//! `stackpkg.io/release.v1`, labels owner/name/status/version, data `release` = gzip JSON.
//! Records larger than one chunk continue in chunk Secrets (`….c1`, `….c2`…) written before
//! the head Secret, so a reader never finds a head whose chunks are missing.
//!
//! The same code stores records in ConfigMaps (`configmaps.rs`): only the kind, the data
//! field and the type marker differ, described by a [`Layout`].
//!
//! The head object also carries what `list` shows (chart, app version, updated,
//! description) as annotations, so `list` answers from one list call without decompressing
//! any record.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::driver::Summary;
use super::{codec, ChartInfo, Driver, Release, ReleaseError, Status};
use crate::kube::{ApplyOptions, Cluster, ObjectRef};

pub const SECRET_TYPE: &str = "stackpkg.io/release.v1";
pub const CHUNK_TYPE: &str = "stackpkg.io/release.v1.chunk";
const OWNER: &str = "stackpkg";
const CHUNK_OWNER: &str = "stackpkg-chunk";
const CHUNKS_ANNOTATION: &str = "stackpkg.io/chunks";
const SHA_ANNOTATION: &str = "stackpkg.io/sha256";
pub const CHART_ANNOTATION: &str = "stackpkg.io/chart";
pub const CHART_VERSION_ANNOTATION: &str = "stackpkg.io/chart-version";
pub const APP_VERSION_ANNOTATION: &str = "stackpkg.io/app-version";
pub const UPDATED_ANNOTATION: &str = "stackpkg.io/updated";
pub const DESCRIPTION_ANNOTATION: &str = "stackpkg.io/description";
/// Longer descriptions (a long error) stay in the record only; `list` then decodes that
/// one record. Keeps the head's metadata small: the API server caps annotations at 256 KiB.
const MAX_DESCRIPTION_ANNOTATION: usize = 1024;
/// Bytes of compressed record per Secret: well under the 1 MiB Secret limit.
pub const CHUNK_SIZE: usize = 768 * 1024;

/// How records are laid out in one Kubernetes kind.
#[derive(Debug)]
pub struct Layout {
    /// The driver's name (`--storage`).
    pub driver: &'static str,
    pub kind: &'static str,
    /// Map holding `release` as base64 (`data` for Secrets, `binaryData` for ConfigMaps).
    pub data_field: &'static str,
    /// `type` of head and chunk objects, for kinds that have one.
    pub types: Option<(&'static str, &'static str)>,
}

pub const SECRETS: Layout = Layout {
    driver: "secrets",
    kind: "Secret",
    data_field: "data",
    types: Some((SECRET_TYPE, CHUNK_TYPE)),
};

/// Stores records in objects of one kind (see [`Layout`]).
pub struct KubeDriver {
    cluster: Arc<dyn Cluster>,
    chunk_size: usize,
    layout: &'static Layout,
}

/// The `secrets` driver (the default).
pub type SecretsDriver = KubeDriver;

pub fn secret_name(name: &str, revision: u64) -> String {
    format!("stackpkg.release.v1.{name}.v{revision}")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl KubeDriver {
    /// The `secrets` driver.
    pub fn new(cluster: Arc<dyn Cluster>) -> KubeDriver {
        KubeDriver::with_layout(cluster, &SECRETS)
    }

    pub fn with_layout(cluster: Arc<dyn Cluster>, layout: &'static Layout) -> KubeDriver {
        KubeDriver {
            cluster,
            chunk_size: CHUNK_SIZE,
            layout,
        }
    }

    /// Smaller chunks, for tests.
    pub fn with_chunk_size(mut self, size: usize) -> KubeDriver {
        self.chunk_size = size.max(1);
        self
    }

    /// The objects that store `r`: its chunk objects (if any), then the head. `put` applies
    /// them in this order; tests seed clusters with them directly.
    pub fn objects(&self, r: &Release) -> Vec<Value> {
        let mut out = Vec::new();
        let bytes = codec::encode(r);
        let parts: Vec<&[u8]> = bytes.chunks(self.chunk_size).collect();
        let head_name = secret_name(&r.name, r.revision);
        let version = r.revision.to_string();
        let field = self.layout.data_field;
        for (i, part) in parts.iter().enumerate().skip(1) {
            let mut chunk = json!({
                "apiVersion": "v1",
                "kind": self.layout.kind,
                "metadata": {
                    "name": format!("{head_name}.c{i}"),
                    "namespace": r.namespace,
                    "labels": {"owner": CHUNK_OWNER, "name": r.name, "version": version},
                },
                (field): {"release": b64().encode(part)},
            });
            if let Some((_, t)) = self.layout.types {
                chunk["type"] = t.into();
            }
            out.push(chunk);
        }
        let mut annotations = BTreeMap::new();
        if parts.len() > 1 {
            annotations.insert(CHUNKS_ANNOTATION, parts.len().to_string());
            annotations.insert(SHA_ANNOTATION, hex::encode(Sha256::digest(&bytes)));
        }
        annotations.insert(CHART_ANNOTATION, r.chart.name.clone());
        annotations.insert(CHART_VERSION_ANNOTATION, r.chart.version.clone());
        if let Some(v) = &r.chart.app_version {
            annotations.insert(APP_VERSION_ANNOTATION, v.clone());
        }
        annotations.insert(UPDATED_ANNOTATION, r.last_deployed.clone());
        if r.description.len() <= MAX_DESCRIPTION_ANNOTATION {
            annotations.insert(DESCRIPTION_ANNOTATION, r.description.clone());
        }
        let mut head = json!({
            "apiVersion": "v1",
            "kind": self.layout.kind,
            "metadata": {
                "name": head_name,
                "namespace": r.namespace,
                "labels": {"owner": OWNER, "name": r.name, "status": r.status.as_str(), "version": version},
                "annotations": annotations,
            },
            (field): {"release": b64().encode(parts.first().copied().unwrap_or(&[]))},
        });
        if let Some((t, _)) = self.layout.types {
            head["type"] = t.into();
        }
        out.push(head);
        out
    }

    fn object_ref(&self, namespace: &str, name: String) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: self.layout.kind.into(),
            namespace: Some(namespace.to_string()),
            name,
        }
    }

    /// `Secret ns/name` (or `ConfigMap …`): how errors name a stored object.
    fn describe(&self, obj: &Value) -> String {
        format!(
            "{} {}/{}",
            self.layout.kind,
            meta_str(obj, "namespace"),
            meta_str(obj, "name")
        )
    }

    fn data_of(&self, obj: &Value) -> Result<Vec<u8>, String> {
        let field = self.layout.data_field;
        let enc = obj
            .get(field)
            .and_then(|d| d.get("release"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("has no {field}.release"))?;
        b64()
            .decode(enc)
            .map_err(|e| format!("{field}.release is not base64: {e}"))
    }

    /// Reassembles and decodes one head object.
    async fn read(&self, head: &Value) -> Result<Release, ReleaseError> {
        let ns = meta_str(head, "namespace");
        let hname = meta_str(head, "name");
        let record = self.describe(head);
        let bad = |message: String| ReleaseError::Record {
            record: record.clone(),
            message,
        };
        let mut bytes = self.data_of(head).map_err(&bad)?;
        let annotations = head.pointer("/metadata/annotations");
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
            let cref = self.object_ref(ns, format!("{hname}.c{i}"));
            let chunk = self.cluster.get(&cref).await?.ok_or_else(|| {
                bad(format!(
                    "chunk {} {} is missing",
                    self.layout.kind, cref.name
                ))
            })?;
            bytes.extend(
                self.data_of(&chunk)
                    .map_err(|m| bad(format!("chunk {}: {m}", cref.name)))?,
            );
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
        // `list` trusts the labels; a head whose labels disagree with its record is corrupt.
        let (lname, lversion) = (label(head, "name"), label(head, "version"));
        if lname != Some(rel.name.as_str()) || lversion != Some(rel.revision.to_string().as_str()) {
            return Err(bad(format!(
                "record is {}.v{} but its labels say {}.v{}",
                rel.name,
                rel.revision,
                lname.unwrap_or("?"),
                lversion.unwrap_or("?")
            )));
        }
        Ok(rel)
    }

    /// Head objects (not chunks) matching the selector.
    async fn head_objects(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<Value>, ReleaseError> {
        let objs = self
            .cluster
            .list("v1", self.layout.kind, namespace, selector)
            .await?;
        Ok(objs
            .into_iter()
            .filter(|o| match self.layout.types {
                Some((head, _)) => o.get("type").and_then(Value::as_str) == Some(head),
                None => true,
            })
            .collect())
    }

    async fn heads(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<Release>, ReleaseError> {
        let objs = self.head_objects(namespace, selector).await?;
        let mut out = Vec::with_capacity(objs.len());
        for o in &objs {
            out.push(self.read(o).await?);
        }
        out.sort_by(|a, b| {
            (&a.namespace, &a.name, a.revision).cmp(&(&b.namespace, &b.name, b.revision))
        });
        Ok(out)
    }

    /// Summaries of the record heads `selector` picks, from one metadata-only list call;
    /// `latest_only`: the highest revision of each release. Only heads that lack the summary
    /// annotations are fetched and decoded. Sorted by namespace, name and revision.
    async fn summaries(
        &self,
        namespace: Option<&str>,
        selector: &str,
        latest_only: bool,
    ) -> Result<Vec<Summary>, ReleaseError> {
        let objs = self
            .cluster
            .list_metadata("v1", self.layout.kind, namespace, selector)
            .await?;
        // Chunks carry another owner label; metadata has no `type`, so a head is also
        // recognised by its name matching its labels (anything else is not a record head).
        let mut heads: Vec<(&str, &str, u64, &Value)> = Vec::with_capacity(objs.len());
        for o in &objs {
            let name = label(o, "name").ok_or_else(|| ReleaseError::Record {
                record: self.describe(o),
                message: "has no label name".into(),
            })?;
            let rev = revision_label(o).map_err(|message| ReleaseError::Record {
                record: self.describe(o),
                message,
            })?;
            if meta_str(o, "name") == secret_name(name, rev) {
                heads.push((meta_str(o, "namespace"), name, rev, o));
            }
        }
        heads.sort_unstable_by_key(|&(ns, name, rev, _)| (ns, name, rev));
        if latest_only {
            // Sorted, so the last of each release's run is its latest revision.
            heads.reverse();
            heads.dedup_by_key(|&mut (ns, name, _, _)| (ns, name));
            heads.reverse();
        }
        let mut out = Vec::with_capacity(heads.len());
        for (_, _, _, o) in heads {
            match self.summary_of(o)? {
                Some(s) => out.push(s),
                None => {
                    let r = self.object_ref(meta_str(o, "namespace"), meta_str(o, "name").into());
                    // Gone since the list: the release was uninstalled meanwhile.
                    if let Some(full) = self.cluster.get(&r).await? {
                        out.push(Summary::of(&self.read(&full).await?));
                    }
                }
            }
        }
        Ok(out)
    }

    /// What `list` shows, from the head's labels and annotations; `None` when an annotation
    /// is missing (records written before they existed, long descriptions).
    fn summary_of(&self, head: &Value) -> Result<Option<Summary>, ReleaseError> {
        let bad = |message: String| ReleaseError::Record {
            record: self.describe(head),
            message,
        };
        let name = label(head, "name").ok_or_else(|| bad("has no label name".into()))?;
        let revision = revision_label(head).map_err(&bad)?;
        let status = label(head, "status").unwrap_or("");
        let status = Status::parse(status)
            .ok_or_else(|| bad(format!("label status is {status:?}, not a release status")))?;
        let annotations = head.pointer("/metadata/annotations");
        let ann = |k: &str| {
            annotations
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (Some(chart), Some(version), Some(updated), Some(description)) = (
            ann(CHART_ANNOTATION),
            ann(CHART_VERSION_ANNOTATION),
            ann(UPDATED_ANNOTATION),
            ann(DESCRIPTION_ANNOTATION),
        ) else {
            return Ok(None);
        };
        Ok(Some(Summary {
            name: name.to_string(),
            namespace: meta_str(head, "namespace").to_string(),
            revision,
            status,
            chart: ChartInfo {
                name: chart,
                version,
                app_version: ann(APP_VERSION_ANNOTATION),
            },
            updated,
            description,
        }))
    }
}

fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

fn revision_label(obj: &Value) -> Result<u64, String> {
    let v = label(obj, "version").unwrap_or("");
    v.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("label version is {v:?}, not a revision number"))
}

#[async_trait]
impl Driver for KubeDriver {
    fn name(&self) -> &'static str {
        self.layout.driver
    }

    async fn put(&self, r: &Release) -> Result<(), ReleaseError> {
        // Chunks before the head. Server-side apply: keys dropped from our manifest (a
        // vanished chunk annotation) are removed because we own them.
        for obj in self.objects(r) {
            self.cluster.apply(&obj, &ApplyOptions::default()).await?;
        }
        Ok(())
    }

    async fn history(&self, namespace: &str, name: &str) -> Result<Vec<Release>, ReleaseError> {
        self.heads(Some(namespace), &format!("owner={OWNER},name={name}"))
            .await
    }

    async fn list(&self, namespace: Option<&str>) -> Result<Vec<Release>, ReleaseError> {
        self.heads(namespace, &format!("owner={OWNER}")).await
    }

    /// One metadata-only list call (no record body crosses the wire) of the heads that are
    /// not `superseded`: a release's latest revision never is (a revision is superseded only
    /// by a newer one that was deployed), so the other heads, typically most of them, are
    /// left out by the API server itself. The latest of each release is chosen by its labels.
    async fn latest(&self, namespace: Option<&str>) -> Result<Vec<Summary>, ReleaseError> {
        self.summaries(
            namespace,
            &format!("owner={OWNER},status!=superseded"),
            true,
        )
        .await
    }

    async fn superseded(&self, namespace: Option<&str>) -> Result<Vec<Summary>, ReleaseError> {
        self.summaries(
            namespace,
            &format!("owner={OWNER},status=superseded"),
            false,
        )
        .await
    }

    async fn delete(&self, namespace: &str, name: &str, revision: u64) -> Result<(), ReleaseError> {
        let head = secret_name(name, revision);
        let chunks = self
            .cluster
            .list(
                "v1",
                self.layout.kind,
                Some(namespace),
                &format!("owner={CHUNK_OWNER},name={name},version={revision}"),
            )
            .await?;
        // Head first: once it is gone the record is gone, even if a chunk delete fails.
        self.cluster
            .delete(&self.object_ref(namespace, head))
            .await?;
        for c in chunks {
            let n = meta_str(&c, "name");
            if !n.is_empty() {
                self.cluster
                    .delete(&self.object_ref(namespace, n.to_string()))
                    .await?;
            }
        }
        Ok(())
    }
}
