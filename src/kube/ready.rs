//! When an object counts as ready: rollouts complete, Jobs complete, PVCs bound, Pods ready,
//! LoadBalancer Services with an ingress. Everything else is ready once it exists.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet; the reason names what is missing.
    Pending(String),
    /// Will never become ready (a failed Job).
    Failed(String),
}

fn int(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn condition<'a>(obj: &'a Value, ty: &str) -> Option<&'a str> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))?
        .get("status")?
        .as_str()
}

/// Desired replicas: `spec.replicas`, 1 when unset (the API default).
fn desired(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn observed(obj: &Value) -> bool {
    int(obj, "/status/observedGeneration") >= int(obj, "/metadata/generation")
}

pub fn readiness(obj: &Value) -> Readiness {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "Deployment" | "StatefulSet" => {
            let want = desired(obj);
            let ready = int(obj, "/status/readyReplicas");
            let updated = int(obj, "/status/updatedReplicas");
            if !observed(obj) {
                Readiness::Pending("the controller has not seen the latest spec".into())
            } else if updated < want || ready < want {
                Readiness::Pending(format!(
                    "{ready} of {want} replicas ready, {updated} updated"
                ))
            } else {
                Readiness::Ready
            }
        }
        "DaemonSet" => {
            let want = int(obj, "/status/desiredNumberScheduled");
            let ready = int(obj, "/status/numberReady");
            let updated = int(obj, "/status/updatedNumberScheduled");
            if !observed(obj) {
                Readiness::Pending("the controller has not seen the latest spec".into())
            } else if ready < want || updated < want {
                Readiness::Pending(format!("{ready} of {want} pods ready, {updated} updated"))
            } else {
                Readiness::Ready
            }
        }
        "Job" => {
            if condition(obj, "Failed") == Some("True") {
                Readiness::Failed("the Job failed".into())
            } else if condition(obj, "Complete") == Some("True") {
                Readiness::Ready
            } else {
                Readiness::Pending("the Job has not completed".into())
            }
        }
        "PersistentVolumeClaim" => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Bound") => Readiness::Ready,
            other => Readiness::Pending(format!("phase {}", other.unwrap_or("unknown"))),
        },
        "Pod" => {
            if obj.pointer("/status/phase").and_then(Value::as_str) == Some("Failed") {
                Readiness::Failed("the Pod failed".into())
            } else if condition(obj, "Ready") == Some("True") {
                Readiness::Ready
            } else {
                Readiness::Pending("the Pod is not ready".into())
            }
        }
        "Service" => {
            let lb = obj.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer");
            let has_ingress = obj
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if lb && !has_ingress {
                Readiness::Pending("no load balancer ingress assigned".into())
            } else {
                Readiness::Ready
            }
        }
        "CustomResourceDefinition" => {
            if condition(obj, "Established") == Some("True") {
                Readiness::Ready
            } else {
                Readiness::Pending("not Established".into())
            }
        }
        _ => Readiness::Ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rollout() {
        let mut d = json!({"kind": "Deployment", "metadata": {"generation": 2},
            "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3}});
        assert!(matches!(readiness(&d), Readiness::Pending(r) if r.contains("latest spec")));
        d["status"]["observedGeneration"] = json!(2);
        d["status"]["readyReplicas"] = json!(2);
        assert_eq!(
            readiness(&d),
            Readiness::Pending("2 of 3 replicas ready, 3 updated".into())
        );
        d["status"]["readyReplicas"] = json!(3);
        assert_eq!(readiness(&d), Readiness::Ready);
    }

    #[test]
    fn statefulset_defaults_to_one_replica() {
        let s = json!({"kind": "StatefulSet", "metadata": {}, "status": {}});
        assert!(matches!(readiness(&s), Readiness::Pending(_)));
        let s = json!({"kind": "StatefulSet", "metadata": {},
            "status": {"readyReplicas": 1, "updatedReplicas": 1}});
        assert_eq!(readiness(&s), Readiness::Ready);
    }

    #[test]
    fn job_pvc_pod_service_crd() {
        let failed = json!({"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True"}]}});
        assert!(matches!(readiness(&failed), Readiness::Failed(_)));
        let done = json!({"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(readiness(&done), Readiness::Ready);
        let pvc = json!({"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}});
        assert_eq!(readiness(&pvc), Readiness::Pending("phase Pending".into()));
        let pod = json!({"kind": "Pod", "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert!(matches!(readiness(&pod), Readiness::Pending(_)));
        let lb = json!({"kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {}});
        assert!(matches!(readiness(&lb), Readiness::Pending(_)));
        let svc = json!({"kind": "Service", "spec": {"type": "ClusterIP"}});
        assert_eq!(readiness(&svc), Readiness::Ready);
        let crd = json!({"kind": "CustomResourceDefinition", "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(readiness(&crd), Readiness::Ready);
        assert_eq!(readiness(&json!({"kind": "ConfigMap"})), Readiness::Ready);
    }
}
