//! Per-kind validation (the 422s) and create-time defaulting.

use crate::registry::ResourceType;
use crate::selectors::structured_matches;
use serde_json::{json, Value};

type Causes = Vec<(String, String)>;

fn required(c: &mut Causes, obj: &Value, path: &str) {
    let mut cur = obj;
    for seg in path.split('.') {
        cur = &cur[seg];
    }
    let missing = match cur {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if missing {
        c.push((path.to_string(), "Required value".into()));
    }
}

fn pod_spec(c: &mut Causes, spec: &Value, prefix: &str) {
    let containers = spec["containers"].as_array();
    match containers {
        None => c.push((format!("{prefix}.containers"), "Required value".into())),
        Some(cs) if cs.is_empty() => {
            c.push((format!("{prefix}.containers"), "Required value".into()))
        }
        Some(cs) => {
            for (i, ct) in cs.iter().enumerate() {
                for f in ["name", "image"] {
                    if ct[f].as_str().is_none_or(str::is_empty) {
                        c.push((
                            format!("{prefix}.containers[{i}].{f}"),
                            "Required value".into(),
                        ));
                    }
                }
            }
        }
    }
}

fn workload(c: &mut Causes, obj: &Value, selector_required: bool) {
    let spec = &obj["spec"];
    if selector_required {
        required(c, obj, "spec.selector");
    }
    required(c, obj, "spec.template");
    if spec["template"].is_object() {
        pod_spec(c, &spec["template"]["spec"], "spec.template.spec");
        if spec["selector"].is_object()
            && !structured_matches(&spec["selector"], &spec["template"]["metadata"]["labels"])
        {
            c.push((
                "spec.template.metadata.labels".into(),
                "Invalid value: `selector` does not match template `labels`".into(),
            ));
        }
    }
    if let Some(r) = spec.get("replicas") {
        if !r.is_null() && r.as_i64().is_none_or(|r| r < 0) {
            c.push((
                "spec.replicas".into(),
                "Invalid value: must be greater than or equal to 0".into(),
            ));
        }
    }
}

/// Field errors for an object about to be stored.
pub fn validate(rt: &ResourceType, obj: &Value) -> Causes {
    let mut c = Causes::new();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        c.push((
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
        ));
    } else if !crate::util::valid_name(name) {
        c.push((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"),
        ));
    }
    for (field, v) in [
        ("metadata.labels", &obj["metadata"]["labels"]),
        ("metadata.annotations", &obj["metadata"]["annotations"]),
    ] {
        if let Some(m) = v.as_object() {
            for (k, val) in m {
                if !val.is_string() {
                    c.push((
                        format!("{field}.{k}"),
                        "Invalid value: must be a string".into(),
                    ));
                }
            }
        } else if !v.is_null() {
            c.push((
                field.into(),
                "Invalid value: must be a map of strings".into(),
            ));
        }
    }
    if rt.crd.is_some() {
        return c;
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => pod_spec(&mut c, &obj["spec"], "spec"),
        ("", "Service") => {
            let t = obj["spec"]["type"].as_str().unwrap_or("ClusterIP");
            let headless = obj["spec"]["clusterIP"] == "None";
            if t != "ExternalName" && !headless {
                required(&mut c, obj, "spec.ports");
            }
            if let Some(ports) = obj["spec"]["ports"].as_array() {
                for (i, p) in ports.iter().enumerate() {
                    if p["port"].as_i64().is_none_or(|p| !(1..=65535).contains(&p)) {
                        c.push((
                            format!("spec.ports[{i}].port"),
                            "Invalid value: must be between 1 and 65535, inclusive".into(),
                        ));
                    }
                }
            }
        }
        ("", "ConfigMap") | ("", "Secret") => {
            for f in ["data", "stringData", "binaryData"] {
                if let Some(m) = obj[f].as_object() {
                    for (k, v) in m {
                        if !v.is_string() {
                            c.push((
                                format!("{f}[{k}]"),
                                "Invalid value: must be a string".into(),
                            ));
                        }
                    }
                }
            }
        }
        ("", "PersistentVolumeClaim") => required(&mut c, obj, "spec.resources.requests.storage"),
        ("apps", "Deployment") | ("apps", "ReplicaSet") | ("apps", "DaemonSet") => {
            workload(&mut c, obj, true)
        }
        ("apps", "StatefulSet") => workload(&mut c, obj, true),
        ("batch", "Job") => workload(&mut c, obj, false),
        ("batch", "CronJob") => {
            required(&mut c, obj, "spec.schedule");
            required(&mut c, obj, "spec.jobTemplate.spec.template");
        }
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            required(&mut c, obj, "roleRef.kind");
            required(&mut c, obj, "roleRef.name");
        }
        ("storage.k8s.io", "StorageClass") => required(&mut c, obj, "provisioner"),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            for f in [
                "spec.group",
                "spec.names.plural",
                "spec.names.kind",
                "spec.scope",
                "spec.versions",
            ] {
                required(&mut c, obj, f);
            }
            let expected = format!(
                "{}.{}",
                obj["spec"]["names"]["plural"].as_str().unwrap_or_default(),
                obj["spec"]["group"].as_str().unwrap_or_default()
            );
            if c.is_empty() && name != expected {
                c.push((
                    "metadata.name".into(),
                    format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
                ));
            }
        }
        _ => {}
    }
    c
}

