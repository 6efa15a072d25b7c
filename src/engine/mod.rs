//! The template engine: a minijinja environment with stackpkg's function library,
//! rendering a chart tree (subcharts, globals) into named documents and NOTES.
//! The dialect is specified in docs/templates.md.

mod files;
mod functions;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use thiserror::Error;

use crate::chart::Chart;

/// Instructions one template may execute before it is stopped as runaway.
pub const FUEL: u64 = 10_000_000;
/// Nesting depth of macro calls, includes and loops.
const RECURSION_LIMIT: usize = 200;

#[derive(Debug, Error)]
pub enum EngineError {
    /// A template failed to compile or render; `location` is `template:line`.
    #[error("{location}: {message}")]
    Template { location: String, message: String },
    #[error("{path}: template is not UTF-8 text")]
    NotUtf8 { path: String },
    #[error(
        "bad kube version {0:?}: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 1.34 or v1.34.0"
    )]
    BadKubeVersion(String),
    #[error("bad API version {0:?}: expected VERSION, GROUP/VERSION or GROUP/VERSION/KIND, e.g. apps/v1")]
    BadApiVersion(String),
}

/// Looks up live objects for the `lookup` function. Offline rendering uses [`OfflineLookup`];
/// the cluster layer provides a real one.
pub trait Lookup: Send + Sync {
    /// The object as JSON, `{}` when absent; with an empty `name`, a `List`-shaped object.
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<serde_json::Value, String>;
}

/// `lookup` without a cluster: always an empty map, as `helm template` does.
#[derive(Debug, Clone, Copy)]
pub struct OfflineLookup;

impl Lookup for OfflineLookup {
    fn lookup(&self, _: &str, _: &str, _: &str, _: &str) -> Result<serde_json::Value, String> {
        Ok(serde_json::Value::Object(Default::default()))
    }
}

/// The `release` context variable.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReleaseInfo {
    pub name: String,
    pub namespace: String,
    pub revision: u64,
    pub is_install: bool,
    pub is_upgrade: bool,
    pub service: String,
}

