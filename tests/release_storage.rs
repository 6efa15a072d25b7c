//! The secrets driver against the simulator: records over 3 MiB split across chunk Secrets
//! and read back; corrupt Secrets reported by name.

mod common;

use common::cluster::{connected, noise};
use kube_sim::Simulator;
use serde_json::{json, Value};
use stackpkg::kube::{ApplyOptions, ObjectRef};
use stackpkg::release::{ChartInfo, Driver, Release, SecretsDriver, Status};

fn record(name: &str, revision: u64, manifest: String) -> Release {
    Release {
        name: name.into(),
        namespace: "default".into(),
        revision,
        status: Status::Deployed,
        chart: ChartInfo {
            name: "big".into(),
            version: "1.0.0".into(),
            app_version: None,
        },
        values: json!({}),
        computed_values: json!({"a": 1}),
        manifest,
        resources: vec![],
        notes: None,
        first_deployed: "2026-01-01T00:00:00Z".into(),
        last_deployed: "2026-01-01T00:00:00Z".into(),
        deleted: None,
        description: "Install complete".into(),
        hooks: Vec::new(),
        lifecycle: Default::default(),
    }
}

fn secrets(sim: &Simulator) -> Vec<Value> {
    sim.objects()
        .into_iter()
        .filter(|o| o["kind"] == "Secret")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_over_3_mib_is_chunked_and_read_back() {
    let (sim, cluster, _dir) = connected().await;
    let driver = SecretsDriver::new(cluster.clone());
    let big = record("big", 1, noise(5 << 20, 0x9E37_79B9_7F4A_7C15));
    assert!(stackpkg::release::codec::encode(&big).len() > 3 << 20);
    driver.put(&big).await.unwrap();
    driver.put(&record("small", 1, "x".into())).await.unwrap();

    let all = secrets(&sim);
    let chunks: Vec<&Value> = all
        .iter()
        .filter(|s| s["type"] == "stackpkg.io/release.v1.chunk")
        .collect();
    assert!(chunks.len() >= 4, "{} chunk Secrets", chunks.len());
    for s in &all {
        let data = s["data"]["release"].as_str().unwrap_or("");
        // base64 length * 3/4 = raw bytes; every Secret stays under the 1 MiB limit.
        assert!(
            data.len() / 4 * 3 < 1 << 20,
            "{} too big",
            s["metadata"]["name"]
        );
    }
    let head = all
        .iter()
        .find(|s| s["metadata"]["name"] == "stackpkg.release.v1.big.v1")
        .unwrap();
    assert_eq!(
        head["metadata"]["annotations"]["stackpkg.io/chunks"],
        (chunks.len() + 1).to_string()
    );

    let back = driver.get("default", "big", 1).await.unwrap();
    assert_eq!(back, big);
    // Chunks are not releases of their own.
    let listed = driver.list(None).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["big", "small"]
    );

    // A missing chunk is reported, naming the record and the chunk.
    cluster
        .delete(&ObjectRef {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some("default".into()),
            name: "stackpkg.release.v1.big.v1.c2".into(),
        })
        .await
        .unwrap();
    let err = driver.history("default", "big").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "release record Secret default/stackpkg.release.v1.big.v1: chunk Secret stackpkg.release.v1.big.v1.c2 is missing"
    );

    driver.delete("default", "big", 1).await.unwrap();
    assert!(secrets(&sim)
        .iter()
        .all(|s| !s["metadata"]["name"].as_str().unwrap().contains(".big.")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_records_are_named() {
    let (_sim, cluster, _dir) = connected().await;
    let driver = SecretsDriver::new(cluster.clone());
    let bad = |data: &str, chunks: Option<&str>| {
        let mut s = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "stackpkg.release.v1.bad.v1", "namespace": "default",
                "labels": {"owner": "stackpkg", "name": "bad", "status": "deployed", "version": "1"}},
            "type": "stackpkg.io/release.v1",
            "data": {"release": data},
        });
        if let Some(c) = chunks {
            s["metadata"]["annotations"] = json!({"stackpkg.io/chunks": c});
        }
        s
    };
    let cases = [
        (bad("aGVsbG8=", None), "not gzip data"),
        (
            bad("aGVsbG8=", Some("many")),
            "annotation stackpkg.io/chunks is \"many\", not a chunk count",
        ),
    ];
    for (secret, want) in cases {
        cluster
            .apply(&secret, &ApplyOptions::default())
            .await
            .unwrap();
        let err = driver
            .history("default", "bad")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("release record Secret default/stackpkg.release.v1.bad.v1: "),
            "{err}"
        );
        assert!(err.contains(want), "{err}");
    }
}
