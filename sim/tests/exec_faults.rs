//! Pod exec through kube-rs (websocket), fault injection, introspection over HTTP, TLS.

mod common;

use common::{client_for, client_without_retry, raw, start, start_with};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, AttachParams, ListParams, PostParams};
use kube::runtime::{conditions, wait::await_condition};
use kube_sim::{Config, ExecRule, FaultRule};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

async fn running_pod(client: &kube::Client, name: &str) -> Api<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "main", "image": "i"}, {"name": "side", "image": "s"}]}})).unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    let r = await_condition(pods.clone(), name, conditions::is_pod_running());
    tokio::time::timeout(Duration::from_secs(5), r)
        .await
        .unwrap()
        .unwrap();
    pods
}

async fn run(
    pods: &Api<Pod>,
    pod: &str,
    cmd: &[&str],
    container: Option<&str>,
) -> (String, String, Option<String>) {
    let mut ap = AttachParams::default().stderr(true);
    if let Some(c) = container {
        ap = ap.container(c);
    }
    let mut proc = pods.exec(pod, cmd.iter().copied(), &ap).await.unwrap();
    let mut out = String::new();
    let mut err = String::new();
    let mut so = proc.stdout().unwrap();
    let mut se = proc.stderr().unwrap();
    let status = proc.take_status().unwrap();
    let (a, b) = tokio::join!(so.read_to_string(&mut out), se.read_to_string(&mut err));
    a.unwrap();
    b.unwrap();
    let st = status.await.unwrap();
    proc.join().await.unwrap();
    let reason = if st.status.as_deref() == Some("Success") {
        None
    } else {
        st.reason.clone()
    };
    (
        out,
        err,
        reason.map(|r| {
            format!(
                "{r}:{}",
                st.details
                    .and_then(|d| d.causes)
                    .map(|c| c[0].message.clone().unwrap_or_default())
                    .unwrap_or_default()
            )
        }),
    )
}

