//! The simulator through the real kube-rs client: object semantics, reads, writes, errors.

mod common;

use common::{eventually, raw, start};
use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::{ApiResource, Discovery};
use kube::runtime::{conditions, wait::await_condition, watcher, WatchStreamExt};
use serde_json::json;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "main", "image": "busybox:1", "ports": [{"containerPort": 80}]}]}}
        }
    }))
    .unwrap()
}

fn api_err(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason),
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn discovery_lists_the_served_kinds() {
    let (_sim, client) = start().await;
    let d = Discovery::new(client.clone()).run().await.unwrap();
    let mut kinds = Vec::new();
    for g in d.groups() {
        for (ar, _) in g.recommended_resources() {
            kinds.push(format!("{}/{}", ar.group, ar.kind));
        }
    }
    for k in [
        "/Pod",
        "/Namespace",
        "/PersistentVolume",
        "/ResourceQuota",
        "/LimitRange",
        "apps/StatefulSet",
        "batch/CronJob",
        "policy/PodDisruptionBudget",
        "rbac.authorization.k8s.io/ClusterRoleBinding",
        "networking.k8s.io/NetworkPolicy",
        "autoscaling/HorizontalPodAutoscaler",
        "storage.k8s.io/StorageClass",
        "coordination.k8s.io/Lease",
        "apiextensions.k8s.io/CustomResourceDefinition",
    ] {
        assert!(kinds.contains(&k.to_string()), "{k} missing from {kinds:?}");
    }
    let v = client.apiserver_version().await.unwrap();
    assert_eq!((v.major.as_str(), v.minor.as_str()), ("1", "34"));
    let (code, body) = raw(
        &client,
        "GET",
        "/apis/nope.example/v1/things",
        "application/json",
        "",
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (404, Some("NotFound")));
}

#[tokio::test]
async fn object_metadata_and_error_statuses() {
    let (_sim, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let a = cms
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let md = &a.metadata;
    assert!(md.uid.is_some() && md.creation_timestamp.is_some());
    let rv1: u64 = md.resource_version.as_ref().unwrap().parse().unwrap();
    assert_eq!(
        api_err(
            cms.create(&PostParams::default(), &cm("a", json!({})))
                .await
                .unwrap_err()
        ),
        (409, "AlreadyExists".into())
    );
    assert_eq!(
        api_err(cms.get("missing").await.unwrap_err()),
        (404, "NotFound".into())
    );

    let mut stale = a.clone();
    stale.metadata.resource_version = Some("1".into());
    assert_eq!(
        api_err(
            cms.replace("a", &PostParams::default(), &stale)
                .await
                .unwrap_err()
        ),
        (409, "Conflict".into())
    );
    let mut fresh = a.clone();
    fresh.data = Some([("k".to_string(), "w".to_string())].into());
    let b = cms
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let rv2: u64 = b.metadata.resource_version.unwrap().parse().unwrap();
    assert!(rv2 > rv1, "resourceVersion is monotonic");

    // 422 for a pod without containers, naming the field.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let bad: Pod =
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}))
            .unwrap();
    match pods.create(&PostParams::default(), &bad).await.unwrap_err() {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
            assert!(s.message.contains("spec.containers"), "{}", s.message);
        }
        e => panic!("{e}"),
    }
    // Missing namespace: NotFound on the namespace (as the real server answers).
    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "nowhere");
    assert_eq!(
        api_err(
            elsewhere
                .create(&PostParams::default(), &cm("x", json!({})))
                .await
                .unwrap_err()
        ),
        (404, "NotFound".into())
    );

    // Generation moves with spec changes only.
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d = deps
        .create(&PostParams::default(), &deployment("g", 1))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    let d = deps
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    let d = deps
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(2));

    // Garbage bodies and parameters: clear 400s.
    let (code, body) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        "{not json",
    )
    .await;
    assert_eq!(code, 400);
    assert!(body["message"].as_str().unwrap().contains("JSON"), "{body}");
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/pods?labelSelector=a%20in%20b",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/pods?continue=%%%",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/pods?limit=-3",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = raw(
        &client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        "application/xml",
        "<x/>",
    )
    .await;
    assert_eq!(code, 415);
}

