//! Just enough of the Kubernetes protobuf encoding to accept the typed-client writes that
//! kubectl and helm send as `application/vnd.kubernetes.protobuf`: Namespace, ConfigMap,
//! Secret, ServiceAccount and DeleteOptions. Other kinds get a clear 415.

use base64::Engine;
use serde_json::{json, Map, Value};

const MAGIC: &[u8] = b"k8s\x00";

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, wt) = (key >> 3, key & 7);
        if num == 0 {
            return Err("field number 0".into());
        }
        let f = match wt {
            0 => Field::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| "length overflow")?;
                let end = self.pos.checked_add(len).ok_or("length overflow")?;
                let b = self.buf.get(self.pos..end).ok_or("truncated field")?;
                self.pos = end;
                Field::Bytes(b)
            }
            1 => {
                self.pos += 8;
                if self.pos > self.buf.len() {
                    return Err("truncated fixed64".into());
                }
                Field::Fixed
            }
            5 => {
                self.pos += 4;
                if self.pos > self.buf.len() {
                    return Err("truncated fixed32".into());
                }
                Field::Fixed
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok(Some((num, f)))
    }
}

fn string(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in string field".to_string())
}

fn bytes_of<'a>(f: &Field<'a>, what: &str) -> Result<&'a [u8], String> {
    match f {
        Field::Bytes(b) => Ok(b),
        _ => Err(format!("{what}: expected a length-delimited field")),
    }
}

fn varint_of(f: &Field, what: &str) -> Result<u64, String> {
    match f {
        Field::Varint(v) => Ok(*v),
        _ => Err(format!("{what}: expected a varint field")),
    }
}

/// A map entry (key = 1, value = 2); `bytes_value` base64-encodes the value as JSON does.
fn map_entry(b: &[u8], bytes_value: bool) -> Result<(String, String), String> {
    let mut r = Reader::new(b);
    let (mut k, mut v) = (String::new(), String::new());
    while let Some((n, f)) = r.next()? {
        match n {
            1 => k = string(bytes_of(&f, "map key")?)?,
            2 => {
                let raw = bytes_of(&f, "map value")?;
                v = if bytes_value {
                    base64::engine::general_purpose::STANDARD.encode(raw)
                } else {
                    string(raw)?
                }
            }
            _ => {}
        }
    }
    Ok((k, v))
}

fn time(b: &[u8]) -> Result<Value, String> {
    let mut r = Reader::new(b);
    let mut secs = 0i64;
    while let Some((n, f)) = r.next()? {
        if n == 1 {
            secs = varint_of(&f, "time seconds")? as i64;
        }
    }
    jiff::Timestamp::from_second(secs)
        .map(|t| json!(t.to_string()))
        .map_err(|e| format!("invalid time: {e}"))
}

fn insert_map(obj: &mut Value, field: &str, k: String, v: String) {
    if !obj[field].is_object() {
        obj[field] = json!({});
    }
    obj[field][k] = json!(v);
}