/// Field errors for a client's update of `cur` into `new`: the fields the real API server
/// refuses to change once an object exists. `new` is compared after create-time defaulting,
/// so an update that merely omits a defaulted field does not count as a change.
pub fn immutable(rt: &ResourceType, cur: &Value, new: &Value) -> Causes {
    let mut c = Causes::new();
    let (old_uid, new_uid) = (&cur["metadata"]["uid"], &new["metadata"]["uid"]);
    if new_uid.as_str().is_some_and(|u| !u.is_empty()) && new_uid != old_uid {
        c.push((
            "metadata.uid".into(),
            format!("Invalid value: {new_uid}: field is immutable"),
        ));
    }
    if rt.crd.is_some() {
        return c;
    }
    let mut new = new.clone();
    let ip = cur["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    default_on_create(rt, &mut new, || ip);
    let (old, spec) = (&cur["spec"], &new["spec"]);
    let changed = |f: &str| old.get(f) != spec.get(f);
    let field_immutable = |c: &mut Causes, f: &str| {
        if changed(f) {
            let v = spec.get(f).cloned().unwrap_or(Value::Null);
            c.push((
                format!("spec.{f}"),
                format!("Invalid value: {v}: field is immutable"),
            ));
        }
    };
    // Spec without the fields a kind allows to change.
    let rest = |allowed: &[&str], v: &Value| -> Value {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.retain(|k, _| !allowed.contains(&k.as_str()));
        Value::Object(m)
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "StatefulSet") => {
            const MUTABLE: &[&str] = &[
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            ];
            if rest(MUTABLE, old) != rest(MUTABLE, spec) {
                c.push(("spec".into(), "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".into()));
            }
        }
        ("apps", "Deployment" | "DaemonSet" | "ReplicaSet") => field_immutable(&mut c, "selector"),
        ("batch", "Job") => {
            field_immutable(&mut c, "selector");
            field_immutable(&mut c, "template");
        }
        ("", "Service") => {
            let was = old["clusterIP"].as_str().unwrap_or_default();
            if !was.is_empty() && changed("clusterIP") {
                field_immutable(&mut c, "clusterIP");
            }
        }
        ("", "PersistentVolumeClaim") => {
            // Binding sets volumeName once; resources (expansion) may change.
            let mut o = rest(&["resources", "volumeAttributesClassName"], old);
            let mut n = rest(&["resources", "volumeAttributesClassName"], spec);
            if o.get("volumeName").is_none() {
                if let Some(m) = n.as_object_mut() {
                    m.remove("volumeName");
                }
            }
            if let Some(m) = o.as_object_mut() {
                if n.get("volumeName").is_none() {
                    m.remove("volumeName");
                }
            }
            if o != n {
                c.push(("spec".into(), "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims".into()));
            }
        }
        _ => {}
    }
    c
}

