//! Load: a 500-object server-side apply plus a 1,000-request list/watch workload, with no
//! errors, no leaked watch streams, and resident memory reported.

mod common;

use common::start;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, WatchParams};
use serde_json::json;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_500_objects_then_1000_list_and_watch_requests() {
    let (sim, client) = start().await;
    let rss_before = rss_kib();
    let t0 = Instant::now();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pp = PatchParams::apply("load").force();
    let applies = futures::stream::iter(0..500)
        .map(|i| {
            let (cms, svcs, deps, pp) = (cms.clone(), svcs.clone(), deps.clone(), pp.clone());
            async move {
                let group = format!("g{}", i % 10);
                match i % 10 {
                    0 => {
                        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("d{i}"), "labels": {"group": group}},
                            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": format!("d{i}")}},
                                     "template": {"metadata": {"labels": {"app": format!("d{i}")}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
                        deps.patch(&format!("d{i}"), &pp, &Patch::Apply(&d)).await.map(|_| ())
                    }
                    1 => {
                        let s = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("s{i}"), "labels": {"group": group}},
                            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}});
                        svcs.patch(&format!("s{i}"), &pp, &Patch::Apply(&s)).await.map(|_| ())
                    }
                    _ => {
                        let c = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}"), "labels": {"group": group}}, "data": {"i": i.to_string()}});
                        cms.patch(&format!("c{i}"), &pp, &Patch::Apply(&c)).await.map(|_| ())
                    }
                }
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await;
    applies.expect("500 applies succeed");
    let apply_time = t0.elapsed();
    eprintln!("applies done in {apply_time:?}");
    assert_eq!(
        cms.list(&ListParams::default()).await.unwrap().items.len(),
        400
    );

    // 1,000 requests: 800 lists (selectors, pagination) and 200 short watches.
    let t1 = Instant::now();
    let lists = futures::stream::iter(0..800)
        .map(|i| {
            let cms = cms.clone();
            async move {
                let lp = match i % 3 {
                    0 => ListParams::default().labels(&format!("group=g{}", 2 + i % 8)),
                    1 => ListParams::default().limit(50),
                    _ => ListParams::default()
                        .labels("group in (g2,g3)")
                        .fields("metadata.namespace=default"),
                };
                cms.list(&lp).await.map(|l| l.items.len())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<usize>>()
        .await
        .expect("800 lists succeed");
    assert!(lists.iter().all(|n| *n > 0));
    eprintln!("lists done in {:?}", t1.elapsed());
    let rv = cms
        .list(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let writer = {
        let cms = cms.clone();
        let pp = pp.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                let c = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("late{i}")}});
                cms.patch(&format!("late{i}"), &pp, &Patch::Apply(&c))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let watches = futures::stream::iter(0..199)
        .map(|_| {
            let cms = cms.clone();
            let rv = rv.clone();
            async move {
                let wp = WatchParams::default().timeout(1);
                let events: Vec<_> = cms.watch(&wp, &rv).await?.try_collect().await?;
                Ok::<usize, kube::Error>(events.len())
            }
        })
        .buffer_unordered(100)
        .try_collect::<Vec<usize>>()
        .await
        .expect("watches succeed");
    writer.await.unwrap();
    assert!(watches.iter().all(|n| *n >= 1), "every watch saw events");
    let read_time = t1.elapsed();

    // Every request answered without a server error; no watch stream left behind.
    let reqs = sim.requests();
    let bad: Vec<_> = reqs
        .iter()
        .filter(|r| r.status >= 400 || r.status == 0)
        .collect();
    assert!(bad.is_empty(), "{:?}", &bad[..bad.len().min(5)]);
    let mut open = sim.active_watches();
    for _ in 0..50 {
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        open = sim.active_watches();
    }
    assert_eq!(open, 0, "watch streams leaked");
    let rss_after = rss_kib();
    eprintln!(
        "load: 500 applies in {apply_time:?}; 1000 list/watch requests in {read_time:?}; {} requests logged; {} objects stored; VmRSS {rss_before} KiB -> {rss_after} KiB",
        reqs.len(),
        sim.objects().len()
    );
    assert!(
        rss_after < rss_before + 512 * 1024,
        "RSS grew by more than 512 MiB"
    );
}
