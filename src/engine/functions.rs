//! The function library of docs/templates.md: filters and functions registered on every
//! environment. Each one documents its contract there; tests live at the bottom.

use std::cell::Cell;
use std::sync::Arc;

use base64::Engine as _;
use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use sha2::{Digest, Sha256};

use super::Lookup;

/// Marks errors raised on purpose by a chart (`required`, `fail`): their message is shown
/// as written, without minijinja's error-kind prefix.
#[derive(Debug)]
pub(crate) struct ChartFailure;

impl std::fmt::Display for ChartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("chart failure")
    }
}

impl std::error::Error for ChartFailure {}

fn chart_failure(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into()).with_source(ChartFailure)
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

const TPL_MAX_DEPTH: u32 = 8;

thread_local! {
    static TPL_DEPTH: Cell<u32> = const { Cell::new(0) };
}

pub(crate) fn register(env: &mut Environment<'_>, lookup: Arc<dyn Lookup>) {
    // YAML spellings: `true`/`false`/`null` rather than Python's `True`/`False`/`none`.
    env.set_formatter(|out, state, value| match value.kind() {
        ValueKind::Bool => {
            out.write_str(if value.is_true() { "true" } else { "false" })?;
            Ok(())
        }
        ValueKind::None => {
            out.write_str("null")?;
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    // Jinja2 habit: `list.append(x)`. minijinja values are immutable, so point to the idiom.
    env.set_unknown_method_callback(|_, value, method, _| {
        if value.kind() == ValueKind::Seq
            && matches!(method, "append" | "extend" | "insert" | "pop" | "remove")
        {
            return Err(invalid(format!(
                "lists are immutable in templates, there is no .{method}(): accumulate with \
                 `{{% set ns = namespace(items=[]) %}}` and `{{% set ns.items = ns.items + [x] %}}` \
                 (docs/templates.md)"
            )));
        }
        Err(Error::new(
            ErrorKind::UnknownMethod,
            format!("{} has no method named {method}", value.kind()),
        ))
    });
    env.add_filter("toyaml", toyaml);
    env.add_filter("tojson", tojson);
    env.add_filter("fromyaml", fromyaml);
    env.add_filter("fromjson", fromjson);
    env.add_filter("indent", indent);
    env.add_filter("nindent", nindent);
    env.add_filter("quote", quote);
    env.add_filter("squote", squote);
    env.add_filter("trunc", trunc);
    env.add_filter("trimprefix", trimprefix);
    env.add_filter("trimsuffix", trimsuffix);
    env.add_filter("regex_match", regex_match);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("tpl", tpl);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("sha256sum", sha256sum);
    env.add_filter("required", required);
    env.add_filter("default", default);
    env.add_filter("has_key", has_key);
    env.add_filter("pick", pick);
    env.add_filter("omit", omit);
    env.add_filter("uniq", uniq);
    env.add_filter("compact", compact);
    env.add_function("fail", fail);
    env.add_function("semver_compare", semver_compare);
    env.add_function("merge", merge);
    env.add_function("concat", concat);
    env.add_function(
        "lookup",
        move |api_version: String, kind: String, namespace: String, name: String| {
            lookup
                .lookup(&api_version, &kind, &namespace, &name)
                .map(|v| super::jv(&v))
                .map_err(|e| {
                    invalid(format!(
                        "lookup {api_version} {kind} {namespace}/{name}: {e}"
                    ))
                })
        },
    );
}

/// Strict undefined: a filter given an undefined value fails instead of printing nothing.
fn defined(v: &Value) -> Result<(), Error> {
    if v.is_undefined() {
        Err(Error::new(ErrorKind::UndefinedError, "value is undefined"))
    } else {
        Ok(())
    }
}

/// The text of a value: strings as they are, everything else in its template form.
fn text(v: &Value) -> Result<String, Error> {
    defined(v)?;
    Ok(match v.as_str() {
        Some(s) => s.to_string(),
        None if v.is_none() => String::new(),
        None if v.kind() == ValueKind::Bool => v.is_true().to_string(),
        None => v.to_string(),
    })
}

fn to_json(v: &Value) -> Result<serde_json::Value, Error> {
    defined(v)?;
    serde_json::to_value(v).map_err(|e| invalid(format!("cannot convert value: {e}")))
}

fn toyaml(v: Value) -> Result<String, Error> {
    defined(&v)?;
    let out =
        serde_yaml::to_string(&v).map_err(|e| invalid(format!("toyaml: cannot serialise: {e}")))?;
    Ok(out.trim_end_matches('\n').to_string())
}

fn tojson(v: Value) -> Result<String, Error> {
    defined(&v)?;
    serde_json::to_string(&v).map_err(|e| invalid(format!("tojson: cannot serialise: {e}")))
}

fn fromyaml(s: String) -> Result<Value, Error> {
    let v: serde_json::Value =
        serde_yaml::from_str(&s).map_err(|e| invalid(format!("fromyaml: {e}")))?;
    Ok(super::jv(&v))
}

fn fromjson(s: String) -> Result<Value, Error> {
    let v: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| invalid(format!("fromjson: {e}")))?;
    Ok(super::jv(&v))
}

fn indent_text(s: &str, width: usize) -> String {
    let pad = " ".repeat(width);
    let mut out = String::with_capacity(s.len() + width * 4);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

fn indent(v: Value, width: usize) -> Result<String, Error> {
    Ok(indent_text(&text(&v)?, width))
}

fn nindent(v: Value, width: usize) -> Result<String, Error> {
    Ok(format!("\n{}", indent_text(&text(&v)?, width)))
}

fn quote(v: Value) -> Result<String, Error> {
    let s = text(&v)?;
    serde_json::to_string(&s).map_err(|e| invalid(e.to_string()))
}

fn squote(v: Value) -> Result<String, Error> {
    Ok(format!("'{}'", text(&v)?.replace('\'', "''")))
}

fn trunc(v: Value, n: i64) -> Result<String, Error> {
    let s = text(&v)?;
    let count = s.chars().count();
    let keep = n.unsigned_abs() as usize;
    if keep >= count {
        return Ok(s);
    }
    Ok(if n >= 0 {
        s.chars().take(keep).collect()
    } else {
        s.chars().skip(count - keep).collect()
    })
}

fn trimprefix(v: Value, prefix: String) -> Result<String, Error> {
    let s = text(&v)?;
    Ok(s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_string())
}

fn trimsuffix(v: Value, suffix: String) -> Result<String, Error> {
    let s = text(&v)?;
    Ok(s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_string())
}

fn compile_regex(pattern: &str) -> Result<regex::Regex, Error> {
    regex::Regex::new(pattern)
        .map_err(|e| invalid(format!("bad regular expression {pattern:?}: {e}")))
}

fn regex_match(v: Value, pattern: String) -> Result<bool, Error> {
    Ok(compile_regex(&pattern)?.is_match(&text(&v)?))
}

fn regex_replace(v: Value, pattern: String, replacement: String) -> Result<String, Error> {
    Ok(compile_regex(&pattern)?
        .replace_all(&text(&v)?, replacement.as_str())
        .into_owned())
}

fn tpl(state: &State, v: Value) -> Result<String, Error> {
    let source = text(&v)?;
    let depth = TPL_DEPTH.with(|d| d.get());
    if depth >= TPL_MAX_DEPTH {
        return Err(invalid(format!(
            "tpl nested more than {TPL_MAX_DEPTH} levels (a value rendering itself?)"
        )));
    }
    let ctx: Vec<(&str, Value)> = [
        "values",
        "release",
        "chart",
        "capabilities",
        "files",
        "template",
    ]
    .into_iter()
    .filter_map(|name| state.lookup(name).map(|v| (name, v)))
    .collect();
    TPL_DEPTH.with(|d| d.set(depth + 1));
    let result = state.env().render_str(&source, Value::from_pairs(ctx));
    TPL_DEPTH.with(|d| d.set(depth));
    result.map_err(|e| {
        let at = e.line().map(|l| format!(" line {l}")).unwrap_or_default();
        invalid(format!("in tpl string{at}: {}", super::describe(&e)))
    })
}

fn b64encode(v: Value) -> Result<String, Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(text(&v)?))
}

fn b64decode(v: Value) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text(&v)?.trim())
        .map_err(|e| invalid(format!("b64decode: not valid base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("b64decode: decoded bytes are not UTF-8 text"))
}

fn sha256sum(v: Value) -> Result<String, Error> {
    Ok(hex::encode(Sha256::digest(text(&v)?.as_bytes())))
}

fn required(v: Value, msg: String) -> Result<Value, Error> {
    if v.is_undefined() || v.is_none() || v.as_str() == Some("") {
        Err(chart_failure(msg))
    } else {
        Ok(v)
    }
}

fn fail(msg: String) -> Result<Value, Error> {
    Err(chart_failure(msg))
}

/// Helm's notion of "empty": what `default` replaces and `compact` drops.
fn is_empty(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => true,
        ValueKind::Bool => !v.is_true(),
        ValueKind::Number => !v.is_true(),
        ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Bytes => {
            v.len() == Some(0)
        }
        _ => false,
    }
}

fn default(v: Value, fallback: Option<Value>) -> Value {
    if is_empty(&v) {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        v
    }
}

fn expect_map(v: &Value, what: &str) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    match to_json(v)? {
        serde_json::Value::Object(m) => Ok(m),
        other => Err(invalid(format!(
            "{what} expects a map, got {}",
            json_kind(&other)
        ))),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "none",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a map",
    }
}

