//! The `--set` family's expression language, with Helm's semantics:
//! `a.b=c,x[0].y=z`, `a\.b=c` (escaped dot), `a=x\,y` (escaped comma), `a={x,y}` lists,
//! typed scalars for `--set` (ints, bools, null), strings for `--set-string`, JSON for
//! `--set-json`, file contents for `--set-file`, and the raw rest for `--set-literal`.

use serde_json::{Map, Value};

/// Deepest key path (`a.b.c…`) accepted, as in Helm.
const MAX_DEPTH: usize = 30;
/// Largest list index accepted, as in Helm, so `a[999999999]=x` cannot exhaust memory.
const MAX_INDEX: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    Typed,
    String,
    Json,
    File,
    Literal,
}

impl SetKind {
    pub fn flag(self) -> &'static str {
        match self {
            SetKind::Typed => "--set",
            SetKind::String => "--set-string",
            SetKind::Json => "--set-json",
            SetKind::File => "--set-file",
            SetKind::Literal => "--set-literal",
        }
    }
}

/// A syntax error; `column` is 1-based, counted in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError {
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

struct Parser<'a> {
    s: Vec<char>,
    i: usize,
    kind: SetKind,
    read_file: &'a mut dyn FnMut(&str) -> Result<String, String>,
}

/// Parse `expr` and set its values into `base`. `read_file` serves `--set-file`.
pub fn parse_into(
    expr: &str,
    kind: SetKind,
    base: &mut Map<String, Value>,
    read_file: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<(), SetError> {
    if expr.trim().is_empty() {
        return Err(SetError {
            column: 1,
            message: "empty expression (expected key=value)".into(),
        });
    }
    let mut p = Parser {
        s: expr.chars().collect(),
        i: 0,
        kind,
        read_file,
    };
    loop {
        let segs = p.key()?;
        let value = p.value()?;
        set_path(base, &segs, value);
        match p.peek() {
            None => return Ok(()),
            Some(',') => {
                p.i += 1;
                // A trailing comma is harmless (Helm accepts it too).
                if p.peek().is_none() {
                    return Ok(());
                }
            }
            Some(c) => return Err(p.err(format!("unexpected {c:?} after a value (expected ',')"))),
        }
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn err(&self, message: String) -> SetError {
        SetError {
            column: self.i + 1,
            message,
        }
    }

    fn err_at(&self, i: usize, message: String) -> SetError {
        SetError {
            column: i + 1,
            message,
        }
    }

    /// Read a key path up to and including the `=`.
    fn key(&mut self) -> Result<Vec<Seg>, SetError> {
        let start = self.i;
        let mut segs = Vec::new();
        let mut name = String::new();
        let mut after_index = false;
        loop {
            let Some(c) = self.peek() else {
                let key: String = self.s[start..].iter().collect();
                return Err(self.err(format!("key {key:?} has no value (expected '=')")));
            };
            if after_index && !matches!(c, '.' | '[' | '=') {
                return Err(self.err(format!(
                    "unexpected {c:?} after ']' (expected '.', '[' or '=')"
                )));
            }
            match c {
                '\\' => {
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err(
                            self.err_at(self.i - 1, "expression ends with a lone '\\'".into())
                        );
                    };
                    name.push(e);
                    self.i += 1;
                }
                '.' => {
                    if name.is_empty() && !after_index {
                        return Err(self.err("empty key name before '.'".into()));
                    }
                    if !name.is_empty() {
                        segs.push(Seg::Key(std::mem::take(&mut name)));
                    }
                    if segs.len() >= MAX_DEPTH {
                        return Err(
                            self.err(format!("key is nested deeper than {MAX_DEPTH} levels"))
                        );
                    }
                    after_index = false;
                    self.i += 1;
                }
                '[' => {
                    if name.is_empty() && segs.is_empty() {
                        return Err(self.err("a list index needs a key name before it".into()));
                    }
                    if !name.is_empty() {
                        segs.push(Seg::Key(std::mem::take(&mut name)));
                    }
                    if segs.len() >= MAX_DEPTH {
                        return Err(
                            self.err(format!("key is nested deeper than {MAX_DEPTH} levels"))
                        );
                    }
                    let open = self.i;
                    self.i += 1;
                    let mut digits = String::new();
                    loop {
                        match self.peek() {
                            None => {
                                return Err(
                                    self.err_at(open, "list index is missing its ']'".into())
                                )
                            }
                            Some(']') => break,
                            Some(d) => {
                                digits.push(d);
                                self.i += 1;
                            }
                        }
                    }
                    let idx: usize = match digits.parse() {
                        Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => n,
                        _ => {
                            return Err(self.err_at(
                                open + 1,
                                format!("invalid list index {digits:?} (expected a number 0 to {MAX_INDEX})"),
                            ))
                        }
                    };
                    if idx > MAX_INDEX {
                        return Err(self.err_at(
                            open + 1,
                            format!("list index {idx} is larger than the maximum {MAX_INDEX}"),
                        ));
                    }
                    segs.push(Seg::Index(idx));
                    self.i += 1;
                    after_index = true;
                }
                '=' => {
                    if !name.is_empty() {
                        segs.push(Seg::Key(name));
                    } else if !after_index {
                        return Err(self.err("empty key name before '='".into()));
                    }
                    self.i += 1;
                    return Ok(segs);
                }
                ',' => {
                    let key: String = self.s[start..self.i].iter().collect();
                    return Err(self.err(format!("key {key:?} has no value (expected '=')")));
                }
                c => {
                    name.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// Characters up to an unescaped stop character (not consumed); `\x` gives `x`.
    fn until(&mut self, stops: &[char]) -> Result<String, SetError> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if stops.contains(&c) {
                break;
            }
            if c == '\\' {
                self.i += 1;
                match self.peek() {
                    Some(e) => out.push(e),
                    None => {
                        return Err(
                            self.err_at(self.i - 1, "expression ends with a lone '\\'".into())
                        )
                    }
                }
            } else {
                out.push(c);
            }
            self.i += 1;
        }
        Ok(out)
    }

    fn scalar(&self, text: String) -> Value {
        match self.kind {
            SetKind::Typed => typed(text),
            _ => Value::String(text),
        }
    }

    fn value(&mut self) -> Result<Value, SetError> {
        match self.kind {
            SetKind::Literal => {
                let rest: String = self.s[self.i..].iter().collect();
                self.i = self.s.len();
                Ok(Value::String(rest))
            }
            SetKind::Json => {
                let start = self.i;
                let rest: String = self.s[self.i..].iter().collect();
                let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
                match stream.next() {
                    Some(Ok(v)) => {
                        let used = rest[..stream.byte_offset()].chars().count();
                        self.i += used;
                        Ok(v)
                    }
                    Some(Err(e)) => {
                        // serde_json counts columns within the value; map back to the expression.
                        let col = if e.line() == 1 {
                            start + e.column().max(1) - 1
                        } else {
                            start
                        };
                        Err(self.err_at(
                            col,
                            format!(
                                "invalid JSON value: {}",
                                super::yaml::strip_location(&e.to_string())
                            ),
                        ))
                    }
                    None => Err(self.err("missing JSON value after '='".into())),
                }
            }
            SetKind::File => {
                let start = self.i;
                let path = self.until(&[','])?;
                if path.is_empty() {
                    return Err(self.err_at(start, "missing file path after '='".into()));
                }
                let text = (self.read_file)(&path).map_err(|m| self.err_at(start, m))?;
                Ok(Value::String(text))
            }
            SetKind::Typed | SetKind::String => {
                if self.peek() == Some('{') {
                    let open = self.i;
                    self.i += 1;
                    let mut items = Vec::new();
                    loop {
                        let item = self.until(&[',', '}'])?;
                        match self.peek() {
                            None => {
                                return Err(
                                    self.err_at(open, "list is missing its closing '}'".into())
                                )
                            }
                            Some('}') => {
                                self.i += 1;
                                // `{}` is an empty list rather than Helm's list of one "".
                                if !(item.is_empty() && items.is_empty()) {
                                    items.push(self.scalar(item));
                                }
                                return Ok(Value::Array(items));
                            }
                            _ => {
                                self.i += 1;
                                items.push(self.scalar(item));
                            }
                        }
                    }
                }
                let text = self.until(&[','])?;
                Ok(self.scalar(text))
            }
        }
    }
}

/// Helm's typing for `--set`: true/false/null (any case), integers without a leading
/// zero (and `0` itself); everything else, floats included, stays a string.
fn typed(text: String) -> Value {
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::from(0);
    }
    if !text.is_empty() && !text.starts_with('0') {
        if let Ok(i) = text.parse::<i64>() {
            return Value::from(i);
        }
    }
    Value::String(text)
}

fn set_path(base: &mut Map<String, Value>, segs: &[Seg], value: Value) {
    // The parser always starts a path with a key name.
    if let Some((Seg::Key(first), rest)) = segs.split_first() {
        assign(
            base.entry(first.clone()).or_insert(Value::Null),
            rest,
            value,
        );
    }
}

/// Walk (creating or replacing containers as needed) and set the value at the end.
fn assign(cur: &mut Value, segs: &[Seg], value: Value) {
    let Some((seg, rest)) = segs.split_first() else {
        *cur = value;
        return;
    };
    match seg {
        Seg::Key(k) => {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            if let Value::Object(m) = cur {
                assign(m.entry(k.clone()).or_insert(Value::Null), rest, value);
            }
        }
        Seg::Index(i) => {
            if !cur.is_array() {
                *cur = Value::Array(Vec::new());
            }
            if let Value::Array(a) = cur {
                if a.len() <= *i {
                    a.resize(i + 1, Value::Null);
                }
                assign(&mut a[*i], rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(kind: SetKind, e: &str) -> Result<Value, SetError> {
        let mut m = Map::new();
        let mut rf = |path: &str| -> Result<String, String> {
            if path == "cert.pem" {
                Ok("PEM\n".into())
            } else {
                Err(format!("cannot read {path}"))
            }
        };
        parse_into(e, kind, &mut m, &mut rf).map(|_| Value::Object(m))
    }

    fn set(e: &str) -> Value {
        p(SetKind::Typed, e).unwrap()
    }

    #[test]
    fn helm_examples() {
        assert_eq!(
            set("a.b=c,x[0].y=z"),
            json!({"a": {"b": "c"}, "x": [{"y": "z"}]})
        );
        assert_eq!(set(r"a\.b=c"), json!({"a.b": "c"}));
        assert_eq!(set(r"a=x\,y"), json!({"a": "x,y"}));
        assert_eq!(set("a={x,1,true}"), json!({"a": ["x", 1, true]}));
        assert_eq!(set("a={}"), json!({"a": []}));
        assert_eq!(set("a[2]=x"), json!({"a": [null, null, "x"]}));
        assert_eq!(set("a[0][1]=x"), json!({"a": [[null, "x"]]}));
        assert_eq!(
            set("a=1,b=true,c=null,d=0,e=007,f=1.5,g=-3,h=TRUE,i="),
            json!({"a": 1, "b": true, "c": null, "d": 0, "e": "007", "f": "1.5", "g": -3, "h": true, "i": ""})
        );
        assert_eq!(set("a.b=1,a.c=2"), json!({"a": {"b": 1, "c": 2}}));
        assert_eq!(set("a=1,"), json!({"a": 1}));
        assert_eq!(set("name=x=y"), json!({"name": "x=y"}));
        assert_eq!(
            p(SetKind::String, "a=1,b=true,c={1,2}").unwrap(),
            json!({"a": "1", "b": "true", "c": ["1", "2"]})
        );
        assert_eq!(
            p(SetKind::Json, r#"a={"x":[1,2]},b.c=null,d="s""#).unwrap(),
            json!({"a": {"x": [1, 2]}, "b": {"c": null}, "d": "s"})
        );
        assert_eq!(
            p(SetKind::File, "tls.crt=cert.pem").unwrap(),
            json!({"tls": {"crt": "PEM\n"}})
        );
        assert_eq!(
            p(SetKind::Literal, "a.b=x,y={z}").unwrap(),
            json!({"a": {"b": "x,y={z}"}})
        );
    }

    #[test]
    fn bad_syntax_names_the_column() {
        let cases: &[(SetKind, &str, usize, &str)] = &[
            (SetKind::Typed, "a", 2, "has no value"),
            (SetKind::Typed, "a,b=1", 2, "has no value"),
            (SetKind::Typed, "=1", 1, "empty key"),
            (SetKind::Typed, "a..b=1", 3, "empty key"),
            (SetKind::Typed, "a[x]=1", 3, "invalid list index"),
            (SetKind::Typed, "a[-1]=1", 3, "invalid list index"),
            (SetKind::Typed, "a[1=1", 2, "missing its ']'"),
            (
                SetKind::Typed,
                "a[99999999]=1",
                3,
                "larger than the maximum",
            ),
            (SetKind::Typed, "a[0]b=1", 5, "after ']'"),
            (SetKind::Typed, "[0]=1", 1, "needs a key name"),
            (SetKind::Typed, "a={x,y", 3, "closing '}'"),
            (SetKind::Typed, "a={x}y", 6, "unexpected"),
            (SetKind::Typed, "a=b\\", 4, "lone"),
            (SetKind::Typed, "", 1, "empty expression"),
            (SetKind::Json, "a={bad}", 4, "invalid JSON"),
            (SetKind::Json, "a=", 3, "missing JSON"),
            (SetKind::Json, "a=1 2", 4, "unexpected"),
            (SetKind::File, "a=missing.txt", 3, "cannot read"),
            (SetKind::File, "a=", 3, "missing file path"),
        ];
        for (kind, expr, col, needle) in cases {
            let e = p(*kind, expr).unwrap_err();
            assert!(e.message.contains(needle), "{expr:?}: {e:?}");
            assert_eq!(e.column, *col, "{expr:?}: {e:?}");
        }
        let deep = (0..40)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(".")
            + "=1";
        assert!(p(SetKind::Typed, &deep)
            .unwrap_err()
            .message
            .contains("nested deeper"));
    }
}
