//! Discovery documents (legacy and aggregated), `/version` and OpenAPI v3.

use crate::registry::{Registry, ResourceType};
use serde_json::{json, Map, Value};

pub const AGGREGATED_CT: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Does the Accept header ask for aggregated discovery (v2)?
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let p = part.replace(' ', "");
        p.contains("g=apidiscovery.k8s.io")
            && p.contains("v=v2;")
            && p.contains("as=APIGroupDiscoveryList")
            || p.ends_with("g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    })
}

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "emulationMajor": "1",
        "emulationMinor": "34",
        "gitVersion": "v1.34.0-kube-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// The `all` category, so `kubectl get all` works.
fn in_all(t: &ResourceType) -> bool {
    matches!(
        (t.group.as_str(), t.plural.as_str()),
        ("", "pods")
            | ("", "services")
            | ("apps", "deployments")
            | ("apps", "replicasets")
            | ("apps", "statefulsets")
            | ("apps", "daemonsets")
            | ("batch", "jobs")
            | ("batch", "cronjobs")
            | ("autoscaling", "horizontalpodautoscalers")
    )
}

fn subresources(t: &ResourceType) -> Vec<(&'static str, Vec<&'static str>, Value)> {
    let mut out = Vec::new();
    let same = json!({"group": t.group, "version": t.version, "kind": t.kind});
    if t.status_sub {
        out.push(("status", vec!["get", "patch", "update"], same.clone()));
    }
    if t.scale_sub {
        out.push((
            "scale",
            vec!["get", "patch", "update"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
        ));
    }
    if t.group.is_empty() && t.kind == "Pod" {
        out.push((
            "exec",
            vec!["create", "get"],
            json!({"group": "", "version": "v1", "kind": "PodExecOptions"}),
        ));
        out.push((
            "log",
            vec!["get"],
            json!({"group": "", "version": "v1", "kind": "Pod"}),
        ));
        out.push((
            "eviction",
            vec!["create"],
            json!({"group": "policy", "version": "v1", "kind": "Eviction"}),
        ));
    }
    out
}

/// `APIResourceList` for one group/version.
pub fn resource_list(reg: &Registry, group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut resources = Vec::new();
    for t in reg
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let mut r = json!({
            "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
            "kind": t.kind, "verbs": t.verbs(),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if in_all(t) {
            r["categories"] = json!(["all"]);
        }
        resources.push(r);
        for (sub, verbs, kind) in subresources(t) {
            let mut r = json!({"name": format!("{}/{sub}", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": kind["kind"], "verbs": verbs});
            if kind["group"] != json!(t.group) {
                r["group"] = kind["group"].clone();
                r["version"] = kind["version"].clone();
            }
            resources.push(r);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0].clone()})
}

pub fn api_versions(host: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
}

pub fn group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .iter()
        .map(|(g, vs)| group_doc(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(reg: &Registry, name: &str) -> Option<Value> {
    reg.groups().iter().find(|(g, _)| g == name).map(|(g, vs)| {
        let mut d = group_doc(g, vs);
        d["kind"] = json!("APIGroup");
        d["apiVersion"] = json!("v1");
        d
    })
}

fn aggregated_group(reg: &Registry, name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| {
            let resources: Vec<Value> = reg
                .all()
                .iter()
                .filter(|t| t.group == name && &t.version == v)
                .map(|t| {
                    let subs: Vec<Value> = subresources(t)
                        .into_iter()
                        .map(|(s, verbs, kind)| json!({"subresource": s, "responseKind": kind, "verbs": verbs}))
                        .collect();
                    let mut r = json!({
                        "resource": t.plural,
                        "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
                        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": t.singular,
                        "verbs": t.verbs(),
                    });
                    if !t.short_names.is_empty() {
                        r["shortNames"] = json!(t.short_names);
                    }
                    if !subs.is_empty() {
                        r["subresources"] = json!(subs);
                    }
                    if in_all(t) {
                        r["categories"] = json!(["all"]);
                    }
                    r
                })
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": name}, "versions": vs})
}

/// Aggregated discovery for `/api` (core) or `/apis` (everything else).
pub fn aggregated(reg: &Registry, core: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group(reg, "", &["v1".to_string()])]
    } else {
        reg.groups()
            .iter()
            .map(|(g, vs)| aggregated_group(reg, g, vs))
            .collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per group/version.
pub fn openapi_root(reg: &Registry) -> Value {
    let mut paths = Map::new();
    let mut gvs: Vec<(String, String)> = vec![(String::new(), "v1".into())];
    for (g, vs) in reg.groups() {
        for v in vs {
            gvs.push((g.clone(), v));
        }
    }
    for (g, v) in gvs {
        let p = gv_path(&g, &v);
        let hash = crate::util::short_hash(&openapi_gv(reg, &g, &v).unwrap_or(Value::Null));
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// The OpenAPI v3 document of one group/version. Schemas are open (any fields), but each
/// kind has its GVK extension and PATCH operations that declare `fieldValidation`, which
/// is what clients look for to leave validation to the server. Strategic merge is not
/// advertised, so kubectl falls back to its built-in patch metadata for built-in kinds.
pub fn openapi_gv(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = reg
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut schemas = Map::new();
    let mut paths = Map::new();
    let gvk_ext =
        |t: &ResourceType| json!([{"group": t.group, "version": t.version, "kind": t.kind}]);
    for t in types {
        let prefix = if group.is_empty() {
            "io.k8s.api.core".to_string()
        } else {
            format!("sim.{group}")
        };
        let name = format!("{prefix}.{version}.{}", t.kind);
        schemas.insert(
            name.clone(),
            json!({
                "type": "object",
                "description": format!("{} (kube-sim: open schema)", t.kind),
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                },
                "x-kubernetes-preserve-unknown-fields": true,
                "x-kubernetes-group-version-kind": gvk_ext(t),
            }),
        );
        let ns = if t.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let path = format!("/{}{ns}/{}/{{name}}", gv_path(group, version), t.plural);
        let ref_ = json!({"$ref": format!("#/components/schemas/{name}")});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "force", "in": "query", "schema": {"type": "boolean"}},
        ]);
        let content = |ct: &[&str]| {
            let mut m = Map::new();
            for c in ct {
                m.insert(c.to_string(), json!({"schema": ref_.clone()}));
            }
            Value::Object(m)
        };
        paths.insert(
            path,
            json!({
                "get": {"operationId": format!("read{}", t.kind), "x-kubernetes-action": "get",
                        "x-kubernetes-group-version-kind": gvk_ext(t)[0].clone(),
                        "responses": {"200": {"description": "OK", "content": content(&["application/json"])}}},
                "put": {"operationId": format!("replace{}", t.kind), "x-kubernetes-action": "put",
                        "x-kubernetes-group-version-kind": gvk_ext(t)[0].clone(),
                        "parameters": params.clone(),
                        "requestBody": {"content": content(&["*/*"])},
                        "responses": {"200": {"description": "OK", "content": content(&["application/json"])}}},
                "patch": {"operationId": format!("patch{}", t.kind), "x-kubernetes-action": "patch",
                          "x-kubernetes-group-version-kind": gvk_ext(t)[0].clone(),
                          "parameters": params,
                          "requestBody": {"content": content(&["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"])},
                          "responses": {"200": {"description": "OK", "content": content(&["application/json"])}}},
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (kube-sim)", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_accept_detection() {
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated("application/json"));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        ));
    }

    #[test]
    fn documents_cover_the_served_kinds() {
        let reg = Registry::default();
        let l = resource_list(&reg, "apps", "v1");
        let names: Vec<&str> = l["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"deployments") && names.contains(&"deployments/scale"));
        let agg = aggregated(&reg, false);
        assert!(agg["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["metadata"]["name"] == "batch"));
        let doc = openapi_gv(&reg, "", "v1").unwrap();
        assert!(doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"].is_object());
        assert!(openapi_gv(&reg, "nope", "v1").is_none());
        assert!(openapi_root(&reg)["paths"]["apis/apps/v1"].is_object());
    }
}