impl ReleaseInfo {
    /// A first install, which is what `template` and `lint` pretend to do.
    pub fn install(name: &str, namespace: &str) -> ReleaseInfo {
        ReleaseInfo {
            name: name.to_string(),
            namespace: namespace.to_string(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
            service: "stackpkg".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KubeVersion {
    /// Normalised, with a leading `v`: `v1.34.0`.
    pub version: String,
    pub major: String,
    pub minor: String,
}

impl KubeVersion {
    pub fn parse(s: &str) -> Result<KubeVersion, EngineError> {
        let bad = || EngineError::BadKubeVersion(s.to_string());
        let core = s.strip_prefix('v').unwrap_or(s);
        let (nums, pre) = match core.split_once(['-', '+']) {
            Some((n, _)) => (n, &core[n.len()..]),
            None => (core, ""),
        };
        let parts: Vec<&str> = nums.split('.').collect();
        if !(2..=3).contains(&parts.len())
            || parts
                .iter()
                .any(|p| p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let n = |p: &str| p.parse::<u64>().map_err(|_| bad());
        let (major, minor) = (n(parts[0])?, n(parts[1])?);
        let patch = if parts.len() == 3 { n(parts[2])? } else { 0 };
        Ok(KubeVersion {
            version: format!("v{major}.{minor}.{patch}{pre}"),
            major: major.to_string(),
            minor: minor.to_string(),
        })
    }
}

/// The Kubernetes version offline rendering assumes (that of the kubectl we test against).
pub const DEFAULT_KUBE_VERSION: &str = "v1.34.0";

/// The built-in API group/versions of Kubernetes 1.34.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "apiregistration.k8s.io/v1",
    "apps/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "certificates.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
    "networking.k8s.io/v1",
    "node.k8s.io/v1",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
    "resource.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1",
    "v1",
];

#[derive(Debug, Clone, serde::Serialize)]
pub struct Capabilities {
    pub kube_version: KubeVersion,
    /// Sorted, without duplicates.
    pub api_versions: Vec<String>,
}

impl Capabilities {
    /// The defaults plus `extra` (`--api-versions`), checked for shape.
    pub fn new(kube_version: Option<&str>, extra: &[String]) -> Result<Capabilities, EngineError> {
        let kube_version = KubeVersion::parse(kube_version.unwrap_or(DEFAULT_KUBE_VERSION))?;
        let mut api: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect();
        // Compiled only when there is something to check: every `template` builds
        // capabilities, and the regex compiler is otherwise not needed on that path.
        if !extra.is_empty() {
            let shape = regex::Regex::new(
                r"^([a-z0-9]([a-z0-9.-]*[a-z0-9])?/)?v[0-9]+[a-z0-9]*(/[A-Za-z][A-Za-z0-9]*)?$",
            )
            .expect("static regex");
            for e in extra {
                if !shape.is_match(e) {
                    return Err(EngineError::BadApiVersion(e.clone()));
                }
                api.push(e.clone());
            }
        }
        api.sort();
        api.dedup();
        Ok(Capabilities {
            kube_version,
            api_versions: api,
        })
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities::new(None, &[]).expect("default capabilities are valid")
    }
}

#[derive(Clone)]
pub struct RenderOptions {
    pub release: ReleaseInfo,
    pub capabilities: Capabilities,
    pub lookup: Arc<dyn Lookup>,
}

impl RenderOptions {
    pub fn offline(release: ReleaseInfo, capabilities: Capabilities) -> RenderOptions {
        RenderOptions {
            release,
            capabilities,
            lookup: Arc::new(OfflineLookup),
        }
    }
}

/// One rendered file: its source name (`chart/templates/x.yaml`) and the output text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub name: String,
    pub content: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Rendered templates of the whole tree, parent first, each chart's in path order.
    pub templates: Vec<RenderedFile>,
    /// `crds/**` of the whole tree, as they are.
    pub crds: Vec<RenderedFile>,
    /// The top chart's rendered NOTES.txt.
    pub notes: Option<String>,
    /// Rendered `lifecycle.yaml` of each chart of the tree that has one, parent first.
    pub lifecycle: Vec<RenderedFile>,
}

/// One chart of the tree with the name prefix its templates get.
struct Node<'a> {
    base: String,
    chart: &'a Chart,
    values: &'a serde_json::Value,
    /// Dependency name (alias if any) → base of that subchart.
    deps: BTreeMap<String, String>,
}

/// The name a subchart has in its parent: the alias of its dependency entry, if any.
fn key_in_parent(parent: &Chart, sub: &Chart) -> String {
    let name = &sub.metadata.name;
    if parent
        .metadata
        .dependencies
        .iter()
        .any(|d| d.effective_name() == name)
    {
        return name.clone();
    }
    parent
        .metadata
        .dependencies
        .iter()
        .find(|d| &d.name == name)
        .map(|d| d.effective_name().to_string())
        .unwrap_or_else(|| name.clone())
}

fn collect<'a>(
    chart: &'a Chart,
    base: String,
    values: &'a serde_json::Value,
    out: &mut Vec<Node<'a>>,
) {
    let idx = out.len();
    out.push(Node {
        base: base.clone(),
        chart,
        values,
        deps: BTreeMap::new(),
    });
    for sub in &chart.subcharts {
        let key = key_in_parent(chart, sub);
        let sub_base = format!("{base}/charts/{key}");
        // Values come coalesced from values::prepare; a tree rendered without it falls back
        // to the subchart's own defaults.
        let sub_values = values
            .get(&key)
            .filter(|v| v.is_object())
            .unwrap_or(&sub.values);
        out[idx].deps.insert(key, sub_base.clone());
        collect(sub, sub_base, sub_values, out);
    }
}

fn is_partial(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|f| f.starts_with('_'))
}

