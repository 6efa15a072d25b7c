//! The stored form of a record: gzip-compressed JSON (sorted keys, so stable bytes).

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::{Release, ReleaseError};

/// Decompressed records larger than this are refused (a corrupt or hostile Secret must not
/// exhaust memory).
const MAX_DECODED: u64 = 512 << 20;

pub fn encode(r: &Release) -> Vec<u8> {
    let json = serde_json::to_vec(r).expect("a Release always serialises");
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&json).expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}

/// `record` names the source in errors (a Secret name, a file).
pub fn decode(bytes: &[u8], record: &str) -> Result<Release, ReleaseError> {
    let bad = |message: String| ReleaseError::Record {
        record: record.to_string(),
        message,
    };
    let mut json = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_DECODED + 1)
        .read_to_end(&mut json)
        .map_err(|e| bad(format!("not gzip data: {e}")))?;
    if json.len() as u64 > MAX_DECODED {
        return Err(bad(format!(
            "larger than {} MiB once decompressed",
            MAX_DECODED >> 20
        )));
    }
    serde_json::from_slice(&json).map_err(|e| bad(format!("invalid record JSON: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kube::ObjectRef;
    use crate::release::{ChartInfo, Status};
    use serde_json::json;

    pub(crate) fn sample() -> Release {
        Release {
            name: "demo".into(),
            namespace: "data".into(),
            revision: 1,
            status: Status::Deployed,
            chart: ChartInfo {
                name: "cassandra".into(),
                version: "1.2.3".into(),
                app_version: Some("5.0".into()),
            },
            values: json!({"replicas": 3}),
            computed_values: json!({"replicas": 3, "image": {"tag": "5.0"}}),
            manifest:
                "---\n# Source: cassandra/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n"
                    .into(),
            resources: vec![ObjectRef {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("data".into()),
                name: "demo".into(),
            }],
            notes: Some("hello".into()),
            first_deployed: "2026-01-01T00:00:00Z".into(),
            last_deployed: "2026-01-01T00:00:00Z".into(),
            deleted: None,
            description: "Install complete".into(),
            hooks: Vec::new(),
            lifecycle: Default::default(),
        }
    }

    #[test]
    fn round_trip_and_stable_bytes() {
        let r = sample();
        let a = encode(&r);
        assert_eq!(a, encode(&r));
        assert_eq!(decode(&a, "x").unwrap(), r);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = decode(b"not gzip at all", "secret data/s1").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("release record secret data/s1: not gzip data"),
            "{e}"
        );
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(b"{\"name\": 1}").unwrap();
        let e = decode(&gz.finish().unwrap(), "s2").unwrap_err();
        assert!(e.to_string().contains("s2: invalid record JSON"), "{e}");
        // Truncated gzip stream.
        let full = encode(&sample());
        let e = decode(&full[..full.len() / 2], "s3").unwrap_err();
        assert!(e.to_string().contains("s3: not gzip data"), "{e}");
        // Unknown fields are refused rather than silently dropped.
        let mut v = serde_json::to_value(sample()).unwrap();
        v["surprise"] = json!(1);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(v.to_string().as_bytes()).unwrap();
        let e = decode(&gz.finish().unwrap(), "s4").unwrap_err();
        assert!(e.to_string().contains("unknown field `surprise`"), "{e}");
    }
}
