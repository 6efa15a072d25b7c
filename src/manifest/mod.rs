//! Rendered objects: split documents, identity (group/version/kind, namespace, name),
//! and the install order (docs/templates.md, "Output").

pub mod k8s_schema;

use std::collections::BTreeMap;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error(
        "{source_name}: line {line} of the rendered output: invalid YAML: {message}{}",
        near(text)
    )]
    Yaml {
        source_name: String,
        line: usize,
        message: String,
        text: String,
    },
    #[error("{source_name}: line {line} of the rendered output: a document must be a YAML mapping (a Kubernetes object), found {found}")]
    NotMapping {
        source_name: String,
        line: usize,
        found: &'static str,
    },
    #[error("{source_name}: line {line} of the rendered output: object has no {field}")]
    Missing {
        source_name: String,
        line: usize,
        field: &'static str,
    },
    #[error("duplicate object {id}: rendered by {first} and by {second}")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
}

/// One Kubernetes object from a rendered file.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Template (or CRD file) it came from, e.g. `mychart/templates/service.yaml`.
    pub source: String,
    /// Position of the document inside its file.
    pub index: usize,
    /// The document as rendered (comments and formatting kept), without surrounding blank lines.
    pub text: String,
    pub value: serde_json::Value,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace`, if the object sets one.
    pub namespace: Option<String>,
}

impl Object {
    /// The API group: empty for the core group (`v1`).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    /// `group/kind namespace/name`, with the release namespace for objects that set none.
    pub fn id(&self, default_namespace: &str) -> String {
        let ns = self.namespace.as_deref().unwrap_or(default_namespace);
        let group = self.group();
        let gk = if group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{group}", self.kind)
        };
        format!("{gk} {ns}/{}", self.name)
    }
}

fn near(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!(" (near {t:?})")
    }
}

fn is_separator(line: &str) -> bool {
    let l = line.trim_end();
    l == "---" || l.starts_with("--- ") || l.starts_with("---\t")
}

fn is_blank_doc(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    })
}

/// Splits one rendered file into objects, dropping documents that are empty or only comments.
pub fn parse_file(source: &str, content: &str) -> Result<Vec<Object>, ManifestError> {
    let mut docs: Vec<(usize, String)> = Vec::new();
    let mut start = 1;
    let mut cur = String::new();
    for (i, line) in content.lines().enumerate() {
        if is_separator(line) {
            docs.push((start, std::mem::take(&mut cur)));
            start = i + 2;
        } else {
            cur.push_str(line);
            cur.push('\n');
        }
    }
    docs.push((start, cur));

    let mut out = Vec::new();
    for (first_line, text) in docs {
        if is_blank_doc(&text) {
            continue;
        }
        let value: serde_json::Value = serde_yaml::from_str(&text).map_err(|e| {
            // Errors at the end of the stream point past the last line: name the last one.
            let lines: Vec<&str> = text.lines().collect();
            let last = lines
                .iter()
                .rposition(|l| !l.trim().is_empty())
                .unwrap_or(0)
                + 1;
            let rel = e.location().map(|l| l.line()).unwrap_or(1).clamp(1, last);
            let line = first_line + rel - 1;
            let message = e.to_string();
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            ManifestError::Yaml {
                source_name: source.to_string(),
                line,
                message,
                text: text.lines().nth(rel - 1).unwrap_or("").to_string(),
            }
        })?;
        // First line with content, for messages about the whole object.
        let line = first_line
            + text
                .lines()
                .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .unwrap_or(0);
        let map = match &value {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Null => continue,
            other => {
                return Err(ManifestError::NotMapping {
                    source_name: source.to_string(),
                    line,
                    found: match other {
                        serde_json::Value::Array(_) => "a list",
                        serde_json::Value::String(_) => "a string",
                        serde_json::Value::Number(_) => "a number",
                        _ => "a boolean",
                    },
                })
            }
        };
        let missing = |field| ManifestError::Missing {
            source_name: source.to_string(),
            line,
            field,
        };
        let text_field = |v: Option<&serde_json::Value>| {
            v.and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let api_version = text_field(map.get("apiVersion")).ok_or_else(|| missing("apiVersion"))?;
        let kind = text_field(map.get("kind")).ok_or_else(|| missing("kind"))?;
        let metadata = map.get("metadata");
        let name = text_field(metadata.and_then(|m| m.get("name")))
            .ok_or_else(|| missing("metadata.name"))?;
        let namespace = text_field(metadata.and_then(|m| m.get("namespace")));
        out.push(Object {
            source: source.to_string(),
            index: out.len(),
            text: text.trim_matches('\n').trim_end().to_string(),
            value,
            api_version,
            kind,
            name,
            namespace,
        });
    }
    Ok(out)
}

/// Why the object's name would be refused by Kubernetes for most kinds (DNS-1123 subdomain:
/// at most 253 lowercase letters, digits, '-' and '.'), if it would. RBAC kinds, whose
/// names are path segments (`system:controller`), are not checked.
pub fn name_problem(o: &Object) -> Option<String> {
    if o.api_version.starts_with("rbac.authorization.k8s.io/") {
        return None;
    }
    let n = &o.name;
    let ok_chars = n
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if n.len() <= 253 && ok_chars && ends_ok(n.bytes().next()) && ends_ok(n.bytes().last()) {
        None
    } else {
        Some(format!(
            "{}: {} {:?}: not a valid name (at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)",
            o.source, o.kind, n
        ))
    }
}

/// Kinds in the order they are installed; other kinds follow, alphabetically.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Position of a kind in the install order (unknown kinds last).
pub fn kind_rank(kind: &str) -> usize {
    INSTALL_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(INSTALL_ORDER.len())
}

/// Sorts objects into install order: kind, then (unknown kinds) kind name, source, position.
pub fn sort(objects: &mut [Object]) {
    objects.sort_by(|a, b| {
        (kind_rank(&a.kind), &a.kind, &a.source, a.index).cmp(&(
            kind_rank(&b.kind),
            &b.kind,
            &b.source,
            b.index,
        ))
    });
}

/// Rejects two objects with the same group, kind, namespace and name.
pub fn check_duplicates<'a>(
    objects: impl IntoIterator<Item = &'a Object>,
    default_namespace: &str,
) -> Result<(), ManifestError> {
    let mut seen: BTreeMap<String, &Object> = BTreeMap::new();
    for o in objects {
        let id = o.id(default_namespace);
        if let Some(first) = seen.get(&id) {
            return Err(ManifestError::Duplicate {
                id,
                first: first.source.clone(),
                second: o.source.clone(),
            });
        }
        seen.insert(id, o);
    }
    Ok(())
}

/// The YAML stream `template` prints: each object preceded by its `# Source:` comment.
pub fn to_yaml_stream(objects: &[Object]) -> String {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n# Source: ");
        out.push_str(&o.source);
        out.push('\n');
        out.push_str(&o.text);
        out.push('\n');
    }
    out
}

