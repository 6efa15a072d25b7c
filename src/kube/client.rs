//! `Cluster` over kube-rs: kubeconfig, discovery cache, server-side apply, retries.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use ::kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use ::kube::config::{Config, KubeConfigOptions, Kubeconfig};
use ::kube::core::{ApiResource, GroupVersionKind};
use async_trait::async_trait;
use serde_json::Value;

use super::retry::{self, RetryPolicy};
use super::{ApplyOptions, Cluster, ExecOutput, KubeError, ObjectRef, Resource};

/// kind → (resource, namespaced) for one group-version.
type GroupVersion = HashMap<String, (ApiResource, bool)>;

pub const FIELD_MANAGER: &str = "stackpkg";

/// Where to find the cluster: `--kubeconfig`, `--kube-context`, `-n`.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// Overrides `KUBECONFIG` and `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Overrides the context's namespace.
    pub namespace: Option<String>,
}

pub struct KubeCluster {
    client: ::kube::Client,
    namespace: String,
    retry: RetryPolicy,
    /// apiVersion → its kinds, filled on first use.
    cache: Mutex<HashMap<String, GroupVersion>>,
}

impl KubeCluster {
    pub async fn connect(opts: &ConnectOptions) -> Result<KubeCluster, KubeError> {
        let kopts = KubeConfigOptions {
            context: opts.context.clone(),
            ..Default::default()
        };
        let config = match &opts.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path).map_err(|e| {
                    KubeError::Config(format!("{}: {}", path.display(), one_line(&e)))
                })?;
                Config::from_custom_kubeconfig(kc, &kopts)
                    .await
                    .map_err(|e| {
                        KubeError::Config(format!("{}: {}", path.display(), one_line(&e)))
                    })?
            }
            None => match Config::from_kubeconfig(&kopts).await {
                Ok(c) => c,
                // No kubeconfig at all: inside a pod the service account is the way in.
                Err(kerr) if opts.context.is_none() => Config::incluster().map_err(|_| {
                    KubeError::Config(format!("{kerr} (and not running in a cluster)"))
                })?,
                Err(e) => return Err(KubeError::Config(one_line(&e))),
            },
        };
        let namespace = opts
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = ::kube::Client::try_from(config)
            .map_err(|e| KubeError::Config(format!("cannot build a client: {e}")))?;
        Ok(KubeCluster::from_client(client, namespace))
    }

    pub fn from_client(client: ::kube::Client, namespace: String) -> KubeCluster {
        KubeCluster {
            client,
            namespace,
            retry: RetryPolicy::default(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> KubeCluster {
        self.retry = retry;
        self
    }

    /// One discovery request per group-version per run. A kind missing from a cached
    /// group-version triggers one fresh read: a CRD applied earlier may have added it.
    async fn api_resource(
        &self,
        api_version: &str,
        kind: &str,
        object: &str,
    ) -> Result<(ApiResource, bool), KubeError> {
        let lookup = |cache: &HashMap<String, GroupVersion>| {
            cache.get(api_version).map(|gv| gv.get(kind).cloned())
        };
        if let Some(Some(hit)) = lookup(&self.cache.lock().expect("cache lock")) {
            return Ok(hit);
        }
        let unknown = || KubeError::UnknownKind {
            object: object.to_string(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        };
        let listed = retry::run(&self.retry, object, || async {
            if api_version.contains('/') {
                self.client.list_api_group_resources(api_version).await
            } else {
                self.client.list_core_api_resources(api_version).await
            }
        })
        .await;
        let list = match listed {
            Ok(l) => l,
            Err(KubeError::Api { code: 404, .. }) => return Err(unknown()),
            Err(e) => return Err(e),
        };
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let mut gv = GroupVersion::new();
        for r in list.resources {
            // Subresources (`pods/exec`) are not kinds one applies.
            if r.name.contains('/') {
                continue;
            }
            let gvk = GroupVersionKind::gvk(group, version, &r.kind);
            gv.insert(
                r.kind.clone(),
                (
                    ApiResource::from_gvk_with_plural(&gvk, &r.name),
                    r.namespaced,
                ),
            );
        }
        let found = gv.get(kind).cloned();
        self.cache
            .lock()
            .expect("cache lock")
            .insert(api_version.to_string(), gv);
        found.ok_or_else(unknown)
    }

    async fn typed(
        &self,
        obj: &Value,
    ) -> Result<(ObjectRef, Api<DynamicObject>, DynamicObject), KubeError> {
        let r = ObjectRef::of(obj).ok_or_else(|| KubeError::Invalid {
            object: "object".into(),
            message: "apiVersion, kind and metadata.name are required".into(),
        })?;
        let dynobj: DynamicObject =
            serde_json::from_value(obj.clone()).map_err(|e| KubeError::Invalid {
                object: r.to_string(),
                message: e.to_string(),
            })?;
        let api = self.api_for(&r).await?;
        Ok((r, api, dynobj))
    }

    /// What `list` and `list_metadata` ask for; only namespaced kinds are listed in a
    /// namespace.
    async fn list_target<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        label_selector: &'a str,
    ) -> Result<ListTarget<'a>, KubeError> {
        let object = match namespace {
            Some(ns) => format!("{kind} list in namespace {ns}"),
            None => format!("{kind} list in all namespaces"),
        };
        let (ar, namespaced) = self.api_resource(api_version, kind, &object).await?;
        Ok(ListTarget {
            object,
            ar,
            namespace: namespace.filter(|_| namespaced),
            label_selector,
        })
    }

    async fn api_for(&self, r: &ObjectRef) -> Result<Api<DynamicObject>, KubeError> {
        let object = r.to_string();
        let (ar, namespaced) = self.api_resource(&r.api_version, &r.kind, &object).await?;
        Ok(if namespaced {
            let ns = r.namespace.as_deref().unwrap_or(&self.namespace);
            Api::namespaced_with(self.client.clone(), ns, &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        })
    }
}

/// Parser errors come with a multi-line source excerpt; errors here are one line.
fn one_line(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    s.lines().next().unwrap_or_default().trim_end().to_string()
}

/// Create and replace write as the same field manager as apply.
fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

fn to_value(o: DynamicObject, object: &str) -> Result<Value, KubeError> {
    serde_json::to_value(o).map_err(|e| KubeError::Failed {
        object: object.to_string(),
        reason: format!("cannot read the server's answer: {e}"),
    })
}

#[async_trait]
impl Cluster for KubeCluster {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    async fn discover(&self, api_version: &str, kind: &str) -> Result<Resource, KubeError> {
        let object = format!("{kind} ({api_version})");
        let (ar, namespaced) = self.api_resource(api_version, kind, &object).await?;
        Ok(Resource {
            api_version: ar.api_version,
            kind: ar.kind,
            plural: ar.plural,
            namespaced,
        })
    }

    async fn apply(&self, obj: &Value, opts: &ApplyOptions) -> Result<Value, KubeError> {
        let r = ObjectRef::of(obj).ok_or_else(|| KubeError::Invalid {
            object: "object".into(),
            message: "apiVersion, kind and metadata.name are required".into(),
        })?;
        let object = r.to_string();
        let api = self.api_for(&r).await?;
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        pp.force = opts.force_conflicts;
        pp.dry_run = opts.dry_run;
        let patch = Patch::Apply(obj);
        let out = retry::run(&self.retry, &object, || api.patch(&r.name, &pp, &patch)).await?;
        to_value(out, &object)
    }

    async fn create(&self, obj: &Value) -> Result<Value, KubeError> {
        let (r, api, dynobj) = self.typed(obj).await?;
        let object = r.to_string();
        let pp = post_params();
        let out = retry::run(&self.retry, &object, || api.create(&pp, &dynobj)).await?;
        to_value(out, &object)
    }

    async fn replace(&self, obj: &Value) -> Result<Value, KubeError> {
        let (r, api, dynobj) = self.typed(obj).await?;
        let object = r.to_string();
        let pp = post_params();
        let out = retry::run(&self.retry, &object, || api.replace(&r.name, &pp, &dynobj)).await?;
        to_value(out, &object)
    }

    async fn get(&self, r: &ObjectRef) -> Result<Option<Value>, KubeError> {
        let object = r.to_string();
        let api = self.api_for(r).await?;
        match retry::run(&self.retry, &object, || api.get_opt(&r.name)).await? {
            Some(o) => Ok(Some(to_value(o, &object)?)),
            None => Ok(None),
        }
    }

    async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, KubeError> {
        let target = self
            .list_target(api_version, kind, namespace, label_selector)
            .await?;
        let api: Api<DynamicObject> = match target.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &target.ar),
            None => Api::all_with(self.client.clone(), &target.ar),
        };
        let (t, api) = (&target, &api);
        t.pages(Some(500), |lp| async move {
            let page = retry::run(&self.retry, &t.object, || api.list(&lp)).await?;
            let items = page
                .items
                .into_iter()
                .map(|mut item| {
                    // Items of a list may omit apiVersion/kind; put them back for callers.
                    if item.types.is_none() {
                        item.types = Some(::kube::core::TypeMeta {
                            api_version: t.ar.api_version.clone(),
                            kind: t.ar.kind.clone(),
                        });
                    }
                    to_value(item, &t.object)
                })
                .collect::<Result<_, _>>()?;
            Ok((items, page.metadata.continue_))
        })
        .await
    }

    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
        timeout: std::time::Duration,
    ) -> Result<ExecOutput, KubeError> {
        super::exec::exec(
            &self.client,
            &self.retry,
            namespace,
            pod,
            container,
            command,
            timeout,
        )
        .await
    }

    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        tail: Option<u32>,
    ) -> Result<String, KubeError> {
        super::exec::logs(&self.client, &self.retry, namespace, pod, container, tail).await
    }

    async fn proxy_get(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        path: &str,
    ) -> Result<(u16, String), KubeError> {
        super::exec::proxy_get(&self.client, namespace, pod, port, path).await
    }

    async fn list_metadata(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, KubeError> {
        let target = self
            .list_target(api_version, kind, namespace, label_selector)
            .await?;
        let url = <DynamicObject as ::kube::Resource>::url_path(&target.ar, target.namespace);
        let (t, url) = (&target, url.as_str());
        // No limit: metadata is small, so one request answers (a server that pages
        // anyway is followed through its continue tokens).
        t.pages(None, |lp| async move {
            let page: MetaList = retry::run(&self.retry, &t.object, || {
                let req = ::kube::core::Request::new(url).list_metadata(&lp);
                let client = self.client.clone();
                async move {
                    let req = req.map_err(::kube::Error::BuildRequest)?;
                    client.request::<MetaList>(req).await
                }
            })
            .await?;
            // Items say `PartialObjectMetadata`; callers want the listed kind. Only the
            // fields callers read are parsed (managedFields, the bulk, are skipped).
            let items = page
                .items
                .into_iter()
                .map(|item| {
                    serde_json::json!({
                        "apiVersion": t.ar.api_version,
                        "kind": t.ar.kind,
                        "metadata": item.metadata,
                    })
                })
                .collect();
            Ok((items, page.metadata.continue_))
        })
        .await
    }

    async fn delete(&self, r: &ObjectRef) -> Result<bool, KubeError> {
        self.delete_with(r, DeleteParams::background()).await
    }

    async fn delete_at_version(
        &self,
        r: &ObjectRef,
        resource_version: &str,
    ) -> Result<bool, KubeError> {
        let mut dp = DeleteParams::background();
        dp.preconditions = Some(::kube::api::Preconditions {
            resource_version: Some(resource_version.to_string()),
            uid: None,
        });
        self.delete_with(r, dp).await
    }
}

