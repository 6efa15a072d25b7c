//! Pod exec over the websocket subresource (`v5.channel.k8s.io`, `v4.channel.k8s.io`):
//! answers come from rules tests configure; every exec is recorded.

use crate::util;
use crate::Shared;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How to answer matching execs (first match wins; default: exit 0, no output).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecRule {
    /// Regex on the pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Regex on the command joined with spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The rule answers at most this many execs, then falls through to later rules
    /// (scripts "fail twice, then succeed").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct CompiledRule {
    pub rule: ExecRule,
    pod: Option<regex::Regex>,
    command: Option<regex::Regex>,
    /// Execs answered so far (for `times`).
    used: u32,
}

pub fn compile(rules: Vec<ExecRule>) -> Result<Vec<CompiledRule>, String> {
    rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            let re = |s: &Option<String>, what: &str| {
                s.as_deref()
                    .map(|p| {
                        regex::Regex::new(p)
                            .map_err(|e| format!("exec rule {i}: invalid {what} regex {p:?}: {e}"))
                    })
                    .transpose()
            };
            if rule.times == Some(0) {
                return Err(format!("exec rule {i}: times must be at least 1"));
            }
            Ok(CompiledRule {
                pod: re(&rule.pod, "pod")?,
                command: re(&rule.command, "command")?,
                rule,
                used: 0,
            })
        })
        .collect()
}

/// The answer for one exec; counts the hit against the matching rule's `times`.
pub fn answer(
    rules: &mut [CompiledRule],
    pod: &str,
    container: &str,
    command: &[String],
) -> ExecRule {
    let joined = command.join(" ");
    rules
        .iter_mut()
        .find(|r| {
            r.rule.times.is_none_or(|t| r.used < t)
                && r.pod.as_ref().is_none_or(|re| re.is_match(pod))
                && r.rule.container.as_deref().is_none_or(|c| c == container)
                && r.command.as_ref().is_none_or(|re| re.is_match(&joined))
        })
        .map(|r| {
            r.used += 1;
            r.rule.clone()
        })
        .unwrap_or_default()
}

/// One recorded exec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecRecord {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub command: Vec<String>,
    pub started: String,
    pub finished: Option<String>,
    pub exit_code: Option<i32>,
}

const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(v.into())
}

/// Runs one exec session on an upgraded websocket.
pub(crate) async fn session(
    shared: Arc<Shared>,
    mut ws: WebSocket,
    namespace: String,
    pod: String,
    container: String,
    command: Vec<String>,
) {
    let idx = {
        let mut s = shared.sim.lock().expect("sim state lock");
        s.execs.push(ExecRecord {
            namespace,
            pod: pod.clone(),
            container: container.clone(),
            command: command.clone(),
            started: util::now_micro(),
            finished: None,
            exit_code: None,
        });
        s.execs.len() - 1
    };
    let rule = {
        let mut s = shared.sim.lock().expect("sim state lock");
        answer(&mut s.exec_rules, &pod, &container, &command)
    };
    // Wait out the configured delay while draining client frames (stdin, resize, close).
    let delay = Duration::from_millis(rule.delay_ms.unwrap_or(0));
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    let mut client_gone = false;
    loop {
        tokio::select! {
            _ = &mut sleep => break,
            m = ws.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => { client_gone = true; break }
                _ => {}
            }
        }
    }
    let code = rule.exit_code.unwrap_or(0);
    if !client_gone {
        let mut ok = true;
        if let Some(out) = rule.stdout.as_deref().filter(|s| !s.is_empty()) {
            ok &= ws.send(frame(STDOUT, out.as_bytes())).await.is_ok();
        }
        if let Some(err) = rule.stderr.as_deref().filter(|s| !s.is_empty()) {
            ok &= ws.send(frame(STDERR, err.as_bytes())).await.is_ok();
        }
        let status = if code == 0 {
            json!({"metadata": {}, "status": "Success"})
        } else {
            json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("command terminated with non-zero exit code: error executing command {command:?}, exit code {code}"),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
            })
        };
        if ok {
            let _ = ws.send(frame(ERROR, status.to_string().as_bytes())).await;
            let _ = ws
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::NORMAL,
                    reason: "".into(),
                })))
                .await;
        }
    }
    let mut s = shared.sim.lock().expect("sim state lock");
    if let Some(r) = s.execs.get_mut(idx) {
        r.finished = Some(util::now_micro());
        r.exit_code = Some(code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let mut rules = compile(vec![
            ExecRule {
                pod: Some("^db-".into()),
                command: Some("nodetool drain".into()),
                exit_code: Some(2),
                ..Default::default()
            },
            ExecRule {
                stdout: Some("ok".into()),
                ..Default::default()
            },
        ])
        .unwrap();
        let cmd = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            answer(&mut rules, "db-0", "c", &cmd("nodetool drain")).exit_code,
            Some(2)
        );
        assert_eq!(
            answer(&mut rules, "web-0", "c", &cmd("nodetool drain"))
                .stdout
                .as_deref(),
            Some("ok")
        );
        assert_eq!(answer(&mut [], "x", "c", &cmd("true")), ExecRule::default());
        assert!(compile(vec![ExecRule {
            pod: Some("(".into()),
            ..Default::default()
        }])
        .is_err());
    }

    #[test]
    fn times_limits_a_rule_then_falls_through() {
        let mut rules = compile(vec![
            ExecRule {
                exit_code: Some(1),
                times: Some(2),
                ..Default::default()
            },
            ExecRule {
                stdout: Some("ok".into()),
                ..Default::default()
            },
        ])
        .unwrap();
        let cmd = vec!["true".to_string()];
        let codes: Vec<_> = (0..4)
            .map(|_| answer(&mut rules, "p", "c", &cmd).exit_code)
            .collect();
        assert_eq!(codes, [Some(1), Some(1), None, None]);
        let err = compile(vec![ExecRule {
            times: Some(0),
            ..Default::default()
        }])
        .unwrap_err();
        assert!(err.contains("exec rule 0: times"), "{err}");
    }
}
