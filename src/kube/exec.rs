//! Talking to pods rather than objects: exec over the websocket subresource, container
//! logs, and HTTP GETs through the API server's pod proxy.

use std::time::Duration;

use ::kube::api::{Api, AttachParams, LogParams};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Pod;
use tokio::io::AsyncReadExt;

use super::retry::{self, RetryPolicy};
use super::{ExecOutput, KubeError};

fn pod_ref(namespace: &str, pod: &str) -> String {
    format!("Pod {namespace}/{pod}")
}

/// The exit code a `Status` from the exec error channel reports.
fn exit_code(status: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Status) -> Option<i32> {
    if status.status.as_deref() == Some("Success") {
        return Some(0);
    }
    if status.reason.as_deref() != Some("NonZeroExitCode") {
        return None;
    }
    status
        .details
        .as_ref()?
        .causes
        .as_ref()?
        .iter()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))?
        .message
        .as_deref()?
        .trim()
        .parse()
        .ok()
}

pub(super) async fn exec(
    client: &::kube::Client,
    policy: &RetryPolicy,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
    timeout: Duration,
) -> Result<ExecOutput, KubeError> {
    let object = pod_ref(namespace, pod);
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut ap = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    if let Some(c) = container {
        ap = ap.container(c);
    }
    let run = async {
        // Only the connection is retried: once it is up the command may have run.
        let mut proc = retry::run(policy, &object, || api.exec(pod, command.to_vec(), &ap)).await?;
        let failed = |what: &str| KubeError::Failed {
            object: object.clone(),
            reason: format!("exec {command:?}: no {what} stream"),
        };
        let mut so = proc.stdout().ok_or_else(|| failed("stdout"))?;
        let mut se = proc.stderr().ok_or_else(|| failed("stderr"))?;
        let status = proc.take_status().ok_or_else(|| failed("status"))?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (a, b) = tokio::join!(so.read_to_end(&mut out), se.read_to_end(&mut err));
        let io = |e: std::io::Error| KubeError::Failed {
            object: object.clone(),
            reason: format!("exec {command:?}: reading its output: {e}"),
        };
        a.map_err(io)?;
        b.map_err(io)?;
        let st = status.await;
        let _ = proc.join().await;
        let st = st.ok_or_else(|| KubeError::Failed {
            object: object.clone(),
            reason: format!("exec {command:?}: the connection closed without an exit status"),
        })?;
        let code = exit_code(&st).ok_or_else(|| KubeError::Failed {
            object: object.clone(),
            reason: format!(
                "exec {command:?}: {}",
                st.message.clone().unwrap_or_else(|| "failed".into())
            ),
        })?;
        Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            exit_code: code,
        })
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(KubeError::Timeout {
            object,
            waited: timeout,
            reason: format!("exec {command:?} did not finish"),
        }),
    }
}

pub(super) async fn logs(
    client: &::kube::Client,
    policy: &RetryPolicy,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    tail: Option<u32>,
) -> Result<String, KubeError> {
    let object = pod_ref(namespace, pod);
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let lp = LogParams {
        container: container.map(str::to_string),
        tail_lines: tail.map(i64::from),
        ..Default::default()
    };
    retry::run(policy, &object, || api.logs(pod, &lp)).await
}

/// `GET /api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy{path}`: the pod's own answer,
/// whatever its status; only a failed connection to the API server is an error.
pub(super) async fn proxy_get(
    client: &::kube::Client,
    namespace: &str,
    pod: &str,
    port: u16,
    path: &str,
) -> Result<(u16, String), KubeError> {
    let object = pod_ref(namespace, pod);
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let uri = format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}");
    let req = http::Request::get(&uri)
        .body(::kube::client::Body::empty())
        .map_err(|e| KubeError::Invalid {
            object: object.clone(),
            message: format!("proxy path {path:?}: {e}"),
        })?;
    let resp = client
        .send(req)
        .await
        .map_err(|e| retry::permanent(&object, e))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| KubeError::Failed {
            object: object.clone(),
            reason: format!("reading the proxied answer of {path}: {e}"),
        })?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exit_codes_from_status() {
        let st = |v: serde_json::Value| serde_json::from_value(v).unwrap();
        assert_eq!(exit_code(&st(json!({"status": "Success"}))), Some(0));
        assert_eq!(
            exit_code(&st(
                json!({"status": "Failure", "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}})
            )),
            Some(3)
        );
        assert_eq!(
            exit_code(&st(
                json!({"status": "Failure", "reason": "InternalError", "message": "boom"})
            )),
            None
        );
    }
}