impl KubeCluster {
    async fn delete_with(&self, r: &ObjectRef, dp: DeleteParams) -> Result<bool, KubeError> {
        let object = r.to_string();
        let api = self.api_for(r).await?;
        match retry::run(&self.retry, &object, || api.delete(&r.name, &dp)).await {
            Ok(_) => Ok(true),
            // Also what a retried delete sees when the dropped first try went through.
            Err(KubeError::Api { code: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// One list request's target.
struct ListTarget<'a> {
    /// How errors name the list.
    object: String,
    ar: ApiResource,
    /// `None`: a cluster-scoped kind, or all namespaces.
    namespace: Option<&'a str>,
    label_selector: &'a str,
}

impl ListTarget<'_> {
    /// Follows the continue tokens: `fetch` gets each page's params (at most `limit`
    /// items) and answers the page's items and continue token.
    async fn pages<T, F, Fut>(&self, limit: Option<u32>, mut fetch: F) -> Result<Vec<T>, KubeError>
    where
        F: FnMut(ListParams) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), KubeError>>,
    {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().labels(self.label_selector);
            if let Some(n) = limit {
                lp = lp.limit(n);
            }
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let (items, next) = fetch(lp).await?;
            out.extend(items);
            token = next.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

/// A `PartialObjectMetadataList`, reduced to what `list_metadata` callers read.
#[derive(serde::Deserialize)]
struct MetaList {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<MetaItem>,
}

#[derive(serde::Deserialize, Default)]
struct ListMeta {
    #[serde(default, rename = "continue")]
    continue_: Option<String>,
}

#[derive(serde::Deserialize)]
struct MetaItem {
    metadata: ItemMeta,
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemMeta {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    annotations: std::collections::BTreeMap<String, String>,
}
