//! Retrying transient API failures: 429 (honouring the server's Retry-After), 5xx and dropped
//! connections, with capped exponential backoff. Anything else is reported at once.

use std::future::Future;
use std::time::Duration;

use super::KubeError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries, the first included.
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// Upper bound on a server-requested Retry-After.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(3),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Pause before retry number `n` (0 = the first retry).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

#[derive(Debug, PartialEq)]
pub(crate) enum Class {
    /// Worth retrying; `after` is the server's Retry-After when it sent one.
    Transient {
        after: Option<Duration>,
        message: String,
    },
    Permanent,
}

pub(crate) fn classify(e: &::kube::Error) -> Class {
    match e {
        ::kube::Error::Api(s) if s.code == 429 || s.code >= 500 => Class::Transient {
            after: s
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s.into())),
            message: format!("{} {}: {}", s.code, s.reason, s.message),
        },
        ::kube::Error::HyperError(e) => Class::Transient {
            after: None,
            message: format!("connection failed: {e}"),
        },
        ::kube::Error::Service(e) => Class::Transient {
            after: None,
            message: format!("connection failed: {}", error_chain(e.as_ref())),
        },
        _ => Class::Permanent,
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// The typed error for a failure that will not be retried.
pub(crate) fn permanent(object: &str, e: ::kube::Error) -> KubeError {
    match e {
        ::kube::Error::Api(s) => KubeError::Api {
            object: object.to_string(),
            code: s.code,
            reason: s.reason.clone(),
            message: s.message.clone(),
            fields: s
                .details
                .as_ref()
                .map(|d| d.causes.iter().map(|c| c.field.clone()).collect())
                .unwrap_or_default(),
        },
        other => KubeError::Failed {
            object: object.to_string(),
            reason: error_chain(&other),
        },
    }
}

/// Runs `op` until it succeeds, fails permanently, or the attempts run out.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    object: &str,
    mut op: F,
) -> Result<T, KubeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ::kube::Error>>,
{
    let mut n = 0;
    loop {
        let e = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        match classify(&e) {
            Class::Permanent => return Err(permanent(object, e)),
            Class::Transient { after, message } => {
                n += 1;
                if n >= policy.attempts.max(1) {
                    return Err(KubeError::Transient {
                        object: object.to_string(),
                        message,
                        attempts: n,
                    });
                }
                let pause = match after {
                    Some(a) => a.min(policy.max_retry_after),
                    None => policy.backoff(n - 1),
                };
                tokio::time::sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::kube::core::{response::StatusDetails, Status};

    fn api(code: u16, retry_after: u32) -> ::kube::Error {
        let mut s = Status::failure("boom", "Reason").with_code(code);
        if retry_after > 0 {
            let details: StatusDetails =
                serde_json::from_value(serde_json::json!({ "retryAfterSeconds": retry_after }))
                    .unwrap();
            s.details = Some(details);
        }
        ::kube::Error::Api(s.boxed())
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(4), Duration::from_millis(1600));
        assert_eq!(p.backoff(5), Duration::from_secs(3));
        assert_eq!(p.backoff(400), Duration::from_secs(3));
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify(&api(429, 2)),
            Class::Transient {
                after: Some(Duration::from_secs(2)),
                message: "429 Reason: boom".into()
            }
        );
        assert!(matches!(
            classify(&api(503, 0)),
            Class::Transient { after: None, .. }
        ));
        assert_eq!(classify(&api(404, 0)), Class::Permanent);
        assert_eq!(classify(&api(422, 0)), Class::Permanent);
    }

    #[tokio::test]
    async fn retries_then_succeeds_and_stops_on_permanent() {
        let p = RetryPolicy {
            base: Duration::from_millis(1),
            ..Default::default()
        };
        let mut calls = 0;
        let r = run(&p, "ConfigMap ns/a", || {
            calls += 1;
            let c = calls;
            async move {
                if c < 3 {
                    Err(api(500, 0))
                } else {
                    Ok(c)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);

        let mut calls = 0;
        let r: Result<(), _> = run(&p, "ConfigMap ns/a", || {
            calls += 1;
            async { Err(api(422, 0)) }
        })
        .await;
        assert_eq!(calls, 1);
        let msg = r.unwrap_err().to_string();
        assert_eq!(
            msg,
            "ConfigMap ns/a: the API server refused it (422 Reason): boom"
        );

        let mut calls = 0;
        let r: Result<(), _> = run(&p, "x", || {
            calls += 1;
            async { Err(api(502, 0)) }
        })
        .await;
        assert_eq!(calls, 6);
        assert!(matches!(r, Err(KubeError::Transient { attempts: 6, .. })));
    }
}
