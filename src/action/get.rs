//! `get values|manifest|notes|hooks|all`: parts of one stored revision.

use serde_json::Value;

use crate::release::{Driver, Release};
use crate::Result;

/// The latest revision, or the given one.
pub async fn get(
    driver: &dyn Driver,
    namespace: &str,
    name: &str,
    revision: Option<u64>,
) -> Result<Release> {
    crate::action::status::status(driver, namespace, name, revision).await
}

/// The record's `hooks` field, when the record has one and it is not empty. Read through the
/// serialised record so this works whatever shape the hooks take.
pub fn hooks(r: &Release) -> Option<Value> {
    let v = serde_json::to_value(r).ok()?.get("hooks")?.clone();
    let empty = match &v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    };
    (!empty).then_some(v)
}

/// User-supplied values, or with `all` the computed values the templates saw.
pub fn values(r: &Release, all: bool) -> &Value {
    if all {
        &r.computed_values
    } else {
        &r.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::codec::tests::sample;

    #[test]
    fn values_and_missing_hooks() {
        let r = sample();
        assert_eq!(values(&r, false), &serde_json::json!({"replicas": 3}));
        assert_eq!(values(&r, true)["image"]["tag"], "5.0");
        assert_eq!(hooks(&r), None);
    }
}
