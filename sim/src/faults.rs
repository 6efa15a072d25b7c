//! Fault injection: error codes, latency, dropped connections, "fail the Nth request".

use serde::{Deserialize, Serialize};

/// One rule; missing keys match everything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// Plural resource name, optionally with a subresource (`pods/exec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Probability in [0, 1] that a matching request is hit (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Only the Nth matching request (1-based) is hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u64>,
    /// Close the connection without answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<bool>,
}

impl FaultRule {
    pub fn validate(&self, idx: usize) -> Result<(), String> {
        if let Some(s) = self.status {
            if !(400..=599).contains(&s) {
                return Err(format!(
                    "fault rule {idx}: status {s} is not an error code (400-599)"
                ));
            }
        }
        if let Some(r) = self.rate {
            if !(0.0..=1.0).contains(&r) || r.is_nan() {
                return Err(format!("fault rule {idx}: rate {r} is outside [0, 1]"));
            }
        }
        if self.nth == Some(0) {
            return Err(format!("fault rule {idx}: nth counts from 1"));
        }
        if self.status.is_none() && self.latency_ms.is_none() && self.drop != Some(true) {
            return Err(format!(
                "fault rule {idx}: needs at least one of status, latency_ms, drop"
            ));
        }
        Ok(())
    }

    fn matches(&self, verb: &str, resource: &str, name: &str) -> bool {
        self.verb.as_deref().is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| r == resource)
            && self.name.as_deref().is_none_or(|n| n == name)
    }
}

/// What to do with one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub latency_ms: u64,
    pub status: Option<u16>,
    pub drop: bool,
}

/// Active rules with their match counters and a seeded random source.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<(FaultRule, u64)>,
    rng: u64,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Faults {
            rules: Vec::new(),
            rng: seed | 1,
        }
    }

    pub fn set(&mut self, rules: Vec<FaultRule>) -> Result<(), String> {
        for (i, r) in rules.iter().enumerate() {
            r.validate(i)?;
        }
        self.rules = rules.into_iter().map(|r| (r, 0)).collect();
        Ok(())
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|(r, _)| r.clone()).collect()
    }

    fn random(&mut self) -> f64 {
        // xorshift64*: reproducible runs for a given seed.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn decide(&mut self, verb: &str, resource: &str, name: &str) -> Outcome {
        let mut out = Outcome::default();
        for i in 0..self.rules.len() {
            if !self.rules[i].0.matches(verb, resource, name) {
                continue;
            }
            self.rules[i].1 += 1;
            let (rule, count) = self.rules[i].clone();
            if rule.nth.is_some_and(|n| n != count) {
                continue;
            }
            if let Some(rate) = rule.rate {
                if self.random() >= rate {
                    continue;
                }
            }
            out.latency_ms += rule.latency_ms.unwrap_or(0);
            if out.status.is_none() && !out.drop {
                if rule.drop == Some(true) {
                    out.drop = true;
                } else if let Some(s) = rule.status {
                    out.status = Some(s);
                }
            }
        }
        out
    }
}

/// Reason string of a `Status` for an injected code.
pub fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_and_filters() {
        let mut f = Faults::new(1);
        f.set(vec![FaultRule {
            verb: Some("get".into()),
            resource: Some("pods".into()),
            status: Some(503),
            nth: Some(2),
            ..Default::default()
        }])
        .unwrap();
        assert_eq!(f.decide("get", "pods", "a").status, None);
        assert_eq!(f.decide("list", "pods", "").status, None);
        assert_eq!(f.decide("get", "pods", "a").status, Some(503));
        assert_eq!(f.decide("get", "pods", "a").status, None);
    }

    #[test]
    fn rate_is_roughly_honoured_and_reproducible() {
        let run = || {
            let mut f = Faults::new(42);
            f.set(vec![FaultRule {
                status: Some(500),
                rate: Some(0.25),
                ..Default::default()
            }])
            .unwrap();
            (0..1000)
                .filter(|_| f.decide("get", "x", "").status.is_some())
                .count()
        };
        let n = run();
        assert!((150..350).contains(&n), "{n}");
        assert_eq!(n, run());
    }

    #[test]
    fn bad_rules_are_rejected() {
        let mut f = Faults::new(1);
        for r in [
            FaultRule {
                status: Some(200),
                ..Default::default()
            },
            FaultRule {
                status: Some(500),
                rate: Some(1.5),
                ..Default::default()
            },
            FaultRule {
                status: Some(500),
                nth: Some(0),
                ..Default::default()
            },
            FaultRule {
                verb: Some("get".into()),
                ..Default::default()
            },
        ] {
            assert!(f.set(vec![r]).is_err());
        }
        assert!(serde_json::from_str::<Vec<FaultRule>>(r#"[{"stauts": 500}]"#).is_err());
    }
}
