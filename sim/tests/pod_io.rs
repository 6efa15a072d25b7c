//! Pod logs and the pod proxy, configured over `/_sim/logs` and `/_sim/proxy-rules`;
//! exec rules with `times`.

mod common;

use common::{client_without_retry, raw, start};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, LogParams, PostParams};
use kube::runtime::{conditions, wait::await_condition};
use serde_json::json;
use std::time::Duration;
use tokio::io::AsyncReadExt;

async fn running_pod(client: &kube::Client, name: &str, containers: &[&str]) -> Api<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let cs: Vec<_> = containers
        .iter()
        .map(|c| json!({"name": c, "image": "i"}))
        .collect();
    let p: Pod =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": cs}}))
            .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    let r = await_condition(pods.clone(), name, conditions::is_pod_running());
    tokio::time::timeout(Duration::from_secs(5), r)
        .await
        .unwrap()
        .unwrap();
    pods
}

#[tokio::test]
async fn logs_come_from_rules_with_container_and_tail() {
    let (_sim, client) = start().await;
    let pods = running_pod(&client, "db-0", &["main", "side"]).await;
    let rules = json!([
        {"pod": "^db-", "container": "side", "text": "side says hi\n"},
        {"pod": "^db-", "text": "one\ntwo\nthree\n"}
    ]);
    let (code, body) = raw(
        &client,
        "POST",
        "/_sim/logs",
        "application/json",
        &rules.to_string(),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let lp = |c: &str, tail: Option<i64>| LogParams {
        container: Some(c.into()),
        tail_lines: tail,
        ..Default::default()
    };
    assert_eq!(
        pods.logs("db-0", &lp("main", None)).await.unwrap(),
        "one\ntwo\nthree\n"
    );
    assert_eq!(
        pods.logs("db-0", &lp("main", Some(2))).await.unwrap(),
        "two\nthree\n"
    );
    assert_eq!(
        pods.logs("db-0", &lp("side", None)).await.unwrap(),
        "side says hi\n"
    );
    // Unknown container, and no container on a two-container pod: 400s like the real server.
    let e = pods.logs("db-0", &lp("nope", None)).await.unwrap_err();
    assert!(e.to_string().contains("container nope is not valid"), "{e}");
    let e = pods.logs("db-0", &LogParams::default()).await.unwrap_err();
    assert!(
        e.to_string().contains("a container name must be specified"),
        "{e}"
    );
    let e = pods.logs("db-9", &lp("main", None)).await.unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    // Bad rules are 400s naming the rule.
    for (body, msg) in [
        (
            r#"[{"pod": "(", "text": ""}]"#,
            "log rule 0: invalid pod regex",
        ),
        (
            r#"[{"pod": "x", "text": "", "colour": 1}]"#,
            "unknown field",
        ),
        (r#"[{"text": ""}]"#, "missing field `pod`"),
    ] {
        let (code, v) = raw(&client, "POST", "/_sim/logs", "application/json", body).await;
        assert_eq!(code, 400);
        assert!(v["message"].as_str().unwrap().contains(msg), "{v}");
    }
}

#[tokio::test]
async fn proxy_answers_from_rules_in_order_and_is_recorded() {
    let (sim, _) = start().await;
    let client = client_without_retry(&sim).await;
    running_pod(&client, "es-0", &["es"]).await;
    let rules = json!([
        {"pod": "^es-0$", "port": 9200, "path": "^/_cluster/health", "status": 408, "body": "timeout", "times": 2},
        {"pod": "^es-", "port": 9200, "path": "^/_cluster/health", "status": 200, "body": "{\"status\":\"green\"}"}
    ]);
    let (code, _) = raw(
        &client,
        "POST",
        "/_sim/proxy-rules",
        "application/json",
        &rules.to_string(),
    )
    .await;
    assert_eq!(code, 200);
    let url =
        "/api/v1/namespaces/default/pods/es-0:9200/proxy/_cluster/health?wait_for_status=green";
    let mut got = vec![];
    for _ in 0..3 {
        got.push(raw(&client, "GET", url, "", "").await);
    }
    assert_eq!(got[0], (408, json!("timeout")));
    assert_eq!(got[1].0, 408);
    assert_eq!(got[2], (200, json!({"status": "green"})));
    // No matching rule (other port): 503.
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/pods/es-0:9300/proxy/",
        "",
        "",
    )
    .await;
    assert_eq!(code, 503);
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/pods/nope:9200/proxy/x",
        "",
        "",
    )
    .await;
    assert_eq!(code, 404);
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/pods/es-0:http/proxy/x",
        "",
        "",
    )
    .await;
    assert_eq!(code, 400);
    let recs = sim.proxies();
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0].pod, "es-0");
    assert_eq!(recs[0].port, Some(9200));
    assert_eq!(recs[0].path, "/_cluster/health?wait_for_status=green");
    assert_eq!(
        recs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [408, 408, 200, 503]
    );
    let (_, over_http) = raw(&client, "GET", "/_sim/proxies", "", "").await;
    assert_eq!(over_http.as_array().unwrap().len(), 4);
    assert!(sim
        .requests()
        .iter()
        .any(|r| r.verb == "get" && r.path.ends_with("/pods/es-0:9200/proxy/_cluster/health")));
    for (body, msg) in [
        (r#"[{"status": 700}]"#, "proxy rule 0: status 700"),
        (
            r#"[{"status": 200}, {"status": 200, "times": 0}]"#,
            "proxy rule 1: times",
        ),
        (
            r#"[{"status": 200, "pod": "("}]"#,
            "proxy rule 0: invalid pod regex",
        ),
        (r#"[{"body": "x"}]"#, "missing field `status`"),
    ] {
        let (code, v) = raw(
            &client,
            "POST",
            "/_sim/proxy-rules",
            "application/json",
            body,
        )
        .await;
        assert_eq!(code, 400);
        assert!(v["message"].as_str().unwrap().contains(msg), "{v}");
    }
    let (code, _) = raw(&client, "POST", "/_sim/reset", "", "").await;
    assert_eq!(code, 200);
    assert!(sim.proxies().is_empty());
}

#[tokio::test]
async fn exec_rule_times_scripts_fail_then_succeed() {
    let (sim, client) = start().await;
    let pods = running_pod(&client, "k-0", &["kafka"]).await;
    let (code, _) = raw(
        &client,
        "POST",
        "/_sim/exec-rules",
        "application/json",
        r#"[{"command": "urp", "exit_code": 1, "times": 2}, {"command": "urp", "stdout": "0"}]"#,
    )
    .await;
    assert_eq!(code, 200);
    let mut codes = vec![];
    for _ in 0..3 {
        let mut p = pods
            .exec("k-0", ["urp"], &AttachParams::default().stderr(false))
            .await
            .unwrap();
        let status = p.take_status().unwrap();
        let mut out = String::new();
        p.stdout().unwrap().read_to_string(&mut out).await.unwrap();
        let st = status.await.unwrap();
        codes.push((st.status.unwrap_or_default(), out));
    }
    assert_eq!(codes[0].0, "Failure");
    assert_eq!(codes[1].0, "Failure");
    assert_eq!(codes[2], ("Success".to_string(), "0".to_string()));
    assert_eq!(
        sim.execs().iter().map(|e| e.exit_code).collect::<Vec<_>>(),
        [Some(1), Some(1), Some(0)]
    );
    let (code, v) = raw(
        &client,
        "POST",
        "/_sim/exec-rules",
        "application/json",
        r#"[{"times": 0}]"#,
    )
    .await;
    assert_eq!(code, 400);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("exec rule 0: times"));
}
