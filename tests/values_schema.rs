//! values.schema.json: every violation listed with its JSON path, in the chart and in
//! each subchart's section; drafts 7 and 2020-12.

mod common;

use common::{fixture, write_tree};
use serde_json::json;
use stackpkg::chart;
use stackpkg::values::{self, ValuesError};

#[test]
fn valid_values_pass() {
    let c = chart::load(&fixture("stack")).unwrap();
    let (c, v) = values::prepare(&c, &json!({})).unwrap();
    values::validate(&c, &v).unwrap();
}

#[test]
fn every_violation_is_listed_with_its_path() {
    let c = chart::load(&fixture("stack")).unwrap();
    let user = json!({
        "replicas": -1,
        "image": {"repository": 5, "tag": null},
        "kafka-a": {"brokers": 0, "service": {"port": 70000}}
    });
    let (c, v) = values::prepare(&c, &user).unwrap();
    let err = values::validate(&c, &v).unwrap_err();
    let ValuesError::Schema { violations, schema } = &err else {
        panic!("expected a schema error, got {err}");
    };
    assert_eq!(
        violations,
        &vec![
            "/image/repository: 5 is not of type \"string\"".to_string(),
            "/replicas: -1 is less than the minimum of 1".to_string(),
            "/kafka-a/brokers: 0 is less than the minimum of 1".to_string(),
            "/kafka-a/service/port: 70000 is greater than the maximum of 65535".to_string(),
        ]
    );
    assert!(schema.contains("stack/values.schema.json"), "{schema}");
    assert!(
        schema.contains("stack/charts/kafka/values.schema.json"),
        "{schema}"
    );
    let line = err.to_string();
    assert!(line.starts_with("values do not match "), "{line}");
    assert!(line.contains("(4 violations): /image/repository"), "{line}");
    assert!(!line.contains('\n'));
}

#[test]
fn required_properties_and_draft_2020_12_keywords() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("values.yaml", "ports: [80, 443]\n"),
            (
                "values.schema.json",
                r#"{"$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object", "required": ["name"],
                    "properties": {"ports": {"type": "array", "prefixItems": [{"const": 80}], "items": {"type": "integer"}}},
                    "$defs": {"unused": {"type": "string"}}}"#,
            ),
        ],
    );
    let c = chart::load(dir.path()).unwrap();
    let (c2, v) = values::prepare(&c, &json!({"ports": [81, "x"]})).unwrap();
    let e = values::validate(&c2, &v).unwrap_err().to_string();
    assert!(e.contains("/: \"name\" is a required property"), "{e}");
    assert!(e.contains("/ports/0: 80 was expected"), "{e}");
    assert!(
        e.contains("/ports/1: \"x\" is not of type \"integer\""),
        "{e}"
    );
}

#[test]
fn a_broken_schema_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("values.schema.json", r#"{"type": "banana"}"#),
        ],
    );
    let c = chart::load(dir.path()).unwrap();
    let (c, v) = values::prepare(&c, &json!({})).unwrap();
    let e = values::validate(&c, &v).unwrap_err().to_string();
    assert!(
        e.contains("values.schema.json: not a usable JSON Schema"),
        "{e}"
    );
}
