//! `list` over 1,000 releases × 10 revisions (10,000 record Secrets): one metadata-only
//! list call per namespace (one in all for `-A`), unpaged, of the heads not superseded (the
//! API server leaves the older revisions out), no record body on the wire and
//! none decoded; the answer is timed in-process and as a whole `stackpkg list` process
//! (figures in docs/performance.md, "Releases: list").
//!
//! Default scale: 100 releases (1,000 records), since the full scale takes ~100 s in a debug
//! build (seeding ~20 s, then each timed list up to a few seconds). The issue's scale and budget:
//!
//! ```sh
//! STACKPKG_PERF_RELEASES=1000 STACKPKG_BIN=target/release/stackpkg \
//!     cargo test --release --test release_read_perf -- --nocapture
//! ```
//!
//! With `STACKPKG_BIN` (an optimised binary) the whole `stackpkg list -A -o json` process
//! must answer within 300 ms; unoptimised test builds only report their times.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::{connect, requests_since, start_sim};
use futures::stream::{self, StreamExt};
use kube_sim::Config;
use serde_json::{json, Value};
use stackpkg::action::list::{list, ListRequest};
use stackpkg::kube::{ApplyOptions, ObjectRef};
use stackpkg::release::{ChartInfo, Release, SecretsDriver, Status};

const REVISIONS: u64 = 10;
/// The issue's bound for the whole answer against the simulator.
const BUDGET: Duration = Duration::from_millis(300);

fn record(i: usize, revision: u64) -> Release {
    let name = format!("rel-{i:04}");
    // A small but real manifest, so bodies have a realistic size on the wire.
    let manifest = (0..4)
        .map(|k| {
            format!(
                "---\n# Source: app/templates/cm{k}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-{k}\ndata:\n  revision: \"{revision}\"\n  key: value-{i}-{k}\n"
            )
        })
        .collect::<String>();
    Release {
        namespace: if i % 2 == 0 { "default" } else { "team" }.into(),
        revision,
        status: if revision == REVISIONS {
            Status::Deployed
        } else {
            Status::Superseded
        },
        chart: ChartInfo {
            name: "app".into(),
            version: format!("1.{revision}.0"),
            app_version: Some("2.0".into()),
        },
        values: json!({"replicas": i % 5}),
        computed_values: json!({"replicas": i % 5, "image": {"tag": "2.0"}}),
        manifest,
        resources: (0..4)
            .map(|k| ObjectRef {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("default".into()),
                name: format!("{name}-{k}"),
            })
            .collect(),
        notes: Some(format!("Thanks for installing {name}.")),
        first_deployed: "2026-01-01T00:00:00Z".into(),
        last_deployed: format!("2026-01-01T00:{:02}:00Z", revision),
        deleted: None,
        description: if revision == 1 {
            "Install complete".into()
        } else {
            "Upgrade complete".into()
        },
        name,
        hooks: Vec::new(),
        lifecycle: Default::default(),
    }
}