const NOTES: &str = "templates/NOTES.txt";
const LIFECYCLE: &str = "lifecycle.yaml";

/// Renders a chart tree. `values` are the coalesced values of the top chart (subchart
/// sections under their names); library charts render nothing but lend their macros.
pub fn render(
    chart: &Chart,
    values: &serde_json::Value,
    opts: &RenderOptions,
) -> Result<Rendered, EngineError> {
    let mut nodes = Vec::new();
    collect(chart, chart.metadata.name.clone(), values, &mut nodes);

    // Names must outlive the environment, which borrows the chart's sources.
    let mut sources: Vec<(String, &str, usize)> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for f in &node.chart.templates {
            let name = format!("{}/{}", node.base, f.path);
            let src = std::str::from_utf8(&f.data)
                .map_err(|_| EngineError::NotUtf8 { path: name.clone() })?;
            sources.push((name, src, i));
        }
        // lifecycle.yaml renders with the same context as the templates.
        if let Some(f) = node
            .chart
            .lifecycle
            .as_ref()
            .filter(|_| !node.chart.metadata.is_library())
        {
            let name = format!("{}/{}", node.base, f.path);
            let src = std::str::from_utf8(&f.data)
                .map_err(|_| EngineError::NotUtf8 { path: name.clone() })?;
            sources.push((name, src, i));
        }
    }

    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    // Keeps the template source on errors (only then) so messages can quote the expression.
    env.set_debug(true);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("static syntax config"),
    );
    // Templates are YAML, never HTML: no auto-escaping whatever the file name.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    functions::register(&mut env, opts.lookup.clone());

    let resolver = Resolver {
        bases: nodes
            .iter()
            .map(|n| (n.base.clone(), n.deps.clone()))
            .collect(),
    };
    env.set_path_join_callback(move |name, parent| resolver.join(name, parent));

    for (name, src, _) in &sources {
        env.add_template_owned(name.clone(), *src)
            .map_err(|e| template_error(&e))?;
    }

    let release = jv(&opts.release);
    let capabilities = jv(&opts.capabilities);
    let mut rendered = Rendered::default();
    for (i, node) in nodes.iter().enumerate() {
        let library = node.chart.metadata.is_library();
        for f in &node.chart.crds {
            rendered.crds.push(RenderedFile {
                name: format!("{}/{}", node.base, f.path),
                content: String::from_utf8(f.data.clone()).map_err(|_| EngineError::NotUtf8 {
                    path: format!("{}/{}", node.base, f.path),
                })?,
            });
        }
        if library {
            continue;
        }
        let values = jv(node.values);
        let chart_meta = jv(&node.chart.metadata);
        let files = Value::from_object(files::Files::of(node.chart));
        let base_path = format!("{}/templates", node.base);
        for (name, _, _) in sources.iter().filter(|s| s.2 == i) {
            let rel = &name[node.base.len() + 1..];
            if is_partial(rel) || (rel == NOTES && i != 0) {
                continue;
            }
            let ctx = minijinja::context! {
                values => values.clone(),
                release => release.clone(),
                chart => chart_meta.clone(),
                capabilities => capabilities.clone(),
                files => files.clone(),
                template => minijinja::context! { name => name.as_str(), base_path => base_path.as_str() },
            };
            let tmpl = env.get_template(name).map_err(|e| template_error(&e))?;
            let content = tmpl.render(ctx).map_err(|e| {
                let mut err = template_error(&e);
                // A failure inside an imported macro: also name the template being rendered.
                if let EngineError::Template { message, .. } = &mut err {
                    if e.name() != Some(name.as_str()) {
                        message.push_str(&format!(" (while rendering {name})"));
                    }
                }
                err
            })?;
            if rel == NOTES {
                rendered.notes = Some(content);
            } else if rel == LIFECYCLE {
                rendered.lifecycle.push(RenderedFile {
                    name: name.clone(),
                    content,
                });
            } else {
                rendered.templates.push(RenderedFile {
                    name: name.clone(),
                    content,
                });
            }
        }
    }
    Ok(rendered)
}

