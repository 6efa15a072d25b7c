//! Strict validation of rendered objects against the vendored Kubernetes JSON schemas
//! (schemas/k8s/, see its README for the source and licence).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::Object;

const BUNDLE: &str = include_str!("../../schemas/k8s/v1.34.0-strict.json");

/// The Kubernetes version the vendored schemas describe.
pub const SCHEMA_KUBE_VERSION: &str = "v1.34.0";

struct Bundle {
    /// `apiVersion kind` → kind schema (without `$defs`).
    kinds: BTreeMap<String, serde_json::Value>,
    defs: serde_json::Value,
}

fn bundle() -> &'static Bundle {
    static B: OnceLock<Bundle> = OnceLock::new();
    B.get_or_init(|| {
        let mut v: serde_json::Value =
            serde_json::from_str(BUNDLE).expect("vendored schema bundle is valid JSON");
        let kinds = serde_json::from_value(v["kinds"].take()).expect("bundle has kinds");
        Bundle {
            kinds,
            defs: v["$defs"].take(),
        }
    })
}

/// The `apiVersion kind` pairs a schema exists for, sorted.
pub fn known_kinds() -> Vec<&'static str> {
    bundle().kinds.keys().map(String::as_str).collect()
}

/// Every violation of `object` as `source: Kind/name: path: message`; a kind without a
/// schema is one violation.
pub fn validate(object: &Object) -> Vec<String> {
    let b = bundle();
    let who = format!("{}: {} {}", object.source, object.kind, object.name);
    let key = format!("{} {}", object.api_version, object.kind);
    let Some(kind_schema) = b.kinds.get(&key) else {
        return vec![format!(
            "{who}: no Kubernetes {SCHEMA_KUBE_VERSION} schema for apiVersion {:?} kind {:?}",
            object.api_version, object.kind
        )];
    };
    let mut schema = kind_schema.clone();
    schema["$defs"] = b.defs.clone();
    let validator = match jsonschema::validator_for(&schema) {
        Ok(v) => v,
        Err(e) => return vec![format!("{who}: internal schema error: {e}")],
    };
    let mut out: Vec<String> = validator
        .iter_errors(&object.value)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() {
                "/".to_string()
            } else {
                path
            };
            format!("{who}: {path}: {e}")
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_file;

    fn obj(yaml: &str) -> Object {
        parse_file("c/templates/x.yaml", yaml).unwrap().remove(0)
    }

    #[test]
    fn valid_object_passes() {
        let o = obj("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 80\n    targetPort: http\n");
        assert_eq!(validate(&o), Vec::<String>::new());
    }

    #[test]
    fn unknown_field_and_wrong_type_are_reported_with_paths() {
        let o = obj("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  portz: []\n  ports:\n  - port: eighty\n");
        let errs = validate(&o);
        assert!(
            errs.iter()
                .any(|e| e.contains("/spec") && e.contains("portz")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.contains("/spec/ports/0/port")),
            "{errs:?}"
        );
        assert!(errs
            .iter()
            .all(|e| e.starts_with("c/templates/x.yaml: Service s: ")));
    }

    #[test]
    fn unknown_kind_has_no_schema() {
        let o = obj("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n");
        let errs = validate(&o);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("no Kubernetes v1.34.0 schema"), "{errs:?}");
        assert!(known_kinds().contains(&"apps/v1 Deployment"));
    }
}