/// A `v1` `List` holding the objects, as pretty JSON with sorted keys.
pub fn to_json_list(objects: &[Object]) -> String {
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": objects.iter().map(|o| o.value.clone()).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&list).expect("JSON values always serialise");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "# leading comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\n\n---\n# only a comment\n--- \napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n  namespace: x\n";

    #[test]
    fn splits_and_drops_empty_documents() {
        let objs = parse_file("c/templates/a.yaml", TWO).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(
            objs[0].text,
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: a"
        );
        assert_eq!(objs[1].id("default"), "Deployment.apps x/b");
        assert_eq!(objs[0].id("default"), "Service default/a");
        assert_eq!((objs[0].index, objs[1].index), (0, 1));
    }

    #[test]
    fn yaml_error_names_source_and_line() {
        let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n data: [\n";
        let err = parse_file("c/templates/cm.yaml", src)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c/templates/cm.yaml: line 1"), "{err}");
        let err = parse_file("c/templates/cm.yaml", "a: 1\n  b: 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("c/templates/cm.yaml: line 2 of the rendered output: invalid YAML"),
            "{err}"
        );
    }

    #[test]
    fn required_fields_and_shapes() {
        let cases = [
            ("kind: A\nmetadata: {name: x}\n", "no apiVersion"),
            ("apiVersion: v1\nmetadata: {name: x}\n", "no kind"),
            (
                "apiVersion: v1\nkind: A\nmetadata: {}\n",
                "no metadata.name",
            ),
            ("apiVersion: v1\nkind: A\n", "no metadata.name"),
            (
                "apiVersion: v1\nkind: A\nmetadata: {name: \"\"}\n",
                "no metadata.name",
            ),
            ("- a\n- b\n", "found a list"),
            ("just text\n", "found a string"),
        ];
        for (src, want) in cases {
            let err = parse_file("c/templates/x.yaml", src)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{src:?}: {err}");
            assert!(err.starts_with("c/templates/x.yaml: line 1"), "{err}");
        }
    }

    #[test]
    fn install_order_and_duplicates() {
        let mut objs = Vec::new();
        for (src, kind, name) in [
            ("c/templates/z.yaml", "Deployment", "d"),
            ("c/templates/a.yaml", "Widget", "w"),
            ("c/templates/b.yaml", "Namespace", "n"),
            ("c/templates/a.yaml", "Deployment", "c"),
            ("c/templates/m.yaml", "Abc", "a"),
        ] {
            let text =
                format!("apiVersion: example.com/v1\nkind: {kind}\nmetadata:\n  name: {name}\n");
            objs.extend(parse_file(src, &text).unwrap());
        }
        sort(&mut objs);
        let order: Vec<_> = objs
            .iter()
            .map(|o| (o.kind.as_str(), o.source.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("Namespace", "c/templates/b.yaml"),
                ("Deployment", "c/templates/a.yaml"),
                ("Deployment", "c/templates/z.yaml"),
                ("Abc", "c/templates/m.yaml"),
                ("Widget", "c/templates/a.yaml"),
            ]
        );
        check_duplicates(&objs, "default").unwrap();
        let dup = parse_file(
            "c/templates/y.yaml",
            "apiVersion: example.com/v2\nkind: Deployment\nmetadata:\n  name: d\n  namespace: default\n",
        )
        .unwrap();
        objs.extend(dup);
        let err = check_duplicates(&objs, "default").unwrap_err().to_string();
        assert_eq!(
            err,
            "duplicate object Deployment.example.com default/d: rendered by c/templates/z.yaml and by c/templates/y.yaml"
        );
        // Another namespace is another object.
        check_duplicates(&objs, "other").unwrap();
    }

    #[test]
    fn object_names() {
        let named = |kind: &str, api: &str, name: &str| {
            let src = format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name:?}\n");
            name_problem(&parse_file("c/templates/n.yaml", &src).unwrap()[0])
        };
        assert_eq!(named("ConfigMap", "v1", "a-b.c1"), None);
        for bad in ["Upper", "-lead", "trail-", "under_score", &"x".repeat(254)] {
            assert!(named("ConfigMap", "v1", bad).is_some(), "{bad}");
        }
        assert_eq!(
            named("ClusterRole", "rbac.authorization.k8s.io/v1", "system:x"),
            None
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse_file("c/templates/bomb.yaml", &src)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c/templates/bomb.yaml: line "), "{err}");
    }

    #[test]
    fn garbage_never_panics() {
        for src in [
            "\u{0}",
            "---\n---\n",
            ": :",
            "[",
            "{a: 1",
            "a: *nope",
            "!!binary x",
            "\t- x",
        ] {
            let _ = parse_file("c/templates/g.yaml", src);
        }
    }
}