#[tokio::test]
async fn exec_answers_from_rules_and_is_recorded() {
    let (sim, client) = start().await;
    let pods = running_pod(&client, "db-0").await;
    sim.set_exec_rules(vec![
        ExecRule {
            pod: Some("^db-".into()),
            command: Some("^nodetool drain$".into()),
            stdout: Some("drained\n".into()),
            delay_ms: Some(300),
            ..Default::default()
        },
        ExecRule {
            command: Some("status".into()),
            stderr: Some("bad\n".into()),
            exit_code: Some(3),
            ..Default::default()
        },
    ])
    .unwrap();
    let t = Instant::now();
    let (out, _, fail) = run(&pods, "db-0", &["nodetool", "drain"], None).await;
    assert_eq!((out.as_str(), fail), ("drained\n", None));
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "slow command is slow"
    );
    let (_, err, fail) = run(&pods, "db-0", &["nodetool", "status"], Some("side")).await;
    assert_eq!(err, "bad\n");
    assert_eq!(fail.as_deref(), Some("NonZeroExitCode:3"));
    let (out, err, fail) = run(&pods, "db-0", &["true"], None).await;
    assert_eq!((out.as_str(), err.as_str(), fail), ("", "", None));

    let execs = sim.execs();
    assert_eq!(execs.len(), 3);
    assert_eq!(execs[0].command, ["nodetool", "drain"]);
    assert_eq!(execs[0].container, "main");
    assert_eq!(execs[1].container, "side");
    assert_eq!(execs[1].exit_code, Some(3));
    assert!(execs
        .iter()
        .all(|e| e.finished.is_some() && e.started <= *e.finished.as_ref().unwrap()));
    // Same record over HTTP.
    let (code, body) = raw(&client, "GET", "/_sim/execs", "application/json", "").await;
    assert_eq!(code, 200);
    assert_eq!(body[1]["exit_code"], 3);
    assert_eq!(body[0]["pod"], "db-0");
    // Unknown container and missing pod are refused before the upgrade.
    let ap = AttachParams::default().container("nope");
    assert!(pods.exec("db-0", ["true"], &ap).await.is_err());
    assert!(pods
        .exec("missing", ["true"], &AttachParams::default())
        .await
        .is_err());
    // Bad regex: refused.
    assert!(sim
        .set_exec_rules(vec![ExecRule {
            command: Some("(".into()),
            ..Default::default()
        }])
        .is_err());
    let (code, _) = raw(
        &client,
        "POST",
        "/_sim/exec-rules",
        "application/json",
        r#"[{"pod": "["}]"#,
    )
    .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn faults_codes_nth_latency_and_drops() {
    let (sim, retrying) = start().await;
    let client = client_without_retry(&sim).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // Fail the 2nd list of configmaps with 503.
    sim.set_faults(vec![FaultRule {
        verb: Some("list".into()),
        resource: Some("configmaps".into()),
        status: Some(503),
        nth: Some(2),
        ..Default::default()
    }])
    .unwrap();
    assert!(cms.list(&ListParams::default()).await.is_ok());
    match cms.list(&ListParams::default()).await.unwrap_err() {
        kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (503, "ServiceUnavailable")),
        e => panic!("{e}"),
    }
    assert!(cms.list(&ListParams::default()).await.is_ok());

    // 429 carries Retry-After; set over HTTP.
    let rules = r#"[{"verb": "get", "resource": "configmaps", "name": "x", "status": 429}]"#;
    let (code, _) = raw(&client, "POST", "/_sim/faults", "application/json", rules).await;
    assert_eq!(code, 200);
    let req = http::Request::get("/api/v1/namespaces/default/configmaps/x")
        .body(Vec::new())
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");

    // Added latency.
    sim.set_faults(vec![FaultRule {
        verb: Some("get".into()),
        latency_ms: Some(250),
        ..Default::default()
    }])
    .unwrap();
    let t = Instant::now();
    assert!(cms.get_opt("none").await.unwrap().is_none());
    assert!(t.elapsed() >= Duration::from_millis(250));

    // Dropped connection: the client sees a transport error, not a status.
    sim.set_faults(vec![FaultRule {
        resource: Some("configmaps".into()),
        drop: Some(true),
        ..Default::default()
    }])
    .unwrap();
    match cms.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => panic!("expected a transport error, got status {s:?}"),
        Ok(l) => panic!("expected a transport error, got {l:?}"),
        Err(_) => {}
    }
    // 500 and 504 codes have their reasons.
    for (code, reason) in [(500, "InternalError"), (504, "Timeout")] {
        sim.set_faults(vec![FaultRule {
            status: Some(code),
            ..Default::default()
        }])
        .unwrap();
        match cms.list(&ListParams::default()).await.unwrap_err() {
            kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (code, reason)),
            e => panic!("{e}"),
        }
    }
    // [] clears; garbage rules are a 400 that keeps the old rules.
    let (code, body) = raw(
        &client,
        "POST",
        "/_sim/faults",
        "application/json",
        r#"[{"status": 99}]"#,
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        body["message"].as_str().unwrap().contains("status 99"),
        "{body}"
    );
    let (code, _) = raw(&client, "POST", "/_sim/faults", "application/json", "{nope").await;
    assert_eq!(code, 400);
    let (code, _) = raw(&client, "POST", "/_sim/faults", "application/json", "[]").await;
    assert_eq!(code, 200);
    assert!(cms.list(&ListParams::default()).await.is_ok());

    // The request log saw every one of them, in order, with statuses.
    let reqs = sim.requests();
    let statuses: Vec<u16> = reqs
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/default/configmaps")
        .map(|r| r.status)
        .collect();
    assert_eq!(&statuses[..3], [200, 503, 200]);
    assert!(
        statuses.contains(&0),
        "dropped requests are logged with status 0"
    );

    // kube-rs's default client retries a one-off 503 transparently.
    sim.set_faults(vec![FaultRule {
        verb: Some("list".into()),
        status: Some(503),
        nth: Some(1),
        ..Default::default()
    }])
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(retrying, "default");
    assert!(cms.list(&ListParams::default()).await.is_ok());
    let tail: Vec<u16> = sim
        .requests()
        .iter()
        .rev()
        .take(2)
        .map(|r| r.status)
        .collect();
    assert_eq!(tail, [200, 503]);
}

#[tokio::test]
async fn introspection_and_reset() {
    let (sim, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let c: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap();
    cms.create(&PostParams::default(), &c).await.unwrap();
    let (_, reqs) = raw(&client, "GET", "/_sim/requests", "application/json", "").await;
    let last = reqs.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["verb"], "create");
    assert_eq!(last["path"], "/api/v1/namespaces/default/configmaps");
    assert_eq!(last["status"], 201);
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
    let (_, objs) = raw(&client, "GET", "/_sim/objects", "application/json", "").await;
    assert!(objs
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "a"));
    let (code, _) = raw(&client, "POST", "/_sim/reset", "application/json", "").await;
    assert_eq!(code, 200);
    assert!(cms.get_opt("a").await.unwrap().is_none());
    assert!(sim
        .requests()
        .iter()
        .all(|r| r.path != "/api/v1/namespaces/default/configmaps" || r.verb == "get"));
    assert!(sim.execs().is_empty());
    let (code, _) = raw(&client, "GET", "/_sim/nothing", "application/json", "").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn tls_mode_serves_https_with_the_generated_ca() {
    let (sim, client) = start_with(Config {
        tls: true,
        ..Default::default()
    })
    .await;
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    assert!(sim.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));
    let pods = running_pod(&client, "p").await;
    let (out, _, _) = {
        sim.set_exec_rules(vec![ExecRule {
            stdout: Some("tls\n".into()),
            ..Default::default()
        }])
        .unwrap();
        run(&pods, "p", &["echo"], None).await
    };
    assert_eq!(out, "tls\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("certificate-authority-data:") && text.contains(sim.url()));
    let again = client_for(&sim).await;
    assert!(again.apiserver_version().await.is_ok());
}
