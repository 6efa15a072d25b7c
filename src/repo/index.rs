//! The repository index (`index.yaml`), compatible with Helm's format: `apiVersion: v1`,
//! `entries` (chart name → versions, each the Chart.yaml fields plus `urls`, `digest`,
//! `created`) and `generated`. The JSON form is accepted too.
//!
//! Reading is lenient per entry: an invalid entry is skipped with one warning, because one
//! bad upload must not make a whole repository unusable. A malformed document is an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::version::parse_version;
use super::RepoError;
use crate::chart::{ChartMetadata, Dependency, Maintainer};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexFile {
    pub api_version: String,
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
}

/// One chart version in an index. The Chart.yaml fields are spelled out rather than
/// `#[serde(flatten)]`ed: flattening buffers every entry and doubles the parse time of
/// large indexes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Maintainer>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub chart_type: Option<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    pub version: String,
}

impl IndexEntry {
    pub fn from_metadata(md: &ChartMetadata, digest: String, created: String, url: String) -> Self {
        IndexEntry {
            annotations: md.annotations.clone(),
            api_version: md.api_version.clone(),
            app_version: md.app_version.clone(),
            created: Some(created),
            dependencies: md.dependencies.clone(),
            deprecated: md.deprecated,
            description: md.description.clone(),
            digest,
            home: md.home.clone(),
            icon: md.icon.clone(),
            keywords: md.keywords.clone(),
            kube_version: md.kube_version.clone(),
            maintainers: md.maintainers.clone(),
            name: md.name.clone(),
            sources: md.sources.clone(),
            chart_type: md.chart_type.clone(),
            urls: vec![url],
            version: md.version.clone(),
        }
    }

    /// Why this entry cannot be used, if it cannot.
    fn problem(&self, key: &str) -> Option<String> {
        if self.name.is_empty() {
            return Some("no name".into());
        }
        if self.name != key {
            return Some(format!("name {:?} differs from its key", self.name));
        }
        if parse_version(&self.version).is_none() {
            return Some(format!("version {:?} is not semver", self.version));
        }
        if self.urls.is_empty() {
            return Some("no urls".into());
        }
        None
    }
}

/// Holds either a usable entry or the reason it was not.
struct Lenient(Result<IndexEntry, String>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Going through a generic tree costs a little but lets one mistyped field skip one
        // entry instead of failing the whole document.
        let Tree(raw) = Tree::deserialize(d)?;
        Ok(Lenient(
            serde_yaml::from_value::<IndexEntry>(raw).map_err(|e| e.to_string()),
        ))
    }
}

/// Any YAML value, as `serde_yaml::Value` holds it, except that integers past 64 bits become
/// floats instead of failing: `Value` has no 128-bit integers, and refusing one would refuse
/// the whole index over one entry's field (fuzz finding 5, docs/security.md). No entry field
/// is such a number, so an entry that has one is still judged by `IndexEntry` alone.
struct Tree(serde_yaml::Value);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> serde::de::Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::Bool(b)))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::Number(i.into())))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::Number(u.into())))
    }
    fn visit_i128<E>(self, i: i128) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::Number((i as f64).into())))
    }
    fn visit_u128<E>(self, u: u128) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::Number((u as f64).into())))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::Number(f.into())))
    }
    fn visit_str<E>(self, s: &str) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::String(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::String(s)))
    }
    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::Null))
    }
    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(Tree(serde_yaml::Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(Tree(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Tree(serde_yaml::Value::Sequence(items)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        use serde_yaml::mapping::Entry;
        let mut m = serde_yaml::Mapping::new();
        while let Some((Tree(k), Tree(v))) = map.next_entry()? {
            match m.entry(k) {
                Entry::Vacant(e) => {
                    e.insert(v);
                }
                // The same refusal, and words, as `serde_yaml::Mapping`.
                Entry::Occupied(e) => {
                    let what = match e.key() {
                        serde_yaml::Value::String(s) => format!("with key {s:?}"),
                        serde_yaml::Value::Number(n) => format!("with key {n}"),
                        serde_yaml::Value::Bool(b) => format!("with key `{b}`"),
                        serde_yaml::Value::Null => "with null key".into(),
                        _ => "in YAML map".into(),
                    };
                    return Err(serde::de::Error::custom(format!("duplicate entry {what}")));
                }
            }
        }
        Ok(Tree(serde_yaml::Value::Mapping(m)))
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Tree, A::Error> {
        use serde::de::VariantAccess;
        let (tag, contents) = data.variant::<String>()?;
        let Tree(value) = contents.newtype_variant()?;
        Ok(Tree(serde_yaml::Value::Tagged(Box::new(
            serde_yaml::value::TaggedValue {
                tag: serde_yaml::value::Tag::new(tag),
                value,
            },
        ))))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "E: Deserialize<'de>"))]
struct RawIndex<E> {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    entries: Option<BTreeMap<String, Option<Vec<E>>>>,
    #[serde(default)]
    generated: Option<serde_yaml::Value>,
}

impl<E> RawIndex<E> {
    fn map(
        self,
        f: impl Fn(E) -> Result<IndexEntry, String>,
    ) -> RawIndex<Result<IndexEntry, String>> {
        RawIndex {
            api_version: self.api_version,
            entries: self.entries.map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k, v.map(|v| v.into_iter().map(&f).collect())))
                    .collect()
            }),
            generated: self.generated,
        }
    }
}

