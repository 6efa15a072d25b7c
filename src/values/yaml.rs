//! YAML → JSON values. Keys become strings (as `sigs.k8s.io/yaml` does for Helm),
//! `<<` merge keys are applied, tags are dropped, and non-finite floats are refused
//! because JSON cannot hold them.

use serde_json::{Map, Number, Value};

/// A YAML problem; `location` is 1-based (line, column) when the parser knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlIssue {
    pub location: Option<(usize, usize)>,
    pub message: String,
}

/// `serde_yaml` and `serde_json` append " at line X column Y"; we print the position
/// ourselves in `file:line:col` form, so drop theirs.
pub fn strip_location(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let tail = &after[digits..];
        match tail.strip_prefix(" column ") {
            Some(col) if digits > 0 => {
                let cd = col.len() - col.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                rest = &col[cd..];
            }
            _ => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parse a YAML document that must be a map (or empty, giving an empty map).
pub fn parse_map(text: &str) -> Result<Map<String, Value>, YamlIssue> {
    match parse_value(text)? {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m),
        other => Err(YamlIssue {
            location: None,
            message: format!(
                "must hold a map of values at the top level, not {}",
                kind(&other)
            ),
        }),
    }
}

/// Parse one YAML document into a JSON value.
pub fn parse_value(text: &str) -> Result<Value, YamlIssue> {
    let mut raw: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| YamlIssue {
        location: e.location().map(|l| (l.line(), l.column())),
        message: strip_location(&e.to_string()),
    })?;
    raw.apply_merge().map_err(|e| YamlIssue {
        location: e.location().map(|l| (l.line(), l.column())),
        message: strip_location(&e.to_string()),
    })?;
    to_json(raw, "")
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn to_json(v: serde_yaml::Value, path: &str) -> Result<Value, YamlIssue> {
    use serde_yaml::Value as Y;
    let at = |p: &str| {
        if p.is_empty() {
            "the top level".to_string()
        } else {
            p.to_string()
        }
    };
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Value::Number(Number::from_f64(f).ok_or_else(|| YamlIssue {
                    location: None,
                    message: format!("{}: {f} cannot be represented in JSON", at(path)),
                })?)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(
            seq.into_iter()
                .enumerate()
                .map(|(i, v)| to_json(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_string(),
                    Y::Tagged(t) => match t.value {
                        Y::String(s) => s,
                        _ => {
                            return Err(YamlIssue {
                                location: None,
                                message: format!("{}: map keys must be scalars", at(path)),
                            })
                        }
                    },
                    Y::Sequence(_) | Y::Mapping(_) => {
                        return Err(YamlIssue {
                            location: None,
                            message: format!("{}: map keys must be scalars", at(path)),
                        })
                    }
                };
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                out.insert(key, to_json(v, &child)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => to_json(t.value, path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_keys_and_merges() {
        let m = parse_map("base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n1: one\ntrue: yes\n").unwrap();
        assert_eq!(m["d"], serde_json::json!({"x": 1, "y": 2}));
        assert_eq!(m["1"], "one");
        assert_eq!(m["true"], "yes");
    }

    #[test]
    fn positions_are_stripped_from_messages() {
        assert_eq!(
            strip_location("did not find ',' at line 4 column 12, while parsing"),
            "did not find ',', while parsing"
        );
        assert_eq!(strip_location("x at line y"), "x at line y");
        assert_eq!(
            strip_location("key must be a string at line 3 column 18"),
            "key must be a string"
        );
    }

    #[test]
    fn garbage_has_position() {
        let e = parse_map("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.location.is_some(), "{e:?}");
        let e = parse_map("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate"), "{e:?}");
        assert!(parse_map("- 1\n- 2\n")
            .unwrap_err()
            .message
            .contains("a list"));
        assert!(parse_map("a: .nan\n").is_err());
        assert!(parse_map("? [1]\n: x\n").is_err());
        assert!(parse_map("a: 1\n---\nb: 2\n").is_err());
        assert_eq!(parse_map("").unwrap(), Map::new());
        assert_eq!(parse_map("# only a comment\n").unwrap(), Map::new());
    }
}
