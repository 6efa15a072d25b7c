//! Storage for the read commands against the simulator: the `configmaps` driver (round trip,
//! chunking, delete), and `latest` (what `list` uses) answering from one list call without
//! decoding record bodies, falling back to the body only when the head lacks the summary.

mod common;

use common::cluster::{connected, noise, requests_since};
use kube_sim::Simulator;
use serde_json::{json, Value};
use stackpkg::kube::ApplyOptions;
use stackpkg::release::{configmaps, ChartInfo, Driver, Release, SecretsDriver, Status};

fn record(name: &str, revision: u64, status: Status, manifest: String) -> Release {
    Release {
        name: name.into(),
        namespace: "default".into(),
        revision,
        status,
        chart: ChartInfo {
            name: "app".into(),
            version: format!("1.0.{revision}"),
            app_version: (revision % 2 == 0).then(|| "2.0".to_string()),
        },
        values: json!({}),
        computed_values: json!({"a": 1}),
        manifest,
        resources: vec![],
        notes: None,
        first_deployed: "2026-01-01T00:00:00Z".into(),
        last_deployed: format!("2026-01-0{revision}T00:00:00Z"),
        deleted: None,
        description: format!("revision {revision}"),
        hooks: Vec::new(),
        lifecycle: Default::default(),
    }
}