/// Resolves `import`/`include` names: relative to the importing chart's `templates/`,
/// `dep:` prefixes walking into dependencies.
struct Resolver {
    /// Chart base → its dependencies (name → base).
    bases: BTreeMap<String, BTreeMap<String, String>>,
}

impl Resolver {
    fn base_of(&self, template: &str) -> Option<&str> {
        self.bases
            .keys()
            .filter(|b| {
                template
                    .strip_prefix(b.as_str())
                    .is_some_and(|rest| rest.starts_with("/templates/"))
            })
            .max_by_key(|b| b.len())
            .map(String::as_str)
    }

    fn join<'s>(&self, name: &'s str, parent: &'s str) -> Cow<'s, str> {
        let Some(mut base) = self.base_of(parent) else {
            return Cow::Borrowed(name);
        };
        let mut rest = name;
        while let Some((dep, tail)) = rest.split_once(':') {
            match self.bases.get(base).and_then(|d| d.get(dep)) {
                Some(b) => base = b,
                // Unknown dependency: keep the name so "template not found" names it as written.
                None => return Cow::Borrowed(name),
            }
            rest = tail;
        }
        Cow::Owned(format!("{base}/templates/{rest}"))
    }
}

/// The message of a minijinja error without its location.
pub(crate) fn describe(e: &minijinja::Error) -> String {
    if std::error::Error::source(e).is_some_and(|s| s.is::<functions::ChartFailure>()) {
        return e.detail().unwrap_or("failed").to_string();
    }
    let expr = match (e.template_source(), e.range()) {
        (Some(src), Some(r)) if r.end <= src.len() && r.end - r.start <= 120 => {
            src.get(r).map(|s| s.trim().to_string())
        }
        _ => None,
    };
    let mut msg = match e.kind() {
        ErrorKind::OutOfFuel => {
            return format!("engine fuel exhausted after {FUEL} instructions (runaway template?)")
        }
        ErrorKind::UndefinedError => "undefined value".to_string(),
        kind => kind.to_string(),
    };
    if let Some(d) = e.detail() {
        msg.push_str(": ");
        msg.push_str(d);
    }
    if let Some(x) = expr.filter(|x| !e.detail().is_some_and(|d| d.contains(x.as_str()))) {
        msg.push_str(&format!(" (in `{x}`)"));
    }
    // Errors raised inside an imported template carry the failing frame as their source.
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        if let Some(inner) = s.downcast_ref::<minijinja::Error>() {
            if let (Some(n), Some(l)) = (inner.name(), inner.line()) {
                msg.push_str(&format!("; from {n}:{l}: {}", describe(inner)));
                break;
            }
        }
        cur = s.source();
    }
    msg
}

fn template_error(e: &minijinja::Error) -> EngineError {
    let location = match (e.name(), e.line()) {
        (Some(n), Some(l)) => format!("{n}:{l}"),
        (Some(n), None) => n.to_string(),
        _ => "template".to_string(),
    };
    EngineError::Template {
        location,
        message: describe(e),
    }
}

/// Whether `version` satisfies a Helm-style `constraint` (`>=1.2 <2 || ^3`, `1.2.x`, `~1.4`).
pub fn semver_matches(constraint: &str, version: &str) -> Result<bool, String> {
    let v = parse_loose_version(version)?;
    let mut any = false;
    for alt in constraint.split("||") {
        let mut comparators: Vec<String> = Vec::new();
        let mut pending_op = String::new();
        for tok in alt.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
            if tok.chars().all(|c| "<>=~^!".contains(c)) {
                pending_op.push_str(tok);
                continue;
            }
            let rest = tok.trim_start_matches(|c| "<>=~^!".contains(c));
            let op = &tok[..tok.len() - rest.len()];
            let full = format!("{pending_op}{op}{}", rest.strip_prefix('v').unwrap_or(rest));
            pending_op.clear();
            comparators.push(full);
        }
        if !pending_op.is_empty() || comparators.is_empty() {
            return Err(format!("bad version constraint {constraint:?}"));
        }
        let req = semver::VersionReq::parse(&comparators.join(", "))
            .map_err(|e| format!("bad version constraint {constraint:?}: {e}"))?;
        // Like Helm: pre-release versions only match constraints that mention a pre-release
        // (the `>=1.25.0-0` idiom), and then by their release part.
        let candidate = if !v.pre.is_empty() && alt.contains('-') {
            semver::Version::new(v.major, v.minor, v.patch)
        } else {
            v.clone()
        };
        any |= req.matches(&candidate);
    }
    Ok(any)
}