#[tokio::test]
async fn terminating_namespace_refuses_new_content() {
    let (_sim, client) = start().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "t"}})).unwrap(),
    )
    .await
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "t");
    let held: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &held).await.unwrap();
    nss.delete("t", &DeleteParams::default()).await.unwrap();
    let ns = nss.get("t").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    assert_eq!(
        api_err(
            cms.create(&PostParams::default(), &cm("new", json!({})))
                .await
                .unwrap_err()
        ),
        (403, "Forbidden".into())
    );
    // Releasing the finalizer lets the namespace go.
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually("namespace gone", || async {
        nss.get_opt("t").await.unwrap().is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn selectors_and_pagination() {
    let (_sim, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..7 {
        let tier = if i % 2 == 0 { "front" } else { "back" };
        cms.create(
            &PostParams::default(),
            &cm(&format!("c{i}"), json!({"tier": tier, "i": i.to_string()})),
        )
        .await
        .unwrap();
    }
    let names = |l: kube::core::ObjectList<ConfigMap>| {
        l.items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            cms.list(&ListParams::default().labels("tier=front"))
                .await
                .unwrap()
        ),
        ["c0", "c2", "c4", "c6"]
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().labels("tier!=front,tier"))
                .await
                .unwrap()
        ),
        ["c1", "c3", "c5"]
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().labels("i in (1,2)"))
                .await
                .unwrap()
        ),
        ["c1", "c2"]
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().labels("i notin (1,2),tier=back"))
                .await
                .unwrap()
        ),
        ["c3", "c5"]
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().labels("!tier"))
                .await
                .unwrap()
        )
        .len(),
        0
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().fields("metadata.name=c3"))
                .await
                .unwrap()
        ),
        ["c3"]
    );
    let all: Api<ConfigMap> = Api::all(client.clone());
    assert_eq!(
        names(
            all.list(&ListParams::default().fields("metadata.namespace=default"))
                .await
                .unwrap()
        )
        .len(),
        7
    );
    // Pages of 3: 3 + 3 + 1, continue tokens chained.
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(3);
    loop {
        let page = cms.list(&lp).await.unwrap();
        let next = page.metadata.continue_.clone();
        seen.push(page.items.len());
        match next.filter(|c| !c.is_empty()) {
            Some(c) => lp = lp.continue_token(&c),
            None => break,
        }
    }
    assert_eq!(seen, [3, 3, 1]);
}

/// `as=PartialObjectMetadataList`: the real server's shape, metadata only, for lists and
/// single reads, through kube-rs's metadata calls and raw HTTP.
#[tokio::test]
async fn metadata_only_lists_and_gets() {
    let (_sim, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..4 {
        let tier = if i % 2 == 0 { "front" } else { "back" };
        cms.create(
            &PostParams::default(),
            &cm(&format!("m{i}"), json!({"tier": tier})),
        )
        .await
        .unwrap();
    }
    let req = http::Request::builder()
        .uri("/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dfront")
        .header(
            "accept",
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
        )
        .body(Vec::new())
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    use http_body_util::BodyExt;
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["kind"], "PartialObjectMetadataList");
    assert_eq!(v["apiVersion"], "meta.k8s.io/v1");
    assert!(v["metadata"]["resourceVersion"].is_string());
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for (item, name) in items.iter().zip(["m0", "m2"]) {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        // No `data`: bodies never cross the wire.
        assert_eq!(keys, ["apiVersion", "kind", "metadata"], "{item}");
        assert_eq!(item["kind"], "PartialObjectMetadata");
        assert_eq!(item["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(item["metadata"]["name"], name);
        assert_eq!(item["metadata"]["namespace"], "default");
        assert_eq!(item["metadata"]["labels"]["tier"], "front");
        assert!(item["metadata"]["uid"].is_string());
    }
    // kube-rs's typed metadata calls read it.
    let listed = cms
        .list_metadata(&ListParams::default().labels("tier=back"))
        .await
        .unwrap();
    let names: Vec<_> = listed
        .items
        .iter()
        .map(|m| m.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["m1", "m3"]);
    let one = cms.get_metadata("m1").await.unwrap();
    assert_eq!(one.metadata.labels.unwrap()["tier"], "back");
    // Without the Accept parameter, a list is still the full kind list.
    let full = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(full.items[0].data.as_ref().unwrap()["k"], "v");
}

/// Pages follow the last key served: with a label selector, across namespaces, and with
/// objects created and deleted between pages, nothing is skipped or served twice.
#[tokio::test]
async fn paging_follows_keys_across_namespaces_and_writes() {
    let (_sim, client) = start().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "other"}})).unwrap(),
    )
    .await
    .unwrap();
    for ns in ["default", "other"] {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        for i in 0..5 {
            let sel = if i % 2 == 0 { "yes" } else { "no" };
            cms.create(
                &PostParams::default(),
                &cm(&format!("p{i}"), json!({"sel": sel})),
            )
            .await
            .unwrap();
        }
    }
    let all: Api<ConfigMap> = Api::all(client.clone());
    let key = |m: &kube::core::ObjectMeta| {
        format!(
            "{}/{}",
            m.namespace.clone().unwrap(),
            m.name.clone().unwrap()
        )
    };
    // Selected items of both namespaces, two per page: 2 + 2 + 2, in key order.
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut lp = ListParams::default().labels("sel=yes").limit(2);
    loop {
        let page = all.list_metadata(&lp).await.unwrap();
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|m| key(&m.metadata)));
        if let Some(c) = page.metadata.remaining_item_count {
            assert!(c > 0);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => lp = lp.continue_token(&c),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 2]);
    assert_eq!(
        seen,
        [
            "default/p0",
            "default/p2",
            "default/p4",
            "other/p0",
            "other/p2",
            "other/p4"
        ]
    );

    // Writes between pages: a deleted, already served item and a new one before the
    // cursor shift nothing; a new one after the cursor is served.
    let def: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let first = all.list(&ListParams::default().limit(3)).await.unwrap();
    let served: Vec<_> = first.items.iter().map(|c| key(&c.metadata)).collect();
    assert_eq!(served, ["default/p0", "default/p1", "default/p2"]);
    def.delete("p0", &DeleteParams::default()).await.unwrap();
    def.create(&PostParams::default(), &cm("a0", json!({})))
        .await
        .unwrap();
    def.create(&PostParams::default(), &cm("p5", json!({})))
        .await
        .unwrap();
    let token = first.metadata.continue_.unwrap();
    let rest = all
        .list(&ListParams::default().continue_token(&token))
        .await
        .unwrap();
    assert!(rest.metadata.continue_.is_none_or(|c| c.is_empty()));
    let rest: Vec<_> = rest.items.iter().map(|c| key(&c.metadata)).collect();
    assert_eq!(
        rest,
        [
            "default/p3",
            "default/p4",
            "default/p5",
            "other/p0",
            "other/p1",
            "other/p2",
            "other/p3",
            "other/p4"
        ]
    );
}

