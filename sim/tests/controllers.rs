//! Simulated controllers: workloads make pods, report status, scale, update and clean up.

mod common;

use common::{eventually, start, start_with};
use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{conditions, wait::await_condition};
use kube_sim::{Config, Timing};
use serde_json::{json, Value};
use std::time::Duration;

fn sts(name: &str, replicas: i32, policy: &str, strategy: Value) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas, "serviceName": name, "podManagementPolicy": policy, "updateStrategy": strategy,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "db", "image": "cassandra:4"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }
    }))
    .unwrap()
}

async fn pod_names(pods: &Api<Pod>, sel: &str) -> Vec<String> {
    let mut v: Vec<String> = pods
        .list(&ListParams::default().labels(sel))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| p.metadata.name.unwrap())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn statefulset_ordered_ready_creates_pods_one_at_a_time() {
    let timing = Timing {
        pod_ready_ms: 150,
        ..Default::default()
    };
    let (_sim, client) = start_with(Config {
        timing,
        ..Default::default()
    })
    .await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    sets.create(
        &PostParams::default(),
        &sts("db", 3, "OrderedReady", json!({"type": "RollingUpdate"})),
    )
    .await
    .unwrap();
    // While db-0 is not ready, db-1 does not exist.
    eventually("db-0", || async { pods.get_opt("db-0").await.unwrap() }).await;
    assert!(pods.get_opt("db-1").await.unwrap().is_none());
    let ready = await_condition(sets.clone(), "db", |s: Option<&StatefulSet>| {
        s.and_then(|s| s.status.as_ref())
            .is_some_and(|st| st.ready_replicas == Some(3))
    });
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pod_names(&pods, "app=db").await, ["db-0", "db-1", "db-2"]);
    let s = sets.get("db").await.unwrap();
    let st = s.status.unwrap();
    assert_eq!(st.observed_generation, Some(1));
    assert_eq!(st.current_revision, st.update_revision);
    // PVCs from the claim templates are bound.
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let bound = eventually("pvcs bound", || async {
        let l = pvcs.list(&ListParams::default()).await.unwrap().items;
        (l.len() == 3
            && l.iter()
                .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")))
        .then_some(l)
    })
    .await;
    assert_eq!(bound[0].metadata.name.as_deref(), Some("data-db-0"));

    // Scale down removes the highest ordinal first.
    sets.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually("scaled to 1", || async {
        (pod_names(&pods, "app=db").await == ["db-0"]).then_some(())
    })
    .await;

    // Rolling update replaces pods with the new revision.
    sets.patch("db", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "db", "image": "cassandra:5"}]}}}}))).await.unwrap();
    let done = await_condition(sets.clone(), "db", |s: Option<&StatefulSet>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|st| {
            st.updated_replicas == Some(2)
                && st.ready_replicas == Some(2)
                && st.current_revision == st.update_revision
        })
    });
    tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .unwrap()
        .unwrap();
    for p in pods
        .list(&ListParams::default().labels("app=db"))
        .await
        .unwrap()
        .items
    {
        assert_eq!(
            p.spec.unwrap().containers[0].image.as_deref(),
            Some("cassandra:5")
        );
    }
}

#[tokio::test]
async fn statefulset_parallel_and_on_delete() {
    let timing = Timing {
        pod_ready_ms: 200,
        ..Default::default()
    };
    let (_sim, client) = start_with(Config {
        timing,
        ..Default::default()
    })
    .await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    sets.create(
        &PostParams::default(),
        &sts("kafka", 3, "Parallel", json!({"type": "OnDelete"})),
    )
    .await
    .unwrap();
    // Parallel: all three exist before any is ready.
    let names = eventually("3 pods", || async {
        let n = pod_names(&pods, "app=kafka").await;
        (n.len() == 3).then_some(n)
    })
    .await;
    assert_eq!(names, ["kafka-0", "kafka-1", "kafka-2"]);
    let ready = await_condition(sets.clone(), "kafka", |s: Option<&StatefulSet>| {
        s.and_then(|s| s.status.as_ref())
            .is_some_and(|st| st.ready_replicas == Some(3))
    });
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .unwrap()
        .unwrap();
    // OnDelete: a template change leaves pods alone until they are deleted.
    sets.patch(
        "kafka",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"template": {"metadata": {"labels": {"app": "kafka", "v": "2"}}}}}),
        ),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = sets.get("kafka").await.unwrap().status.unwrap();
    assert_eq!(s.updated_replicas, Some(0));
    assert_ne!(s.current_revision, s.update_revision);
    pods.delete("kafka-1", &Default::default()).await.unwrap();
    let p = eventually("kafka-1 recreated", || async {
        pods.get_opt("kafka-1")
            .await
            .unwrap()
            .filter(|p| p.metadata.labels.as_ref().unwrap().get("v").is_some())
    })
    .await;
    assert_eq!(p.metadata.labels.unwrap()["v"], "2");
}