fn parse_loose_version(version: &str) -> Result<semver::Version, String> {
    let raw = version.trim();
    let s = raw.strip_prefix('v').unwrap_or(raw);
    if let Ok(v) = semver::Version::parse(s) {
        return Ok(v);
    }
    // `1.34` means `1.34.0`.
    let (nums, tail) = match s.find(['-', '+']) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    if nums.split('.').count() == 2 {
        if let Ok(v) = semver::Version::parse(&format!("{nums}.0{tail}")) {
            return Ok(v);
        }
    }
    Err(format!("bad version {version:?}: not a semantic version"))
}

/// A serialisable Rust value as a template value.
pub(crate) fn jv<T: serde::Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_version_parsing() {
        let v = KubeVersion::parse("1.30").unwrap();
        assert_eq!(
            (v.version.as_str(), v.major.as_str(), v.minor.as_str()),
            ("v1.30.0", "1", "30")
        );
        assert_eq!(
            KubeVersion::parse("v1.34.2-gke.1").unwrap().version,
            "v1.34.2-gke.1"
        );
        for bad in ["", "1", "banana", "1.x", "v1.2.3.4", "1..2", "-1.2"] {
            assert!(KubeVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_versions_are_checked_and_sorted() {
        let c =
            Capabilities::new(None, &["example.com/v1alpha1".into(), "apps/v1".into()]).unwrap();
        assert!(c.api_versions.contains(&"example.com/v1alpha1".to_string()));
        let mut sorted = c.api_versions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(c.api_versions, sorted);
        for bad in ["", "apps", "Apps/v1", "a/b/c/d", "apps/v1/"] {
            assert!(Capabilities::new(None, &[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn semver_constraints() {
        assert!(semver_matches(">=1.25.0-0", "v1.34.0").unwrap());
        assert!(semver_matches(">=1.25.0-0", "v1.34.0-gke.1").unwrap());
        assert!(semver_matches(">= 1.20, < 2", "1.34").unwrap());
        assert!(!semver_matches("<1.20", "1.34.0").unwrap());
        assert!(semver_matches("~1.4.0", "1.4.9").unwrap());
        assert!(semver_matches("1.2.x || ^3", "3.1.0").unwrap());
        assert!(semver_matches(">", "1.0.0").is_err());
        assert!(semver_matches("", "1.0.0").is_err());
        assert!(semver_matches(">=1", "x.y").is_err());
    }

    #[test]
    fn resolver_walks_dependencies() {
        let mut bases = BTreeMap::new();
        bases.insert(
            "app".to_string(),
            BTreeMap::from([("common".to_string(), "app/charts/common".to_string())]),
        );
        bases.insert("app/charts/common".to_string(), BTreeMap::new());
        let r = Resolver { bases };
        assert_eq!(
            r.join("_h.j2", "app/templates/sub/x.yaml"),
            "app/templates/_h.j2"
        );
        assert_eq!(
            r.join("common:_l.j2", "app/templates/x.yaml"),
            "app/charts/common/templates/_l.j2"
        );
        assert_eq!(
            r.join("_l.j2", "app/charts/common/templates/_x.j2"),
            "app/charts/common/templates/_l.j2"
        );
        assert_eq!(r.join("nope:_l.j2", "app/templates/x.yaml"), "nope:_l.j2");
    }
}