#[tokio::test]
async fn watch_streams_changes_and_await_condition_works() {
    let (_sim, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let stream = watcher(cms.clone(), watcher::Config::default().labels("w=1")).applied_objects();
    let collector = tokio::spawn(async move {
        let mut s = std::pin::pin!(stream);
        let mut names = Vec::new();
        while let Some(o) = s.try_next().await.unwrap() {
            names.push(o.metadata.name.unwrap());
            if names.len() == 2 {
                break;
            }
        }
        names
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    cms.create(&PostParams::default(), &cm("x", json!({"w": "0"})))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("y", json!({"w": "1"})))
        .await
        .unwrap();
    cms.patch(
        "y",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .unwrap();
    let names = tokio::time::timeout(std::time::Duration::from_secs(5), collector)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names, ["y", "y"]);

    // Raw watch from an old resourceVersion replays history; a compacted one is 410.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = await_condition(pods.clone(), "p", conditions::is_pod_running());
    tokio::time::timeout(std::time::Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    let wp = kube::api::WatchParams::default().timeout(1);
    let events: Vec<_> = pods
        .watch(&wp, "1000")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(events.len() >= 2, "replayed ADDED and MODIFIED: {events:?}");
}

#[tokio::test]
async fn server_side_apply_owns_fields_and_reports_conflicts() {
    let (sim, client) = start().await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut d = serde_json::to_value(deployment("ssa", 1)).unwrap();
    d["apiVersion"] = json!("apps/v1");
    d["kind"] = json!("Deployment");
    let created = deps
        .patch("ssa", &PatchParams::apply("alpha"), &Patch::Apply(&d))
        .await
        .unwrap();
    let mf = created.metadata.managed_fields.unwrap();
    assert_eq!(mf[0].manager.as_deref(), Some("alpha"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    d["spec"]["replicas"] = json!(4);
    match deps
        .patch("ssa", &PatchParams::apply("beta"), &Patch::Apply(&d))
        .await
        .unwrap_err()
    {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message.contains(".spec.replicas") && s.message.contains("alpha"),
                "{}",
                s.message
            );
        }
        e => panic!("{e}"),
    }
    let forced = deps
        .patch(
            "ssa",
            &PatchParams::apply("beta").force(),
            &Patch::Apply(&d),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().replicas, Some(4));
    // Dry run changes nothing.
    let mut pp = PatchParams::apply("beta").force();
    pp.dry_run = true;
    d["spec"]["replicas"] = json!(9);
    let dry = deps.patch("ssa", &pp, &Patch::Apply(&d)).await.unwrap();
    assert_eq!(dry.spec.unwrap().replicas, Some(9));
    assert_eq!(
        deps.get("ssa").await.unwrap().spec.unwrap().replicas,
        Some(4)
    );
    // Apply without a field manager is a 400.
    let (code, _) = raw(
        &client,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/ssa",
        "application/apply-patch+yaml",
        "{}",
    )
    .await;
    assert_eq!(code, 400);
    assert!(sim.objects().iter().any(|o| o["metadata"]["name"] == "ssa"));
}

#[tokio::test]
async fn merge_strategic_and_json_patches() {
    let (_sim, client) = start().await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deps.create(&PostParams::default(), &deployment("p", 1))
        .await
        .unwrap();
    let smp = json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "side:1"}, {"name": "main", "env": [{"name": "A", "value": "1"}]}]}}}});
    let d = deps
        .patch("p", &PatchParams::default(), &Patch::Strategic(smp))
        .await
        .unwrap();
    let cs = d.spec.unwrap().template.spec.unwrap().containers;
    assert_eq!(cs.len(), 2, "strategic merge keeps both containers");
    let main = cs.iter().find(|c| c.name == "main").unwrap();
    assert_eq!(main.image.as_deref(), Some("busybox:1"));
    assert_eq!(main.env.as_ref().unwrap()[0].name, "A");
    let jp: json_patch_types::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]))
            .unwrap();
    let d = deps
        .patch("p", &PatchParams::default(), &Patch::<()>::Json(jp))
        .await
        .unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(3));
    let d = deps
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"m": "1"}}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.labels.unwrap()["m"], "1");
    // A JSON patch that fails its test is a 422 and changes nothing.
    let jp: json_patch_types::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/replicas", "value": 7}]))
            .unwrap();
    assert_eq!(
        api_err(
            deps.patch("p", &PatchParams::default(), &Patch::<()>::Json(jp))
                .await
                .unwrap_err()
        )
        .0,
        422
    );
    // Dry-run create stores nothing.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(
        &PostParams {
            dry_run: true,
            field_manager: None,
        },
        &cm("dry", json!({})),
    )
    .await
    .unwrap();
    assert!(cms.get_opt("dry").await.unwrap().is_none());
    cms.create(&PostParams::default(), &cm("dd", json!({})))
        .await
        .unwrap();
    let dp = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    cms.delete("dd", &dp).await.unwrap();
    assert!(cms.get_opt("dd").await.unwrap().is_some());
}

