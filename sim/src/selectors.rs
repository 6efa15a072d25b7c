//! Label and field selectors in the query-string syntax of the API.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector(Vec<Req>);

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_set(rest: &str, sel: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("unable to parse requirement: expected (values) in {sel:?}"))?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if vals.iter().any(|v| !valid_value(v)) {
        return Err(format!("invalid label value in {sel:?}"));
    }
    Ok(vals)
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                return Err(format!("found empty requirement in selector {s:?}"));
            }
            let req = if let Some(k) = p.strip_prefix('!') {
                Req::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = p.split_once("!=") {
                Req::NotEq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once("==") {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once('=') {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some(idx) = p.find(" notin ") {
                Req::NotIn(p[..idx].trim().into(), parse_set(&p[idx + 7..], s)?)
            } else if let Some(idx) = p.find(" in ") {
                Req::In(p[..idx].trim().into(), parse_set(&p[idx + 4..], s)?)
            } else {
                Req::Exists(p.to_string())
            };
            let (key, val) = match &req {
                Req::Eq(k, v) | Req::NotEq(k, v) => (k, Some(v)),
                Req::In(k, _) | Req::NotIn(k, _) | Req::Exists(k) | Req::NotExists(k) => (k, None),
            };
            if !valid_key(key) {
                return Err(format!("invalid label key {key:?} in selector {s:?}"));
            }
            if let Some(v) = val {
                if !valid_value(v) {
                    return Err(format!("invalid label value {v:?} in selector {s:?}"));
                }
            }
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    pub fn matches(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// Does a structured `metav1.LabelSelector` (matchLabels/matchExpressions) select `labels`?
pub fn structured_matches(selector: &Value, labels: &Value) -> bool {
    if let Some(ml) = selector["matchLabels"].as_object() {
        for (k, v) in ml {
            if labels.get(k) != Some(v) {
                return false;
            }
        }
    }
    if let Some(exprs) = selector["matchExpressions"].as_array() {
        for e in exprs {
            let key = e["key"].as_str().unwrap_or_default();
            let vals: Vec<&str> = e["values"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let cur = labels.get(key).and_then(Value::as_str);
            let ok = match e["operator"].as_str().unwrap_or_default() {
                "In" => cur.is_some_and(|c| vals.contains(&c)),
                "NotIn" => !cur.is_some_and(|c| vals.contains(&c)),
                "Exists" => cur.is_some(),
                "DoesNotExist" => cur.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// A parsed `fieldSelector`: `metadata.name`, `metadata.namespace` and a few common
/// status/spec fields with `=`, `==` and `!=`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

const FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "status.phase",
    "spec.nodeName",
    "type",
    "involvedObject.name",
];

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector(out));
        }
        for p in s.split(',') {
            let (k, eq, v) = if let Some((k, v)) = p.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = p.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = p.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!("invalid selector: {s:?}; can't understand {p:?}"));
            };
            let k = k.trim();
            if !FIELDS.contains(&k) {
                return Err(format!("field label not supported: {k}"));
            }
            out.push((k.to_string(), eq, v.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(k, eq, v)| {
            let mut cur = obj;
            for seg in k.split('.') {
                cur = &cur[seg];
            }
            let actual = cur.as_str().unwrap_or_default();
            (actual == v) == *eq
        })
    }

    /// The exact name the selector pins down, if any (lets `get`-style watches short-cut).
    pub fn name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, eq, _)| k == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_operators() {
        let l = json!({"app": "web", "tier": "front"});
        let ok = |s: &str| LabelSelector::parse(s).unwrap().matches(&l);
        assert!(ok("app=web"));
        assert!(ok("app==web,tier"));
        assert!(!ok("app!=web"));
        assert!(ok("app in (web, db)"));
        assert!(!ok("app notin (web,db)"));
        assert!(ok("!missing"));
        assert!(!ok("!app"));
        assert!(ok(""));
        assert!(ok("tier in (front),app"));
    }

    #[test]
    fn label_selector_garbage_is_rejected() {
        for bad in [
            "app=we b",
            ",",
            "a in web",
            "in (x",
            "x=(",
            "a b=c",
            "app in (a,!b)",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selector() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns"}});
        assert!(FieldSelector::parse("metadata.name=a").unwrap().matches(&o));
        assert!(FieldSelector::parse("metadata.namespace!=x")
            .unwrap()
            .matches(&o));
        assert!(!FieldSelector::parse("metadata.name=b").unwrap().matches(&o));
        assert!(FieldSelector::parse("spec.foo=1").is_err());
        assert!(FieldSelector::parse("metadata.name").is_err());
        assert_eq!(
            FieldSelector::parse("metadata.name==a").unwrap().name(),
            Some("a")
        );
    }

    #[test]
    fn structured_selector() {
        let l = json!({"app": "web"});
        assert!(structured_matches(
            &json!({"matchLabels": {"app": "web"}}),
            &l
        ));
        assert!(!structured_matches(
            &json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}),
            &l
        ));
    }
}