/// Defaults the API server fills in on create.
pub fn default_on_create(rt: &ResourceType, obj: &mut Value, cluster_ip: impl FnOnce() -> String) {
    if rt.crd.is_some() {
        return;
    }
    let spec = &mut obj["spec"];
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "Pod") => {
            if spec["restartPolicy"].is_null() {
                spec["restartPolicy"] = json!("Always");
            }
            if spec["serviceAccountName"].is_null() {
                spec["serviceAccountName"] = json!("default");
            }
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        ("", "Service") => {
            if spec["type"].is_null() {
                spec["type"] = json!("ClusterIP");
            }
            if spec["type"] != "ExternalName" && spec["clusterIP"].is_null() {
                let ip = cluster_ip();
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            if let Some(ports) = spec["ports"].as_array_mut() {
                for p in ports {
                    if p["protocol"].is_null() {
                        p["protocol"] = json!("TCP");
                    }
                    if p["targetPort"].is_null() {
                        p["targetPort"] = p["port"].clone();
                    }
                }
            }
            if spec["sessionAffinity"].is_null() {
                spec["sessionAffinity"] = json!("None");
            }
            obj["status"] = json!({"loadBalancer": {}});
        }
        ("", "PersistentVolumeClaim") => {
            obj["status"] = json!({"phase": "Pending"});
        }
        ("apps", kind @ ("Deployment" | "StatefulSet" | "ReplicaSet")) => {
            if spec["replicas"].is_null() {
                spec["replicas"] = json!(1);
            }
            if kind == "Deployment" && spec["strategy"].is_null() {
                spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
            }
            if kind == "StatefulSet" {
                if spec["podManagementPolicy"].is_null() {
                    spec["podManagementPolicy"] = json!("OrderedReady");
                }
                if spec["updateStrategy"].is_null() {
                    spec["updateStrategy"] =
                        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
                }
            }
            obj["status"] = json!({});
        }
        ("apps", "DaemonSet") => {
            if spec["updateStrategy"].is_null() {
                spec["updateStrategy"] = json!({"type": "RollingUpdate"});
            }
            obj["status"] = json!({});
        }
        ("batch", "Job") => {
            for (k, v) in [("completions", 1), ("parallelism", 1), ("backoffLimit", 6)] {
                if spec[k].is_null() {
                    spec[k] = json!(v);
                }
            }
            if spec["template"]["spec"]["restartPolicy"].is_null() {
                spec["template"]["spec"]["restartPolicy"] = json!("Never");
            }
            obj["status"] = json!({});
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    #[test]
    fn pod_without_containers_is_invalid() {
        let reg = Registry::default();
        let rt = reg.find("", "v1", "pods").unwrap();
        let c = validate(rt, &json!({"metadata": {"name": "p"}, "spec": {}}));
        assert_eq!(
            c,
            vec![("spec.containers".to_string(), "Required value".to_string())]
        );
        let c = validate(
            rt,
            &json!({"metadata": {"name": "P_"}, "spec": {"containers": [{"name": "c"}]}}),
        );
        assert_eq!(c.len(), 2, "{c:?}");
    }

    #[test]
    fn deployment_selector_must_match_template() {
        let reg = Registry::default();
        let rt = reg.find("apps", "v1", "deployments").unwrap();
        let d = json!({"metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let c = validate(rt, &d);
        assert_eq!(c[0].0, "spec.template.metadata.labels");
    }

    #[test]
    fn immutable_fields() {
        let reg = Registry::default();
        let sts = reg.find("apps", "v1", "statefulsets").unwrap();
        let cur = json!({"metadata": {"uid": "u1"}, "spec": {"replicas": 1, "serviceName": "a",
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "template": {"x": 1}, "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}});
        // Allowed: replicas and template; omitted defaults are not changes.
        let ok = json!({"metadata": {}, "spec": {"replicas": 3, "serviceName": "a",
            "template": {"x": 2}, "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}});
        assert!(immutable(sts, &cur, &ok).is_empty());
        let mut bad = ok.clone();
        bad["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] = json!("other");
        let c = immutable(sts, &cur, &bad);
        assert_eq!(c[0].0, "spec");
        assert!(c[0].1.starts_with("Forbidden: updates to statefulset spec"));
        let mut uid = ok.clone();
        uid["metadata"]["uid"] = json!("u2");
        assert_eq!(immutable(sts, &cur, &uid)[0].0, "metadata.uid");

        let job = reg.find("batch", "v1", "jobs").unwrap();
        let cur = json!({"spec": {"completions": 1, "parallelism": 1, "backoffLimit": 6,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"image": "a"}]}}}});
        let mut new = cur.clone();
        assert!(immutable(job, &cur, &new).is_empty());
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("b");
        assert_eq!(immutable(job, &cur, &new)[0].0, "spec.template");

        let svc = reg.find("", "v1", "services").unwrap();
        let cur = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.0.0.1", "sessionAffinity": "None", "ports": []}});
        let same = json!({"spec": {"ports": []}});
        assert!(
            immutable(svc, &cur, &same).is_empty(),
            "omitted clusterIP keeps it"
        );
        let moved = json!({"spec": {"clusterIP": "10.0.0.2", "ports": []}});
        assert_eq!(immutable(svc, &cur, &moved)[0].0, "spec.clusterIP");

        let pvc = reg.find("", "v1", "persistentvolumeclaims").unwrap();
        let cur = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        let mut grow = cur.clone();
        grow["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        grow["spec"]["volumeName"] = json!("pv-1");
        assert!(
            immutable(pvc, &cur, &grow).is_empty(),
            "expansion and binding allowed"
        );
        let mut modes = cur.clone();
        modes["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert_eq!(immutable(pvc, &cur, &modes)[0].0, "spec");
    }
}