mod json_patch_types {
    pub use json_patch::Patch;
}

#[tokio::test]
async fn deletion_propagation_and_finalizers() {
    let (_sim, client) = start().await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let rss: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod_count = |sel: &'static str| {
        let pods = pods.clone();
        async move {
            pods.list(&ListParams::default().labels(sel))
                .await
                .unwrap()
                .items
                .len()
        }
    };
    // Background: the owner goes at once; the garbage collector takes the rest.
    deps.create(&PostParams::default(), &deployment("bg", 2))
        .await
        .unwrap();
    eventually("bg pods", || async {
        (pod_count("app=bg").await == 2).then_some(())
    })
    .await;
    deps.delete("bg", &DeleteParams::background())
        .await
        .unwrap();
    eventually("bg pods collected", || async {
        (pod_count("app=bg").await == 0).then_some(())
    })
    .await;

    // Orphan: dependents stay, without the owner reference.
    deps.create(&PostParams::default(), &deployment("or", 1))
        .await
        .unwrap();
    eventually("or pods", || async {
        (pod_count("app=or").await == 1).then_some(())
    })
    .await;
    deps.delete("or", &DeleteParams::orphan()).await.unwrap();
    eventually("owner gone", || async {
        deps.get_opt("or").await.unwrap().is_none().then_some(())
    })
    .await;
    let rs = rss
        .list(&ListParams::default().labels("app=or"))
        .await
        .unwrap()
        .items;
    assert_eq!(rs.len(), 1);
    assert!(rs[0]
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(|r| r.is_empty()));

    // Foreground: the owner waits (deletionTimestamp + finalizer) until dependents are gone.
    deps.create(&PostParams::default(), &deployment("fg", 1))
        .await
        .unwrap();
    eventually("fg pods", || async {
        (pod_count("app=fg").await == 1).then_some(())
    })
    .await;
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..Default::default()
    };
    deps.delete("fg", &dp).await.unwrap();
    eventually("fg gone", || async {
        deps.get_opt("fg").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(pod_count("app=fg").await, 0);

    // Finalizers hold deletion; deletionTimestamp is set meanwhile.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let held: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "h", "finalizers": ["example.com/x"]}}))
            .unwrap();
    cms.create(&PostParams::default(), &held).await.unwrap();
    cms.delete("h", &DeleteParams::default()).await.unwrap();
    assert!(cms
        .get("h")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_some());
    cms.patch(
        "h",
        &PatchParams::default(),
        &Patch::Json::<()>(
            serde_json::from_value(json!([{"op": "remove", "path": "/metadata/finalizers"}]))
                .unwrap(),
        ),
    )
    .await
    .unwrap();
    assert!(cms.get_opt("h").await.unwrap().is_none());
}

#[tokio::test]
async fn crds_become_served_resources() {
    let (_sim, client) = start().await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    for (scope, plural, kind) in [
        ("Namespaced", "widgets", "Widget"),
        ("Cluster", "gadgets", "Gadget"),
    ] {
        let crd = serde_json::from_value(json!({
            "metadata": {"name": format!("{plural}.example.com")},
            "spec": {"group": "example.com", "scope": scope,
                     "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind},
                     "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
        }))
        .unwrap();
        crds.create(&PostParams::default(), &crd).await.unwrap();
        let crd_name = format!("{plural}.example.com");
        let est = await_condition(crds.clone(), &crd_name, conditions::is_crd_established());
        tokio::time::timeout(std::time::Duration::from_secs(5), est)
            .await
            .unwrap()
            .unwrap();
    }
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "widgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let w: DynamicObject = serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}})).unwrap();
    widgets.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(widgets.get("w1").await.unwrap().data["spec"]["size"], 3);
    let gar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Gadget"),
        "gadgets",
    );
    let gadgets: Api<DynamicObject> = Api::all_with(client.clone(), &gar);
    let g: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"}}),
    )
    .unwrap();
    gadgets.create(&PostParams::default(), &g).await.unwrap();
    // Discovery sees both; deleting the CRD removes the resource and its objects.
    let d = Discovery::new(client.clone()).run().await.unwrap();
    assert!(d.groups().any(|g| g.name() == "example.com"));
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    let (code, _) = raw(
        &client,
        "GET",
        "/apis/example.com/v1/namespaces/default/widgets/w1",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn immutable_fields_are_refused_like_the_api_server() {
    let (_sim, client) = start().await;
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apps", "v1", "StatefulSet"),
        "statefulsets",
    );
    let sts: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let mut s = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "db:1"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
    let pp = PatchParams::apply("t");
    // A uid no object has: created with a fresh one.
    s["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
    let made = sts.patch("db", &pp, &Patch::Apply(&s)).await.unwrap();
    assert_ne!(
        made.metadata.uid.as_deref(),
        Some("00000000-0000-0000-0000-000000000000")
    );
    // …and refused once the object exists.
    match sts.patch("db", &pp, &Patch::Apply(&s)).await.unwrap_err() {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 422);
            assert!(e.message.contains("metadata.uid"), "{}", e.message);
        }
        e => panic!("{e}"),
    }
    s["metadata"].as_object_mut().unwrap().remove("uid");
    // Mutable: replicas and template.
    s["spec"]["replicas"] = json!(3);
    s["spec"]["template"]["spec"]["containers"][0]["image"] = json!("db:2");
    sts.patch("db", &pp, &Patch::Apply(&s)).await.unwrap();
    // Immutable: claim templates, service name.
    s["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    match sts.patch("db", &pp, &Patch::Apply(&s)).await.unwrap_err() {
        kube::Error::Api(e) => {
            assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
            assert!(
                e.message.contains("\"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than"),
                "{}",
                e.message
            );
            let causes = e.details.unwrap().causes;
            assert_eq!(causes[0].field, "spec");
            assert_eq!(causes[0].reason, "FieldValueForbidden");
        }
        e => panic!("{e}"),
    }
    // A Job's template, through a JSON merge patch.
    let jr =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("batch", "v1", "Job"), "jobs");
    let jobs: Api<DynamicObject> = Api::namespaced_with(client, "default", &jr);
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "t", "image": "t:1"}]}}}});
    jobs.patch("j", &pp, &Patch::Apply(&job)).await.unwrap();
    let change =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "t", "image": "t:2"}]}}}});
    match jobs
        .patch("j", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .unwrap_err()
    {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 422);
            assert_eq!(e.details.unwrap().causes[0].field, "spec.template");
        }
        e => panic!("{e}"),
    }
}
