//! Pod logs (`pods/{name}/log`) and the pod proxy (`pods/{name}[:port]/proxy/{path}`):
//! no containers run, so both answer from rules tests configure; proxied requests are
//! recorded.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The log text of matching pods (first match wins).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRule {
    /// Regex on the pod name.
    pub pod: String,
    /// Only this container (default: every container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct CompiledLogRule {
    pub rule: LogRule,
    pod: regex::Regex,
}

pub fn compile_logs(rules: Vec<LogRule>) -> Result<Vec<CompiledLogRule>, String> {
    rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            let pod = regex::Regex::new(&rule.pod)
                .map_err(|e| format!("log rule {i}: invalid pod regex {:?}: {e}", rule.pod))?;
            Ok(CompiledLogRule { rule, pod })
        })
        .collect()
}

/// The log of one container: the first matching rule's text, or a fixed line; `tail`
/// keeps only the last lines.
pub fn log_text(
    rules: &[CompiledLogRule],
    pod: &str,
    container: &str,
    tail: Option<usize>,
) -> String {
    let text = rules
        .iter()
        .find(|r| r.pod.is_match(pod) && r.rule.container.as_deref().is_none_or(|c| c == container))
        .map(|r| r.rule.text.clone())
        .unwrap_or_else(|| format!("kube-sim: no logs for pod {pod}\n"));
    let Some(n) = tail else {
        return text;
    };
    let lines: Vec<&str> = text.lines().collect();
    let kept = &lines[lines.len().saturating_sub(n)..];
    let mut out = kept.join("\n");
    if !out.is_empty() && text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// How to answer matching proxied GETs (first match wins; no match is a 503).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyRule {
    /// Regex on the pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Regex on the path with its query (`/_cluster/health?wait_for_status=green`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The rule answers at most this many requests, then falls through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct CompiledProxyRule {
    pub rule: ProxyRule,
    pod: Option<regex::Regex>,
    path: Option<regex::Regex>,
    used: u32,
}

pub fn compile_proxy(rules: Vec<ProxyRule>) -> Result<Vec<CompiledProxyRule>, String> {
    rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            let re = |s: &Option<String>, what: &str| {
                s.as_deref()
                    .map(|p| {
                        regex::Regex::new(p)
                            .map_err(|e| format!("proxy rule {i}: invalid {what} regex {p:?}: {e}"))
                    })
                    .transpose()
            };
            if !(100..=599).contains(&rule.status) {
                return Err(format!(
                    "proxy rule {i}: status {} is not an HTTP status (100-599)",
                    rule.status
                ));
            }
            if rule.times == Some(0) {
                return Err(format!("proxy rule {i}: times must be at least 1"));
            }
            if rule.port == Some(0) {
                return Err(format!("proxy rule {i}: port must be 1-65535"));
            }
            Ok(CompiledProxyRule {
                pod: re(&rule.pod, "pod")?,
                path: re(&rule.path, "path")?,
                rule,
                used: 0,
            })
        })
        .collect()
}

/// The answer for one proxied request; counts the hit against the rule's `times`.
pub fn proxy_answer(
    rules: &mut [CompiledProxyRule],
    pod: &str,
    port: Option<u16>,
    path: &str,
) -> Option<ProxyRule> {
    rules
        .iter_mut()
        .find(|r| {
            r.rule.times.is_none_or(|t| r.used < t)
                && r.pod.as_ref().is_none_or(|re| re.is_match(pod))
                && r.rule.port.is_none_or(|p| Some(p) == port)
                && r.path.as_ref().is_none_or(|re| re.is_match(path))
        })
        .map(|r| {
            r.used += 1;
            r.rule.clone()
        })
}

/// One proxied request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxyRecord {
    pub namespace: String,
    pub pod: String,
    pub port: Option<u16>,
    /// Path with query, as matched against rules.
    pub path: String,
    pub status: u16,
    pub time: String,
}

/// Splits `name`, `name:port` or `scheme:name:port` (the URL's pod segment).
pub fn split_pod_port(seg: &str) -> Result<(String, Option<u16>), String> {
    let parts: Vec<&str> = seg.split(':').collect();
    let (name, port) = match parts.as_slice() {
        [name] => (*name, None),
        [name, port] | [_, name, port] => (*name, Some(*port)),
        _ => return Err(format!("invalid pod proxy target {seg:?}")),
    };
    let port =
        match port.filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("port {p:?} of {seg:?}: only numeric ports are simulated")
            })?),
        };
    Ok((name.to_string(), port))
}

/// The containers a pod spec names, in order.
pub fn containers(pod: &Value) -> Vec<String> {
    pod["spec"]["containers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_first_match_and_tail() {
        let rules = compile_logs(vec![
            LogRule {
                pod: "^db-".into(),
                container: Some("side".into()),
                text: "side\n".into(),
            },
            LogRule {
                pod: "^db-".into(),
                container: None,
                text: "a\nb\nc\n".into(),
            },
        ])
        .unwrap();
        assert_eq!(log_text(&rules, "db-0", "main", None), "a\nb\nc\n");
        assert_eq!(log_text(&rules, "db-0", "main", Some(2)), "b\nc\n");
        assert_eq!(log_text(&rules, "db-0", "main", Some(0)), "");
        assert_eq!(log_text(&rules, "db-0", "side", Some(9)), "side\n");
        assert!(log_text(&rules, "web", "main", None).contains("no logs for pod web"));
        let e = compile_logs(vec![LogRule {
            pod: "(".into(),
            ..Default::default()
        }])
        .unwrap_err();
        assert!(e.starts_with("log rule 0: invalid pod regex"), "{e}");
    }

    #[test]
    fn proxy_rules_match_times_and_validate() {
        let mut rules = compile_proxy(vec![
            ProxyRule {
                pod: Some("-0$".into()),
                port: Some(9200),
                path: Some("^/_cluster/health".into()),
                status: 408,
                times: Some(1),
                ..Default::default()
            },
            ProxyRule {
                status: 200,
                body: Some("{}".into()),
                ..Default::default()
            },
        ])
        .unwrap();
        let p = "/_cluster/health?x=1";
        assert_eq!(
            proxy_answer(&mut rules, "es-0", Some(9200), p).map(|r| r.status),
            Some(408)
        );
        assert_eq!(
            proxy_answer(&mut rules, "es-0", Some(9200), p).map(|r| r.status),
            Some(200)
        );
        assert!(proxy_answer(&mut [], "es-0", None, "/").is_none());
        for (rule, msg) in [
            (
                ProxyRule {
                    status: 99,
                    ..Default::default()
                },
                "proxy rule 0: status 99",
            ),
            (
                ProxyRule {
                    status: 200,
                    times: Some(0),
                    ..Default::default()
                },
                "proxy rule 0: times",
            ),
            (
                ProxyRule {
                    status: 200,
                    path: Some("[".into()),
                    ..Default::default()
                },
                "proxy rule 0: invalid path regex",
            ),
        ] {
            let e = compile_proxy(vec![rule]).unwrap_err();
            assert!(e.starts_with(msg), "{e}");
        }
    }

    #[test]
    fn pod_port_segments() {
        assert_eq!(split_pod_port("es-0").unwrap(), ("es-0".into(), None));
        assert_eq!(
            split_pod_port("es-0:9200").unwrap(),
            ("es-0".into(), Some(9200))
        );
        assert_eq!(
            split_pod_port("http:es-0:9200").unwrap(),
            ("es-0".into(), Some(9200))
        );
        assert!(split_pod_port("es-0:http").is_err());
        assert!(split_pod_port("a:b:c:d").is_err());
    }
}