fn has_key(v: Value, key: String) -> Result<bool, Error> {
    Ok(expect_map(&v, "has_key")?.contains_key(&key))
}

fn pick(v: Value, keys: Rest<String>) -> Result<Value, Error> {
    let mut m = expect_map(&v, "pick")?;
    m.retain(|k, _| keys.0.contains(k));
    Ok(super::jv(&m))
}

fn omit(v: Value, keys: Rest<String>) -> Result<Value, Error> {
    let mut m = expect_map(&v, "omit")?;
    m.retain(|k, _| !keys.0.contains(k));
    Ok(super::jv(&m))
}

fn expect_list(v: &Value, what: &str) -> Result<Vec<Value>, Error> {
    defined(v)?;
    if v.kind() != ValueKind::Seq {
        return Err(invalid(format!("{what} expects a list, got {}", v.kind())));
    }
    Ok(v.try_iter()?.collect())
}

fn uniq(v: Value) -> Result<Value, Error> {
    let mut out: Vec<Value> = Vec::new();
    for item in expect_list(&v, "uniq")? {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(Value::from(out))
}

fn compact(v: Value) -> Result<Value, Error> {
    let out: Vec<Value> = expect_list(&v, "compact")?
        .into_iter()
        .filter(|i| !is_empty(i))
        .collect();
    Ok(Value::from(out))
}

fn concat(lists: Rest<Value>) -> Result<Value, Error> {
    let mut out = Vec::new();
    for (i, l) in lists.0.iter().enumerate() {
        out.extend(expect_list(l, &format!("concat (argument {})", i + 1))?);
    }
    Ok(Value::from(out))
}

/// Deep merge: maps merge key by key, anything else in `over` replaces `base`.
fn deep_merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn merge(maps: Rest<Value>) -> Result<Value, Error> {
    let mut out = serde_json::Value::Object(Default::default());
    for (i, m) in maps.0.iter().enumerate() {
        let m = expect_map(m, &format!("merge (argument {})", i + 1))?;
        deep_merge(&mut out, serde_json::Value::Object(m));
    }
    Ok(super::jv(&out))
}

fn semver_compare(constraint: String, version: String) -> Result<bool, Error> {
    crate::engine::semver_matches(&constraint, &version).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::OfflineLookup;

    fn render(src: &str) -> Result<String, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        register(&mut env, Arc::new(OfflineLookup));
        env.render_str(
            src,
            minijinja::context! { values => minijinja::context! { a => 1, s => "x", e => "" } },
        )
    }

    fn ok(src: &str) -> String {
        render(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn serialisation() {
        assert_eq!(
            ok(r#"{{ {"a": 1, "b": [1, 2]} | toyaml }}"#),
            "a: 1\nb:\n- 1\n- 2"
        );
        assert_eq!(ok("{{ {} | toyaml }}"), "{}");
        assert_eq!(
            ok(r#"{{ {"b": 1, "a": "<x>"} | tojson }}"#),
            r#"{"a":"<x>","b":1}"#
        );
        assert_eq!(ok("{{ true }} {{ false }} {{ none }}"), "true false null");
        assert_eq!(ok(r#"{{ ("a: [1, 2]" | fromyaml).a[1] }}"#), "2");
        assert_eq!(ok(r#"{{ ('{"a": 1}' | fromjson).a }}"#), "1");
        assert!(render(r#"{{ "a: [" | fromyaml }}"#)
            .unwrap_err()
            .to_string()
            .contains("fromyaml"));
        assert!(render(r#"{{ "{" | fromjson }}"#).is_err());
    }

    #[test]
    fn text_filters() {
        assert_eq!(ok(r#"{{ "a\n\nb" | indent(2) }}"#), "  a\n\n  b");
        assert_eq!(ok(r#"{{ "a\nb" | nindent(4) }}"#), "\n    a\n    b");
        assert_eq!(ok("{{ 8080 | quote }}"), "\"8080\"");
        assert_eq!(ok("{{ true | quote }} {{ none | quote }}"), "\"true\" \"\"");
        assert_eq!(ok(r#"{{ 'say "hi"' | quote }}"#), r#""say \"hi\"""#);
        assert_eq!(ok(r#"{{ "it's" | squote }}"#), "'it''s'");
        assert_eq!(ok(r#"{{ "abcdef" | trunc(3) }}"#), "abc");
        assert_eq!(ok(r#"{{ "abcdef" | trunc(-2) }}"#), "ef");
        assert_eq!(ok(r#"{{ "ab" | trunc(63) }}"#), "ab");
        assert_eq!(ok(r#"{{ "v1.2" | trimprefix("v") }}"#), "1.2");
        assert_eq!(ok(r#"{{ "name-" | trimsuffix("-") }}"#), "name");
        assert_eq!(
            ok(r#"{{ "abc123" | regex_match("^[a-z]+[0-9]+$") }}"#),
            "true"
        );
        assert_eq!(ok(r#"{{ "abc" | regex_match("^[0-9]+$") }}"#), "false");
        assert_eq!(ok(r#"{{ "a.b.c" | regex_replace("\\.", "-") }}"#), "a-b-c");
        assert_eq!(
            ok(r#"{{ "k=v" | regex_replace("(\\w)=(\\w)", "$2=$1") }}"#),
            "v=k"
        );
        let err = render(r#"{{ "a" | regex_match("(") }}"#).unwrap_err();
        assert!(err.to_string().contains("bad regular expression"), "{err}");
    }

    #[test]
    fn encoding() {
        assert_eq!(ok(r#"{{ "admin" | b64encode }}"#), "YWRtaW4=");
        assert_eq!(ok(r#"{{ "YWRtaW4=" | b64decode }}"#), "admin");
        assert!(render(r#"{{ "%%%" | b64decode }}"#)
            .unwrap_err()
            .to_string()
            .contains("not valid base64"));
        assert_eq!(
            ok(r#"{{ "x" | sha256sum }}"#),
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
    }

    #[test]
    fn checks() {
        assert_eq!(ok(r#"{{ values.s | required("s needed") }}"#), "x");
        for expr in ["values.missing", "values.e", "none"] {
            let err = render(&format!(r#"{{{{ {expr} | required("need it") }}}}"#)).unwrap_err();
            assert_eq!(err.detail(), Some("need it"), "{expr}");
        }
        let err = render(r#"{{ fail("replicas must be >= 1") }}"#).unwrap_err();
        assert_eq!(err.detail(), Some("replicas must be >= 1"));
        assert_eq!(ok(r#"{{ values.e | default("d") }}"#), "d");
        assert_eq!(ok(r#"{{ values.missing | default("d") }}"#), "d");
        assert_eq!(ok(r#"{{ 0 | default(5) }}"#), "5");
        assert_eq!(ok(r#"{{ false | default(true) }}"#), "true");
        assert_eq!(ok(r#"{{ [] | default([1]) | tojson }}"#), "[1]");
        assert_eq!(ok(r#"{{ values.s | default("d") }}"#), "x");
        assert_eq!(ok(r#"{{ {"a": 1} | has_key("a") }}"#), "true");
        assert_eq!(ok(r#"{{ {"a": 1} | has_key("b") }}"#), "false");
        assert!(render(r#"{{ [1] | has_key("b") }}"#)
            .unwrap_err()
            .to_string()
            .contains("has_key expects a map, got a list"));
        assert_eq!(
            ok(r#"{{ semver_compare(">=1.25.0-0", "v1.34.0") }}"#),
            "true"
        );
        assert_eq!(ok(r#"{{ semver_compare("<1.25", "1.34.2") }}"#), "false");
        assert_eq!(
            ok(r#"{{ semver_compare("1.2.x || >=2.0.0 <3", "2.5.0") }}"#),
            "true"
        );
        assert!(render(r#"{{ semver_compare("junk!!", "1.0.0") }}"#).is_err());
        assert!(render(r#"{{ semver_compare(">=1.0", "banana") }}"#).is_err());
    }

    #[test]
    fn collections() {
        assert_eq!(
            ok(r#"{{ merge({"a": {"x": 1, "z": 0}}, {"a": {"y": 2, "z": 3}}) | tojson }}"#),
            r#"{"a":{"x":1,"y":2,"z":3}}"#
        );
        assert!(render(r#"{{ merge({}, [1]) }}"#)
            .unwrap_err()
            .to_string()
            .contains("merge (argument 2) expects a map"));
        assert_eq!(
            ok(r#"{{ {"a": 1, "b": 2} | pick("a") | tojson }}"#),
            r#"{"a":1}"#
        );
        assert_eq!(
            ok(r#"{{ {"a": 1, "b": 2} | omit("a") | tojson }}"#),
            r#"{"b":2}"#
        );
        assert_eq!(ok(r#"{{ concat([1], [2, 3]) | tojson }}"#), "[1,2,3]");
        assert!(render("{{ concat([1], 2) }}").is_err());
        assert_eq!(ok("{{ [1, 2, 1] | uniq | tojson }}"), "[1,2]");
        assert_eq!(
            ok(r#"{{ ["a", "", none, "b", 0, []] | compact | tojson }}"#),
            r#"["a","b"]"#
        );
    }

    #[test]
    fn lookup_is_empty_offline() {
        assert_eq!(
            ok(r#"{{ lookup("v1", "Secret", "ns", "db") | tojson }}"#),
            "{}"
        );
    }

    #[test]
    fn undefined_is_an_error_in_filters() {
        for f in [
            "toyaml",
            "tojson",
            "quote",
            "indent(2)",
            "b64encode",
            "sha256sum",
        ] {
            let err = render(&format!("{{{{ values.nope | {f} }}}}")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UndefinedError, "{f}");
        }
    }

    #[test]
    fn tpl_renders_with_context_and_stops_runaway_nesting() {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        register(&mut env, Arc::new(OfflineLookup));
        let ctx = minijinja::context! { values => minijinja::context! {
        t => "{{ values.n + 1 }}", n => 41, self_ref => "{{ values.self_ref | tpl }}" } };
        assert_eq!(
            env.render_str("{{ values.t | tpl }}", ctx.clone()).unwrap(),
            "42"
        );
        let err = env
            .render_str("{{ values.self_ref | tpl }}", ctx)
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("tpl nested more than 8"),
            "{err:#}"
        );
    }
}