fn object_meta(b: &[u8]) -> Result<Value, String> {
    let mut r = Reader::new(b);
    let mut m = json!({});
    while let Some((n, f)) = r.next()? {
        match n {
            1 => m["name"] = json!(string(bytes_of(&f, "name")?)?),
            2 => m["generateName"] = json!(string(bytes_of(&f, "generateName")?)?),
            3 => m["namespace"] = json!(string(bytes_of(&f, "namespace")?)?),
            5 => m["uid"] = json!(string(bytes_of(&f, "uid")?)?),
            6 => m["resourceVersion"] = json!(string(bytes_of(&f, "resourceVersion")?)?),
            7 => m["generation"] = json!(varint_of(&f, "generation")? as i64),
            8 => m["creationTimestamp"] = time(bytes_of(&f, "creationTimestamp")?)?,
            9 => m["deletionTimestamp"] = time(bytes_of(&f, "deletionTimestamp")?)?,
            11 => {
                let (k, v) = map_entry(bytes_of(&f, "labels")?, false)?;
                insert_map(&mut m, "labels", k, v);
            }
            12 => {
                let (k, v) = map_entry(bytes_of(&f, "annotations")?, false)?;
                insert_map(&mut m, "annotations", k, v);
            }
            13 => {
                let mut rr = Reader::new(bytes_of(&f, "ownerReferences")?);
                let mut o = json!({});
                while let Some((n, f)) = rr.next()? {
                    match n {
                        1 => o["kind"] = json!(string(bytes_of(&f, "kind")?)?),
                        3 => o["name"] = json!(string(bytes_of(&f, "name")?)?),
                        4 => o["uid"] = json!(string(bytes_of(&f, "uid")?)?),
                        5 => o["apiVersion"] = json!(string(bytes_of(&f, "apiVersion")?)?),
                        6 => o["controller"] = json!(varint_of(&f, "controller")? != 0),
                        7 => {
                            o["blockOwnerDeletion"] =
                                json!(varint_of(&f, "blockOwnerDeletion")? != 0)
                        }
                        _ => {}
                    }
                }
                push(&mut m, "ownerReferences", o);
            }
            14 => push(
                &mut m,
                "finalizers",
                json!(string(bytes_of(&f, "finalizers")?)?),
            ),
            _ => {}
        }
    }
    Ok(m)
}

fn push(obj: &mut Value, field: &str, v: Value) {
    if !obj[field].is_array() {
        obj[field] = json!([]);
    }
    if let Some(a) = obj[field].as_array_mut() {
        a.push(v);
    }
}

/// Decodes one object of `kind` from its protobuf body.
fn decode_kind(kind: &str, raw: &[u8]) -> Result<Value, String> {
    let mut r = Reader::new(raw);
    let mut o = Value::Object(Map::new());
    while let Some((n, f)) = r.next()? {
        match (kind, n) {
            (_, 1) if kind != "DeleteOptions" => {
                o["metadata"] = object_meta(bytes_of(&f, "metadata")?)?
            }
            ("Secret", 2) => {
                let (k, v) = map_entry(bytes_of(&f, "data")?, true)?;
                insert_map(&mut o, "data", k, v);
            }
            ("Secret", 3) => o["type"] = json!(string(bytes_of(&f, "type")?)?),
            ("Secret", 4) | ("ConfigMap", 2) => {
                let field = if kind == "Secret" {
                    "stringData"
                } else {
                    "data"
                };
                let (k, v) = map_entry(bytes_of(&f, field)?, false)?;
                insert_map(&mut o, field, k, v);
            }
            ("Secret", 5) | ("ConfigMap", 4) => {
                o["immutable"] = json!(varint_of(&f, "immutable")? != 0)
            }
            ("ConfigMap", 3) => {
                let (k, v) = map_entry(bytes_of(&f, "binaryData")?, true)?;
                insert_map(&mut o, "binaryData", k, v);
            }
            ("Namespace", 2) => {
                let mut rr = Reader::new(bytes_of(&f, "spec")?);
                let mut spec = json!({});
                while let Some((n, f)) = rr.next()? {
                    if n == 1 {
                        push(
                            &mut spec,
                            "finalizers",
                            json!(string(bytes_of(&f, "finalizers")?)?),
                        );
                    }
                }
                o["spec"] = spec;
            }
            ("ServiceAccount", 3) => {
                let mut rr = Reader::new(bytes_of(&f, "imagePullSecrets")?);
                let mut s = json!({});
                while let Some((n, f)) = rr.next()? {
                    if n == 1 {
                        s["name"] = json!(string(bytes_of(&f, "name")?)?);
                    }
                }
                push(&mut o, "imagePullSecrets", s);
            }
            ("ServiceAccount", 4) => {
                o["automountServiceAccountToken"] =
                    json!(varint_of(&f, "automountServiceAccountToken")? != 0)
            }
            ("DeleteOptions", 1) => {
                o["gracePeriodSeconds"] = json!(varint_of(&f, "gracePeriodSeconds")? as i64)
            }
            ("DeleteOptions", 2) => {
                let mut rr = Reader::new(bytes_of(&f, "preconditions")?);
                let mut p = json!({});
                while let Some((n, f)) = rr.next()? {
                    match n {
                        1 => p["uid"] = json!(string(bytes_of(&f, "uid")?)?),
                        2 => {
                            p["resourceVersion"] = json!(string(bytes_of(&f, "resourceVersion")?)?)
                        }
                        _ => {}
                    }
                }
                o["preconditions"] = p;
            }
            ("DeleteOptions", 3) => {
                o["orphanDependents"] = json!(varint_of(&f, "orphanDependents")? != 0)
            }
            ("DeleteOptions", 4) => {
                o["propagationPolicy"] = json!(string(bytes_of(&f, "propagationPolicy")?)?)
            }
            ("DeleteOptions", 5) => push(&mut o, "dryRun", json!(string(bytes_of(&f, "dryRun")?)?)),
            _ => {}
        }
    }
    Ok(o)
}