async fn best_of<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        best = best.min(t.elapsed());
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_many_releases_10_revisions() {
    let releases: usize = std::env::var("STACKPKG_PERF_RELEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let (sim, _dir, kc) = start_sim(Config::default()).await;
    let cluster = connect(kc.clone(), None).await;
    cluster
        .apply(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
            &ApplyOptions::default(),
        )
        .await
        .unwrap();
    let driver = SecretsDriver::new(cluster.clone());

    // Seed through the API server: plain POSTs of the objects the driver writes, 16 at a
    // time (kube-rs's apply path is ~10x slower per request in a debug build).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let t = Instant::now();
    let posts: Vec<(String, String)> = (0..releases)
        .flat_map(|i| (1..=REVISIONS).map(move |rev| record(i, rev)))
        .flat_map(|r| {
            let url = format!("{}/api/v1/namespaces/{}/secrets", sim.url(), r.namespace);
            driver
                .objects(&r)
                .into_iter()
                .map(move |obj| (url.clone(), obj.to_string()))
        })
        .collect();
    stream::iter(posts)
        .for_each_concurrent(16, |(url, body)| {
            let http = &http;
            async move {
                let resp = http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
            }
        })
        .await;
    eprintln!(
        "seeded {} records in {:?}",
        releases * REVISIONS as usize,
        t.elapsed()
    );

    // One namespace: one list call, the latest revision of each of its releases.
    let req = ListRequest {
        namespace: Some("default".into()),
        ..Default::default()
    };
    let before = sim.requests().len();
    let rels = list(&driver, &req).await.unwrap();
    // One list request, unpaged: never a page loop, a read per release or per record.
    assert_eq!(
        requests_since(&sim, before),
        ["list /api/v1/namespaces/default/secrets"]
    );
    assert_eq!(rels.len(), releases / 2);
    assert!(rels
        .iter()
        .all(|r| r.revision == REVISIONS && r.status == Status::Deployed));
    assert_eq!(rels[0].name, "rel-0000");
    assert_eq!(rels[0].chart.version, "1.10.0");

    // All namespaces: still one call, which leaves the superseded heads out.
    let all = ListRequest::default();
    let before = sim.requests().len();
    assert_eq!(list(&driver, &all).await.unwrap().len(), releases);
    assert_eq!(requests_since(&sim, before), ["list /api/v1/secrets"]);
    assert!(sim.requests()[before]
        .query
        .contains("labelSelector=owner%3Dstackpkg%2Cstatus%21%3Dsuperseded"));

    // The simulator's share, as one raw HTTP request: what `list` asks for (metadata of the
    // heads not superseded), then every head's metadata, then every record in full (what
    // Helm's list reads).
    let url = format!(
        "{}/api/v1/secrets?labelSelector=owner%3Dstackpkg",
        sim.url()
    );
    let url_latest = format!("{url}%2Cstatus%21%3Dsuperseded");
    // Times one metadata-only list request, checking it is one and how many items it holds.
    let meta_list = |url: String, items: usize| {
        let http = &http;
        async move {
            let bytes = std::cell::Cell::new(0);
            let took = best_of(5, || async {
                let body = http
                    .get(&url)
                    .header(
                        "accept",
                        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
                    )
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                let v: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(v["kind"], "PartialObjectMetadataList");
                assert_eq!(v["items"].as_array().unwrap().len(), items);
                bytes.set(body.len());
            })
            .await;
            (took, bytes.get())
        }
    };
    let (raw_latest, latest_bytes) = meta_list(url_latest, releases).await;
    let (raw, meta_bytes) = meta_list(url.clone(), releases * REVISIONS as usize).await;
    let full_bytes = std::cell::Cell::new(0);
    let raw_full = best_of(5, || async {
        let body = http.get(&url).send().await.unwrap().bytes().await.unwrap();
        full_bytes.set(body.len());
    })
    .await;
    eprintln!(
        "raw HTTP list of {} records: what list asks (metadata, not superseded) {raw_latest:?} ({latest_bytes} bytes), every head's metadata {raw:?} ({meta_bytes} bytes), full bodies {raw_full:?} ({full_bytes} bytes)",
        releases * REVISIONS as usize,
        full_bytes = full_bytes.get(),
    );
    let in_process = best_of(5, || async {
        assert_eq!(list(&driver, &all).await.unwrap().len(), releases);
    })
    .await;

    // The whole process, as a user runs it: start-up, kubeconfig, one list, printing.
    let bin =
        std::env::var("STACKPKG_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_stackpkg").into());
    let mut whole = Duration::MAX;
    for _ in 0..5 {
        let kc = kc.clone();
        let bin = bin.clone();
        let (took, out) = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let out = Command::new(&bin)
                .args(["list", "-A", "-o", "json"])
                .env("KUBECONFIG", &kc)
                .env_remove("STACKPKG_STORAGE")
                .output()
                .unwrap();
            (t.elapsed(), out)
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len(), releases);
        whole = whole.min(took);
    }
    eprintln!(
        "list -A over {releases} releases x {REVISIONS} revisions (best of 5): raw HTTP list {raw_latest:?}, \
         in-process {in_process:?}, whole process ({bin}) {whole:?}"
    );
    if std::env::var("STACKPKG_BIN").is_ok() {
        assert!(whole < BUDGET, "stackpkg list took {whole:?}");
    }
}
