//! The served resource types: built-in kinds plus CRD-defined kinds registered at runtime.

use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One served resource (a group/version/plural triple).
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Has a `/status` subresource whose writes are kept apart from spec writes.
    pub status_sub: bool,
    /// Has a `/scale` subresource.
    pub scale_sub: bool,
    /// Objects of this kind carry `metadata.generation`, bumped on spec changes.
    pub has_generation: bool,
    /// Defined by a CustomResourceDefinition (uid of the CRD).
    pub crd: Option<String>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource name used in messages, e.g. `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

// (group, version, kind, plural, namespaced, short names, status, scale, generation)
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
    bool,
    bool,
);

const BUILTINS: &[Builtin] = &[
    (
        "",
        "v1",
        "Namespace",
        "namespaces",
        false,
        &["ns"],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Node",
        "nodes",
        false,
        &["no"],
        true,
        false,
        false,
    ),
    ("", "v1", "Pod", "pods", true, &["po"], true, false, true),
    (
        "",
        "v1",
        "Service",
        "services",
        true,
        &["svc"],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Endpoints",
        "endpoints",
        true,
        &["ep"],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        true,
        &["cm"],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Secret",
        "secrets",
        true,
        &[],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        false,
        false,
        false,
    ),
    (
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
        true,
        false,
        false,
    ),
    (
        "",
        "v1",
        "LimitRange",
        "limitranges",
        true,
        &["limits"],
        false,
        false,
        false,
    ),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        true,
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        true,
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
        true,
        false,
        true,
    ),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        true,
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
        false,
        false,
        false,
    ),
    ("batch", "v1", "Job", "jobs", true, &[], true, false, true),
    (
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        true,
        &["cj"],
        true,
        false,
        true,
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
        true,
        false,
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
        false,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
        false,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
        false,
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
        false,
        false,
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
        true,
        false,
        true,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
        false,
        false,
        true,
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        true,
        false,
        false,
    ),
    (
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        true,
        false,
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        &["sc"],
        false,
        false,
        false,
    ),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        &[],
        false,
        false,
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        true,
        false,
        true,
    ),
];

/// All served types; CRD kinds are added and removed as their definitions come and go.
#[derive(Clone, Debug)]
pub struct Registry {
    types: Vec<ResourceType>,
}

impl Default for Registry {
    fn default() -> Self {
        let types = BUILTINS
            .iter()
            .map(|b| ResourceType {
                group: b.0.into(),
                version: b.1.into(),
                kind: b.2.into(),
                plural: b.3.into(),
                singular: b.2.to_lowercase(),
                namespaced: b.4,
                short_names: b.5.iter().map(|s| s.to_string()).collect(),
                status_sub: b.6,
                scale_sub: b.7,
                has_generation: b.8,
                crd: None,
            })
            .collect();
        Registry { types }
    }
}

impl Registry {
    pub fn all(&self) -> &[ResourceType] {
        &self.types
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// Any version of a group/plural (objects are stored once per group/plural).
    pub fn by_group_plural(&self, group: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
    }

    pub fn has_version(&self, group: &str, version: &str) -> bool {
        self.types
            .iter()
            .any(|t| t.group == group && t.version == version)
    }

    /// Groups in a stable order: built-in order first, then CRD groups by name.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.types {
            if t.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) => {
                    if !vs.contains(&t.version) {
                        vs.push(t.version.clone())
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        out
    }

    /// Registers the kinds a CRD defines; replaces earlier registrations of the same CRD.
    pub fn register_crd(&mut self, crd: &Value) -> Result<(), String> {
        let uid = crd["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let spec = &crd["spec"];
        let group = spec["group"].as_str().ok_or("spec.group: Required value")?;
        let names = &spec["names"];
        let plural = names["plural"]
            .as_str()
            .ok_or("spec.names.plural: Required value")?;
        let kind = names["kind"]
            .as_str()
            .ok_or("spec.names.kind: Required value")?;
        let singular = names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_lowercase());
        let namespaced = match spec["scope"].as_str() {
            Some("Namespaced") => true,
            Some("Cluster") => false,
            _ => return Err("spec.scope: Unsupported value: must be Namespaced or Cluster".into()),
        };
        let versions = spec["versions"]
            .as_array()
            .filter(|v| !v.is_empty())
            .ok_or("spec.versions: Required value")?;
        let short_names: Vec<String> = names["shortNames"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        self.types
            .retain(|t| t.crd.as_deref() != Some(uid.as_str()));
        for v in versions {
            if v["served"] == json!(false) {
                continue;
            }
            let version = v["name"]
                .as_str()
                .ok_or("spec.versions[].name: Required value")?;
            self.types.push(ResourceType {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: singular.clone(),
                namespaced,
                short_names: short_names.clone(),
                status_sub: v["subresources"]["status"].is_object(),
                scale_sub: v["subresources"]["scale"].is_object(),
                has_generation: true,
                crd: Some(uid.clone()),
            });
        }
        Ok(())
    }

    pub fn unregister_crd(&mut self, uid: &str) {
        self.types.retain(|t| t.crd.as_deref() != Some(uid));
    }

    /// Core groups' kinds keyed by kind for quick lookups in tests.
    pub fn kinds(&self) -> BTreeMap<String, String> {
        self.types
            .iter()
            .map(|t| (t.kind.clone(), t.api_version()))
            .collect()
    }
}