const KINDS: &[&str] = &[
    "Namespace",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "DeleteOptions",
];

/// Decodes a `k8s\0`-prefixed protobuf body into the JSON form of the object.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("protobuf body lacks the k8s\\0 prefix")?;
    let mut r = Reader::new(rest);
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while let Some((n, f)) = r.next()? {
        match n {
            1 => {
                let mut tr = Reader::new(bytes_of(&f, "typeMeta")?);
                while let Some((n, f)) = tr.next()? {
                    match n {
                        1 => api_version = string(bytes_of(&f, "apiVersion")?)?,
                        2 => kind = string(bytes_of(&f, "kind")?)?,
                        _ => {}
                    }
                }
            }
            2 => raw = bytes_of(&f, "raw")?,
            _ => {}
        }
    }
    if !KINDS.contains(&kind.as_str()) {
        return Err(format!(
            "protobuf bodies are supported for {} only, not {kind:?}; send JSON",
            KINDS.join(", ")
        ));
    }
    let mut o = decode_kind(&kind, raw)?;
    if kind != "DeleteOptions" {
        o["apiVersion"] = json!(api_version);
        o["kind"] = json!(kind);
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn field(n: u64, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(n << 3 | 2, &mut out);
        varint(data.len() as u64, &mut out);
        out.extend_from_slice(data);
        out
    }

    fn entry(k: &str, v: &[u8]) -> Vec<u8> {
        [field(1, k.as_bytes()), field(2, v)].concat()
    }

    #[test]
    fn decodes_a_secret() {
        let meta = [
            field(1, b"sh.helm.release.v1.r.v1"),
            field(3, b"default"),
            field(11, &entry("owner", b"helm")),
        ]
        .concat();
        let secret = [
            field(1, &meta),
            field(2, &entry("release", b"\x00\x01")),
            field(3, b"helm.sh/release.v1"),
        ]
        .concat();
        let tm = [field(1, b"v1"), field(2, b"Secret")].concat();
        let body = [MAGIC.to_vec(), field(1, &tm), field(2, &secret)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.r.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["data"]["release"], "AAE=");
        assert_eq!(v["type"], "helm.sh/release.v1");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"").is_err());
        assert!(decode(b"k8s\x00\xff\xff\xff").is_err());
        assert!(decode(b"k8s\x00\x0a\x05ab").is_err());
        let tm = [field(1, b"apps/v1"), field(2, b"Deployment")].concat();
        let body = [MAGIC.to_vec(), field(1, &tm)].concat();
        assert!(decode(&body).unwrap_err().contains("Deployment"));
        for len in 0..64u8 {
            let junk: Vec<u8> = MAGIC
                .iter()
                .copied()
                .chain((0..len).map(|i| i.wrapping_mul(37)))
                .collect();
            let _ = decode(&junk);
        }
    }
}