fn of_kind(sim: &Simulator, kind: &str) -> Vec<Value> {
    sim.objects()
        .into_iter()
        .filter(|o| o["kind"] == kind)
        .filter(|o| {
            o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("stackpkg.release."))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmaps_driver_round_trip_chunks_and_delete() {
    let (sim, cluster, _dir) = connected().await;
    let d = configmaps::driver(cluster.clone()).with_chunk_size(64 << 10);
    assert_eq!(d.name(), "configmaps");
    let big = record(
        "big",
        1,
        Status::Deployed,
        noise(300 << 10, 0x2545_F491_4F6C_DD1D),
    );
    d.put(&big).await.unwrap();
    let mut small = record("small", 1, Status::Superseded, "x".into());
    d.put(&small).await.unwrap();
    small.revision = 2;
    small.status = Status::Deployed;
    small.chart.app_version = Some("2.0".into());
    d.put(&small).await.unwrap();

    let cms = of_kind(&sim, "ConfigMap");
    let chunks = cms
        .iter()
        .filter(|c| c["metadata"]["labels"]["owner"] == "stackpkg-chunk")
        .count();
    assert!(chunks >= 3, "{chunks} chunks");
    assert_eq!(cms.len(), chunks + 3);
    assert!(of_kind(&sim, "Secret").is_empty());
    for c in &cms {
        assert!(c.get("data").is_none());
        assert!(c["binaryData"]["release"].is_string());
    }

    assert_eq!(d.get("default", "big", 1).await.unwrap(), big);
    let all = d.list(None).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|r| format!("{}.v{}", r.name, r.revision))
            .collect::<Vec<_>>(),
        ["big.v1", "small.v1", "small.v2"]
    );
    let latest = d.latest(Some("default")).await.unwrap();
    assert_eq!(
        latest
            .iter()
            .map(|s| format!("{}.v{} {}", s.name, s.revision, s.status))
            .collect::<Vec<_>>(),
        ["big.v1 deployed", "small.v2 deployed"]
    );
    assert_eq!(latest[1].chart.app_version.as_deref(), Some("2.0"));

    // The secrets driver does not see ConfigMap records and vice versa.
    let secrets = SecretsDriver::new(cluster.clone());
    assert!(secrets.list(None).await.unwrap().is_empty());

    // A missing chunk is named, with the kind.
    cluster
        .delete(&stackpkg::kube::ObjectRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("default".into()),
            name: "stackpkg.release.v1.big.v1.c1".into(),
        })
        .await
        .unwrap();
    let e = d.history("default", "big").await.unwrap_err().to_string();
    assert_eq!(
        e,
        "release record ConfigMap default/stackpkg.release.v1.big.v1: chunk ConfigMap stackpkg.release.v1.big.v1.c1 is missing"
    );
    d.delete("default", "big", 1).await.unwrap();
    d.delete("default", "small", 1).await.unwrap();
    d.delete("default", "small", 2).await.unwrap();
    assert!(of_kind(&sim, "ConfigMap").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_reads_labels_and_annotations_not_bodies() {
    let (sim, cluster, _dir) = connected().await;
    let d = SecretsDriver::new(cluster.clone());
    for name in ["a", "b"] {
        for rev in 1..=3 {
            let status = if rev == 3 {
                Status::Deployed
            } else {
                Status::Superseded
            };
            d.put(&record(name, rev, status, "m".into())).await.unwrap();
        }
    }
    // Overwrite every body with garbage, keeping labels and annotations: `latest` must not
    // need them, while `history` (which decodes) reports the Secret.
    for o in of_kind(&sim, "Secret") {
        let mut o = o;
        o["data"]["release"] = json!("bm90IGd6aXA=");
        let o = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {
            "name": o["metadata"]["name"], "namespace": "default",
            "labels": o["metadata"]["labels"], "annotations": o["metadata"]["annotations"]},
            "type": o["type"], "data": o["data"]});
        cluster.apply(&o, &ApplyOptions::default()).await.unwrap();
    }
    let before = sim.requests().len();
    let latest = d.latest(Some("default")).await.unwrap();
    assert_eq!(
        requests_since(&sim, before),
        ["list /api/v1/namespaces/default/secrets"]
    );
    assert_eq!(latest.len(), 2);
    let a = &latest[0];
    assert_eq!(
        (a.name.as_str(), a.revision, a.status, a.updated.as_str()),
        ("a", 3, Status::Deployed, "2026-01-03T00:00:00Z")
    );
    assert_eq!(a.chart.version, "1.0.3");
    assert_eq!(a.chart.app_version, None);
    assert_eq!(a.description, "revision 3");
    let e = d.history("default", "a").await.unwrap_err().to_string();
    assert!(
        e.starts_with("release record Secret default/stackpkg.release.v1.a.v1: not gzip data"),
        "{e}"
    );
    // The API server leaves the superseded heads out: the selector asks for the others only.
    let q = &sim.requests()[before].query;
    assert!(
        q.contains("labelSelector=owner%3Dstackpkg%2Cstatus%21%3Dsuperseded"),
        "{q}"
    );
    // All namespaces: still one list call.
    let before = sim.requests().len();
    assert_eq!(d.latest(None).await.unwrap().len(), 2);
    assert_eq!(requests_since(&sim, before), ["list /api/v1/secrets"]);

    // Every superseded revision, from one list call too, and without decoding a body.
    let before = sim.requests().len();
    let old = d.superseded(Some("default")).await.unwrap();
    assert_eq!(
        requests_since(&sim, before),
        ["list /api/v1/namespaces/default/secrets"]
    );
    assert_eq!(
        old.iter()
            .map(|s| format!("{}.v{} {}", s.name, s.revision, s.status))
            .collect::<Vec<_>>(),
        [
            "a.v1 superseded",
            "a.v2 superseded",
            "b.v1 superseded",
            "b.v2 superseded"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_falls_back_to_the_body_and_names_bad_labels() {
    let (sim, cluster, _dir) = connected().await;
    let d = SecretsDriver::new(cluster.clone());
    // A long description stays out of the annotations; list decodes that one record.
    let mut r = record("long", 1, Status::Failed, "m".into());
    r.description = format!("Install failed: {}", "x".repeat(5000));
    d.put(&r).await.unwrap();
    let head = of_kind(&sim, "Secret").remove(0);
    assert!(head["metadata"]["annotations"]
        .get("stackpkg.io/description")
        .is_none());
    assert_eq!(head["metadata"]["annotations"]["stackpkg.io/chart"], "app");
    let latest = d.latest(None).await.unwrap();
    assert_eq!(latest[0].description, r.description);
    assert_eq!(latest[0].status, Status::Failed);

    // A record written without the summary annotations (older stackpkg) is decoded.
    let mut old = head.clone();
    old["metadata"]["annotations"] = json!({});
    old["metadata"]["name"] = json!("stackpkg.release.v1.long.v2");
    old["metadata"]["labels"]["version"] = json!("2");
    let mut r2 = r.clone();
    r2.revision = 2;
    r2.description = "Upgrade complete".into();
    r2.status = Status::Deployed;
    old["data"]["release"] = json!(base64_gzip(&r2));
    let old = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": old["metadata"]["name"], "namespace": "default",
        "labels": old["metadata"]["labels"]}, "type": old["type"], "data": old["data"]});
    cluster.apply(&old, &ApplyOptions::default()).await.unwrap();
    let latest = d.latest(None).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(
        (latest[0].revision, latest[0].description.as_str()),
        (2, "Upgrade complete")
    );

    // A head whose labels disagree with its body, or are not numbers, is named.
    let mut bad = old.clone();
    bad["metadata"]["name"] = json!("stackpkg.release.v1.long.v3");
    bad["metadata"]["labels"]["version"] = json!("3");
    cluster.apply(&bad, &ApplyOptions::default()).await.unwrap();
    let e = d.latest(None).await.unwrap_err().to_string();
    assert_eq!(
        e,
        "release record Secret default/stackpkg.release.v1.long.v3: record is long.v2 but its labels say long.v3"
    );
    bad["metadata"]["labels"]["version"] = json!("three");
    cluster.apply(&bad, &ApplyOptions::default()).await.unwrap();
    let e = d.latest(None).await.unwrap_err().to_string();
    assert_eq!(
        e,
        "release record Secret default/stackpkg.release.v1.long.v3: label version is \"three\", not a revision number"
    );
}

fn base64_gzip(r: &Release) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(stackpkg::release::codec::encode(r))
}