/// A parsed index with the warnings for the entries that were skipped.
#[derive(Debug)]
pub struct ParsedIndex {
    pub index: IndexFile,
    pub warnings: Vec<String>,
}

/// Parses an index from bytes (YAML or JSON). `origin` names it in messages.
pub fn parse(bytes: &[u8], origin: &str) -> Result<ParsedIndex, RepoError> {
    parse_inner(bytes, origin, false)
}

/// Like [`parse`], but only the fields the compact cache keeps are guaranteed (name,
/// version, apiVersion, appVersion, description, keywords, urls, digest, created,
/// deprecated): block-style charts go through the fast reader in `scan.rs`.
pub fn parse_for_cache(bytes: &[u8], origin: &str) -> Result<ParsedIndex, RepoError> {
    parse_inner(bytes, origin, true)
}

fn parse_inner(bytes: &[u8], origin: &str, light: bool) -> Result<ParsedIndex, RepoError> {
    let bad = |msg: String| RepoError::BadIndex {
        origin: origin.to_string(),
        msg,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    let first = text.trim_start().as_bytes().first().copied();
    // Fast path: every entry well-typed (the usual case) deserialises straight into
    // `IndexEntry`. Only if that fails is the document read again entry by entry through a
    // generic tree, so one bad entry costs a warning instead of the whole index.
    let json = first == Some(b'{');
    let chunked = if json {
        None
    } else {
        parse_chunked(text, light)
    };
    let strict: Option<RawIndex<IndexEntry>> = if chunked.is_some() {
        None
    } else if json {
        serde_json::from_str(text).ok()
    } else {
        serde_yaml::from_str(text).ok()
    };
    let raw = match (chunked, strict) {
        (Some(r), _) => r,
        (None, Some(r)) => r.map(Ok),
        (None, None) => {
            let lenient: RawIndex<Lenient> = if json {
                serde_json::from_str(text).map_err(|e| bad(e.to_string()))?
            } else {
                serde_yaml::from_str(text).map_err(|e| bad(e.to_string()))?
            };
            lenient.map(|l| l.0)
        }
    };
    let api_version = raw
        .api_version
        .ok_or_else(|| bad("no apiVersion (is this a chart repository index?)".into()))?;
    if api_version != "v1" {
        return Err(bad(format!("unsupported apiVersion {api_version:?}")));
    }
    // `entries:` left empty (null) is how an empty repository looks; accept it.
    let entries = raw.entries.unwrap_or_default();
    let mut warnings = Vec::new();
    let mut out = BTreeMap::new();
    for (name, versions) in entries {
        let mut kept = Vec::new();
        for (i, v) in versions.unwrap_or_default().into_iter().enumerate() {
            match v {
                Ok(mut e) => match e.problem(&name) {
                    None => {
                        if e.api_version.is_empty() {
                            e.api_version = "v1".into();
                        }
                        kept.push(e)
                    }
                    Some(p) => warnings.push(format!(
                        "{origin}: skipping entry {name}[{i}] ({}): {p}",
                        e.version
                    )),
                },
                Err(p) => warnings.push(format!("{origin}: skipping entry {name}[{i}]: {p}")),
            }
        }
        if !kept.is_empty() {
            sort_versions(&mut kept);
            out.insert(name, kept);
        }
    }
    let generated = match raw.generated {
        Some(serde_yaml::Value::String(s)) => Some(s),
        _ => None,
    };
    Ok(ParsedIndex {
        index: IndexFile {
            api_version,
            entries: out,
            generated,
        },
        warnings,
    })
}

type ChunkEntries = BTreeMap<String, Option<Vec<Result<IndexEntry, String>>>>;

/// A block-style index cut into its header (everything but `entries`) and one text slice
/// per chart under `entries:`. `None` when the layout is anything else (flow style, JSON,
/// tabs, anchors, several documents): the caller then parses the whole document.
fn split_entries(text: &str) -> Option<(String, Vec<&str>)> {
    // Anchors and aliases could tie one chart's text to another's.
    if ["&", "*", "<<:"]
        .iter()
        .any(|m| text.contains(&format!(": {m}")) || text.contains(&format!("- {m}")))
    {
        return None;
    }
    let mut header = String::new();
    let mut chunks = Vec::new();
    let mut in_entries = false;
    let mut seen_entries = false;
    let mut key_indent: Option<usize> = None;
    let mut chunk_start: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let content = body.trim_start_matches(' ');
        if content.starts_with('\t') {
            return None;
        }
        if content.is_empty() || content.starts_with('#') {
            if !in_entries {
                header.push_str(line);
            }
            continue;
        }
        let indent = body.len() - content.len();
        if indent == 0 {
            if let Some(cs) = chunk_start.take() {
                chunks.push(&text[cs..start]);
            }
            in_entries = false;
            if body == "---" && header.trim().is_empty() && chunks.is_empty() {
                continue;
            }
            if body.starts_with("---") || body.starts_with("...") {
                return None;
            }
            if body.trim_end() == "entries:" {
                // A second `entries` key is serde_yaml's to refuse (found by fuzzing).
                if seen_entries {
                    return None;
                }
                seen_entries = true;
                in_entries = true;
                continue;
            }
            if body.starts_with("entries") {
                return None;
            }
            header.push_str(line);
            continue;
        }
        if !in_entries {
            header.push_str(line);
            continue;
        }
        let ki = *key_indent.get_or_insert(indent);
        if indent < ki {
            return None;
        }
        if indent == ki && !content.starts_with("- ") && content != "-" {
            if let Some(cs) = chunk_start.take() {
                chunks.push(&text[cs..start]);
            }
            chunk_start = Some(start);
        } else if chunk_start.is_none() {
            return None;
        }
    }
    if let Some(cs) = chunk_start {
        chunks.push(&text[cs..]);
    }
    Some((header, chunks))
}