#[tokio::test]
async fn jobs_complete_or_fail_by_annotation() {
    let timing = Timing {
        pod_ready_ms: 10,
        job_run_ms: 30,
        ..Default::default()
    };
    let (_sim, client) = start_with(Config {
        timing,
        ..Default::default()
    })
    .await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = |name: &str, fail: bool| -> Job {
        let ann = if fail {
            json!({kube_sim::FAIL_ANNOTATION: "true"})
        } else {
            json!({})
        };
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"backoffLimit": 1, "completions": 2, "template": {"metadata": {"annotations": ann}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
        }))
        .unwrap()
    };
    jobs.create(&PostParams::default(), &job("ok", false))
        .await
        .unwrap();
    jobs.create(&PostParams::default(), &job("bad", true))
        .await
        .unwrap();
    let ok = await_condition(jobs.clone(), "ok", conditions::is_job_completed());
    tokio::time::timeout(Duration::from_secs(10), ok)
        .await
        .unwrap()
        .unwrap();
    let s = jobs.get("ok").await.unwrap().status.unwrap();
    assert_eq!(s.succeeded, Some(2));
    assert!(s.completion_time.is_some());
    let failed = await_condition(jobs.clone(), "bad", |j: Option<&Job>| {
        j.and_then(|j| j.status.as_ref()?.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Failed" && c.status == "True"))
    });
    tokio::time::timeout(Duration::from_secs(10), failed)
        .await
        .unwrap()
        .unwrap();
    let s = jobs.get("bad").await.unwrap().status.unwrap();
    assert_eq!(s.failed, Some(2), "backoffLimit 1 allows two failed pods");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let job_pods = pods
        .list(&ListParams::default().labels("job-name=ok"))
        .await
        .unwrap()
        .items;
    assert!(job_pods
        .iter()
        .all(|p| p.metadata.owner_references.as_ref().unwrap()[0].kind == "Job"));
}

#[tokio::test]
async fn daemonsets_cover_every_node_and_services_get_cluster_ips() {
    let (_sim, client) = start_with(Config {
        nodes: 3,
        ..Default::default()
    })
    .await;
    let dss: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "a"}]}}}
    }))
    .unwrap();
    dss.create(&PostParams::default(), &ds).await.unwrap();
    let ready = await_condition(dss.clone(), "agent", |d: Option<&DaemonSet>| {
        d.and_then(|d| d.status.as_ref())
            .is_some_and(|s| s.number_ready == 3 && s.desired_number_scheduled == 3)
    });
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .unwrap()
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut nodes: Vec<String> = pods
        .list(&ListParams::default().labels("app=agent"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.spec.unwrap().node_name.unwrap())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["sim-node-1", "sim-node-2", "sim-node-3"]);

    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": {"selector": {"app": "agent"}, "ports": [{"port": 80}]}})).unwrap();
    let s = svcs.create(&PostParams::default(), &svc).await.unwrap();
    let ip = s.spec.unwrap().cluster_ip.unwrap();
    assert!(ip.starts_with("10.96."), "{ip}");
}

#[tokio::test]
async fn pods_can_be_kept_unready() {
    let (_sim, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "slow", "annotations": {kube_sim::UNREADY_ANNOTATION: "true"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = await_condition(pods.clone(), "slow", conditions::is_pod_running());
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let conds = pods
        .get("slow")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions
        .unwrap();
    let ready = conds.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "False");
}