/// Parses one chart's slice: typed first, per entry through a generic tree if that fails.
fn parse_chunk(chunk: &str) -> Option<ChunkEntries> {
    if let Ok(m) = serde_yaml::from_str::<BTreeMap<String, Option<Vec<IndexEntry>>>>(chunk) {
        return Some(
            m.into_iter()
                .map(|(k, v)| (k, v.map(|v| v.into_iter().map(Ok).collect())))
                .collect(),
        );
    }
    let m = serde_yaml::from_str::<BTreeMap<String, Option<Vec<Lenient>>>>(chunk).ok()?;
    Some(
        m.into_iter()
            .map(|(k, v)| (k, v.map(|v| v.into_iter().map(|l| l.0).collect())))
            .collect(),
    )
}

/// Parses a block-style index chart by chart, on several threads. A YAML parser holds a
/// whole document's events in memory; cutting the index per chart keeps that small and lets
/// the charts parse in parallel. `None` sends the caller to the whole-document parser
/// (which also gives exact line numbers for syntax errors).
fn parse_chunked(text: &str, light: bool) -> Option<RawIndex<Result<IndexEntry, String>>> {
    let (header, chunks) = split_entries(text)?;
    let head: RawIndex<Lenient> = serde_yaml::from_str(&header).ok()?;
    if head.entries.is_some() {
        return None;
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(chunks.len().max(1));
    // Contiguous groups of about equal size.
    let per = text.len() / threads + 1;
    let mut groups: Vec<Vec<&str>> = vec![Vec::new()];
    let mut size = 0;
    for c in chunks {
        if size > per {
            groups.push(Vec::new());
            size = 0;
        }
        size += c.len();
        groups.last_mut().expect("non-empty").push(c);
    }
    let results: Vec<Option<Vec<ChunkEntries>>> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .iter()
            .map(|g| {
                s.spawn(move || {
                    g.iter()
                        .map(|c| {
                            let fast = if light {
                                super::scan::scan_chunk(c)
                            } else {
                                None
                            };
                            fast.or_else(|| parse_chunk(c))
                        })
                        .collect::<Option<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut entries = BTreeMap::new();
    for r in results {
        for m in r? {
            for (name, versions) in m {
                // A chart listed twice: serde_yaml reports the duplicate key.
                if entries.insert(name, versions).is_some() {
                    return None;
                }
            }
        }
    }
    Some(RawIndex {
        api_version: head.api_version,
        entries: Some(entries),
        generated: head.generated,
    })
}

/// Newest first, as Helm writes them; unparsable versions (none after `parse`) last.
pub fn sort_versions(v: &mut [IndexEntry]) {
    v.sort_by(|a, b| {
        let (pa, pb) = (parse_version(&a.version), parse_version(&b.version));
        pb.cmp(&pa).then_with(|| a.version.cmp(&b.version))
    });
}

impl IndexFile {
    pub fn new() -> Self {
        IndexFile {
            api_version: "v1".into(),
            entries: BTreeMap::new(),
            generated: None,
        }
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("index serialises")
    }

    pub fn get(&self, name: &str, version: &str) -> Option<&IndexEntry> {
        self.entries
            .get(name)?
            .iter()
            .find(|e| e.version == version)
    }

    /// Adds or replaces an entry, keeping versions sorted.
    pub fn upsert(&mut self, entry: IndexEntry) {
        let list = self.entries.entry(entry.name.clone()).or_default();
        list.retain(|e| e.version != entry.version);
        list.push(entry);
        sort_versions(list);
    }

    /// Removes a version; returns it if it was there.
    pub fn remove(&mut self, name: &str, version: &str) -> Option<IndexEntry> {
        let list = self.entries.get_mut(name)?;
        let pos = list.iter().position(|e| e.version == version)?;
        let removed = list.remove(pos);
        if list.is_empty() {
            self.entries.remove(name);
        }
        Some(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"apiVersion: v1
entries:
  kafka:
  - name: kafka
    version: 1.0.0
    urls: [kafka-1.0.0.tgz]
    digest: abc
  - name: kafka
    version: 2.0.0
    urls: [kafka-2.0.0.tgz]
  - name: kafka
    version: not-a-version
    urls: [x.tgz]
  - name: kafka
    version: 3.0.0
    keywords: {bad: type}
    urls: [x.tgz]
  zk:
generated: "2026-01-01T00:00:00Z"
"#;

    #[test]
    fn invalid_entries_are_skipped_with_one_warning_each() {
        let p = parse(GOOD.as_bytes(), "test").unwrap();
        let kafka = &p.index.entries["kafka"];
        assert_eq!(kafka.len(), 2);
        assert_eq!(kafka[0].version, "2.0.0", "newest first");
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("kafka[2]"));
        assert!(!p.index.entries.contains_key("zk"));
    }

    #[test]
    fn integers_past_64_bits_cost_no_more_than_their_entry() {
        let text = "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    urls: [a.tgz]\n    stars: 100000000000000000000000000000000\n    nested: {n: [-100000000000000000000000000000000]}\n  b:\n  - name: b\n    version: 100000000000000000000000000000000\n    urls: [b.tgz]\n  - name: b\n    version: 2.0.0\n    urls: [b.tgz]\n";
        let p = parse(text.as_bytes(), "t").unwrap();
        // Unknown fields holding one are ignored; a known field holding one is that
        // entry's problem only.
        assert_eq!(p.index.entries["a"][0].version, "1.0.0");
        assert_eq!(p.index.entries["b"].len(), 1);
        assert_eq!(p.index.entries["b"][0].version, "2.0.0");
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("b[0]"), "{:?}", p.warnings);
        // Duplicate keys inside an entry are still refused, as serde_yaml refuses them.
        let dup = "apiVersion: v1\nentries:\n  a:\n  - {name: a, name: b, version: 1.0.0, urls: [a.tgz]}\n";
        let e = parse(dup.as_bytes(), "t").unwrap_err().to_string();
        assert!(e.contains("duplicate entry with key \"name\""), "{e}");
    }

    #[test]
    fn chunked_and_whole_document_parses_agree() {
        let p = parse(GOOD.as_bytes(), "t").unwrap();
        let (header, chunks) = split_entries(GOOD).unwrap();
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert!(header.contains("apiVersion") && header.contains("generated"));
        // Flow style goes to the whole-document parser and gives the same index.
        let flow = r#"{"apiVersion": "v1", "entries": {"kafka": [{"name": "kafka", "version": "2.0.0", "urls": ["kafka-2.0.0.tgz"]}, {"name": "kafka", "version": "1.0.0", "urls": ["kafka-1.0.0.tgz"], "digest": "abc"}]}, "generated": "2026-01-01T00:00:00Z"}"#;
        let f = parse(flow.as_bytes(), "t").unwrap();
        assert_eq!(f.index.entries["kafka"], p.index.entries["kafka"]);
        // Anchors, tabs and flow `entries` are not cut.
        assert!(split_entries("apiVersion: v1\nentries: {}\n").is_none());
        assert!(split_entries("apiVersion: v1\nentries:\n  a: &x\n  b: *x\n").is_none());
        // Indented keys and comments between charts.
        let odd = "# c\napiVersion: v1\nentries:\n    a:\n      - {name: a, version: 1.0.0, urls: [a.tgz]}\n    # mid\n    b:\n    - {name: b, version: 1.0.0, urls: [b.tgz]}\n";
        let o = parse(odd.as_bytes(), "t").unwrap();
        assert_eq!(o.index.entries.len(), 2);
    }

    /// The cache-only parse must give the same cache as the full parse.
    #[test]
    fn cache_parse_matches_full_parse() {
        let mut text = String::from("apiVersion: v1\nentries:\n");
        for c in 0..20 {
            text.push_str(&format!("  chart-{c}:\n"));
            for v in 0..5 {
                text.push_str(&format!(
                    "  - annotations:\n      images: |\n        - name: x\n    apiVersion: v2\n    appVersion: \"{v}.0\"\n    created: \"2026-01-0{}T00:00:00Z\"\n    dependencies:\n    - name: zk\n      tags:\n      - zk-db\n      version: 1.x.x\n    description: chart {c} - it's fine # a comment\n    digest: {:064x}\n    keywords:\n    - k{c}\n    - data\n    maintainers:\n    - name: Team\n    name: chart-{c}\n    urls:\n    - https://x/chart-{c}-{v}.tgz\n    version: 1.{v}.0\n",
                    v + 1,
                    c * 10 + v
                ));
            }
        }
        text.push_str(GOOD.split_once("entries:\n").unwrap().1);
        let full = parse(text.as_bytes(), "t").unwrap();
        let light = parse_for_cache(text.as_bytes(), "t").unwrap();
        assert_eq!(full.warnings, light.warnings);
        assert_eq!(
            crate::repo::cache::build(&full.index),
            crate::repo::cache::build(&light.index)
        );
        assert_eq!(full.index.entries.len(), 21);
        // The fast reader really handled the Helm-style charts.
        let (_, chunks) = split_entries(&text).unwrap();
        let fast = chunks
            .iter()
            .filter(|c| crate::repo::scan::scan_chunk(c).is_some())
            .count();
        assert!(fast >= 20, "{fast}");
    }

    #[test]
    fn json_form_is_accepted() {
        let json = r#"{"apiVersion":"v1","entries":{"a":[{"name":"a","version":"0.1.0","urls":["a.tgz"]}]}}"#;
        let p = parse(json.as_bytes(), "j").unwrap();
        assert_eq!(p.index.entries["a"][0].version, "0.1.0");
    }

    #[test]
    fn round_trip_is_stable() {
        let p = parse(GOOD.as_bytes(), "t").unwrap();
        let y = p.index.to_yaml();
        let again = parse(y.as_bytes(), "t").unwrap();
        assert_eq!(again.index, p.index);
        assert_eq!(again.index.to_yaml(), y);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let cases: &[&[u8]] = &[
            b"",
            b"<html>404</html>",
            b"\xff\xfe\x00",
            b"apiVersion: v2\nentries: {}\n",
            b"entries: {}\n",
            b"apiVersion: v1\nentries: [1, 2]\n",
            b"{\"apiVersion\": ",
            b"- a\n- b\n",
        ];
        for c in cases {
            let err = parse(c, "http://x/index.yaml").unwrap_err().to_string();
            assert!(err.contains("http://x/index.yaml"), "{err}");
        }
    }
}
