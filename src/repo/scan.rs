//! A narrow, fast reader for the compact cache: it pulls only the fields the cache keeps
//! (name, version, appVersion, description, keywords, urls, digest, created, deprecated)
//! out of one chart's block-style text, as Helm and stackpkg write indexes.
//!
//! It understands plain, single- and double-quoted one-line scalars and block lists of
//! them, and skips nested mappings it does not need by indentation. Anything else (block
//! scalars, flow collections, multi-line scalars, unusual escapes) makes it return `None`
//! and the chart is parsed by serde_yaml instead, so it can be fast without being wrong.

use std::collections::BTreeMap;

use super::index::IndexEntry;

type Entries = BTreeMap<String, Option<Vec<Result<IndexEntry, String>>>>;

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// One-line scalar; `None` if it is not one this reader is sure about.
fn scalar(raw: &str) -> Option<Option<String>> {
    let v = raw.trim();
    if v.is_empty() || v == "~" || v == "null" {
        return Some(None);
    }
    let first = v.as_bytes()[0];
    if first == b'"' {
        let inner = v.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return None,
                '\\' => out.push(match chars.next()? {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'n' => '\n',
                    't' => '\t',
                    _ => return None,
                }),
                c => out.push(c),
            }
        }
        return Some(Some(out));
    }
    if first == b'\'' {
        let inner = v.strip_prefix('\'')?.strip_suffix('\'')?;
        if inner.replace("''", "").contains('\'') {
            return None;
        }
        return Some(Some(inner.replace("''", "'")));
    }
    if b"&*!|>{[%@`#,?:-".contains(&first)
        && !(first == b'-' && v.len() > 1 && v.as_bytes()[1] != b' ')
    {
        return None;
    }
    // A plain scalar ends at " #" (a comment); ": " inside would be a mapping.
    let v = match v.find(" #") {
        Some(i) => v[..i].trim_end(),
        None => v,
    };
    if v.contains(": ") || v.ends_with(':') || v.contains('\t') {
        return None;
    }
    Some(Some(v.to_string()))
}

/// An inline value of a skipped field: nothing, an empty collection, or a sure scalar.
fn skippable(rest: &str) -> bool {
    matches!(rest.trim(), "" | "{}" | "[]") || scalar(rest).is_some()
}

/// YAML's printable set (what a YAML stream may contain).
fn yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// `|`, `>` and their chomping forms: a block scalar follows on deeper lines.
fn is_block(rest: &str) -> bool {
    matches!(rest.trim(), "|" | "|-" | "|+" | ">" | ">-" | ">+")
}

/// A line inside a skipped field: `- item`, `key: value` or `- key: value`, each part sure.
/// `Some(true)` when it opens a block scalar, `None` when this reader is not sure.
fn skippable_line(line: &str) -> Option<bool> {
    let t = line.strip_prefix("- ").unwrap_or(line);
    match t.split_once(':') {
        Some((k, v)) if v.is_empty() || v.starts_with(' ') => {
            scalar(k)??;
            if is_block(v) {
                Some(true)
            } else {
                skippable(v).then_some(false)
            }
        }
        _ => skippable(t).then_some(false),
    }
}

/// Parses one chart's slice (`  NAME:` followed by its list of versions).
pub fn scan_chunk(chunk: &str) -> Option<Entries> {
    // Characters YAML does not allow are serde_yaml's to report (the fuzzer found the fast
    // path accepting a control character).
    if !chunk.chars().all(yaml_printable) {
        return None;
    }
    let mut lines = chunk.lines().filter(|l| {
        let t = l.trim_start();
        !t.is_empty() && !t.starts_with('#')
    });
    let head = lines.next()?;
    let key = head.trim().strip_suffix(':')?;
    let name = match scalar(key)? {
        Some(n) if !n.is_empty() => n,
        _ => return None,
    };
    let lines: Vec<&str> = lines.collect();
    let mut entries = Vec::new();
    let mut i = 0;
    let Some(first) = lines.first() else {
        let mut m = Entries::new();
        m.insert(name, None);
        return Some(m);
    };
    let item_indent = indent_of(first);
    while i < lines.len() {
        let line = lines[i];
        if indent_of(line) != item_indent || !line[item_indent..].starts_with("- ") {
            return None;
        }
        let field_indent = item_indent + 2;
        let mut e = IndexEntry::default();
        // The first field is on the "- " line itself.
        let mut field_lines = vec![&line[field_indent..]];
        let mut field_ind = vec![field_indent];
        i += 1;
        while i < lines.len() && indent_of(lines[i]) > item_indent {
            let ind = indent_of(lines[i]);
            field_lines.push(&lines[i][ind..]);
            field_ind.push(ind);
            i += 1;
        }
        let mut j = 0;
        while j < field_lines.len() {
            if field_ind[j] != field_indent {
                return None;
            }
            let (k, rest) = field_lines[j].split_once(':')?;
            if !(rest.is_empty() || rest.starts_with(' ')) || k.starts_with(['"', '\'']) {
                return None;
            }
            j += 1;
            // Lines belonging to this field: deeper indentation, or a block list at the
            // field's own indentation.
            let start = j;
            while j < field_lines.len()
                && (field_ind[j] > field_indent
                    || (field_ind[j] == field_indent && field_lines[j].starts_with("- ")))
            {
                j += 1;
            }
            let nested = &field_lines[start..j];
            let list = |nested: &[&str]| -> Option<Vec<String>> {
                if !rest.trim().is_empty() {
                    return None;
                }
                nested
                    .iter()
                    .map(|l| scalar(l.strip_prefix("- ")?)?)
                    .collect::<Option<Vec<String>>>()
            };
            let one = |nested: &[&str]| -> Option<Option<String>> {
                if !nested.is_empty() {
                    return None;
                }
                scalar(rest)
            };
            match k {
                "name" => e.name = one(nested)?.unwrap_or_default(),
                "version" => e.version = one(nested)?.unwrap_or_default(),
                "apiVersion" => e.api_version = one(nested)?.unwrap_or_default(),
                "appVersion" => e.app_version = one(nested)?,
                "description" => e.description = one(nested)?,
                "digest" => e.digest = one(nested)?.unwrap_or_default(),
                "created" => e.created = one(nested)?,
                "deprecated" => {
                    e.deprecated = match one(nested)?.as_deref() {
                        None | Some("false") => false,
                        Some("true") => true,
                        _ => return None,
                    }
                }
                "keywords" => e.keywords = list(nested)?,
                "urls" => e.urls = list(nested)?,
                // Fields the cache does not keep are skipped, but only when they are
                // shapes this reader is sure are valid YAML: otherwise serde_yaml decides,
                // so the fast path never accepts an index the full parser refuses (the
                // `repo_index` fuzz target found `x: a b: c` being skipped here).
                _ => {
                    // The key too must be a plain scalar (`|ame: x` is not; fuzzing found it).
                    scalar(k)??;
                    // Lines deeper than a `key: |` line are block scalar text: not checked.
                    let mut block_above = match skippable(rest) {
                        true => None,
                        false if is_block(rest) => Some(field_indent),
                        false => return None,
                    };
                    for (l, &ind) in nested.iter().zip(&field_ind[start..j]) {
                        if block_above.is_some_and(|b| ind > b) {
                            continue;
                        }
                        block_above = skippable_line(l)?.then_some(ind);
                    }
                }
            }
        }
        entries.push(Ok(e));
    }
    let mut m = Entries::new();
    m.insert(name, Some(entries));
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_serde_yaml_on_helm_style_text() {
        let chunk = "  kafka:\n  - annotations:\n      category: Database\n      images: |\n        - name: x\n    apiVersion: v2\n    appVersion: \"3.0.1\"\n    created: \"2026-01-01T00:00:00Z\"\n    dependencies:\n    - name: zk\n      tags:\n      - a\n      version: 1.x.x\n    description: It's a 'chart' # comment\n    digest: abc\n    keywords:\n    - kafka\n    - 'big data'\n    name: kafka\n    urls:\n    - https://x/kafka-1.0.0.tgz\n    version: 1.0.0\n  - name: kafka\n    version: 0.9.0\n    deprecated: true\n    urls: \n    - a.tgz\n";
        let fast = scan_chunk(chunk).unwrap();
        let slow: BTreeMap<String, Option<Vec<IndexEntry>>> = serde_yaml::from_str(chunk).unwrap();
        let f = fast["kafka"].as_ref().unwrap();
        let s = slow["kafka"].as_ref().unwrap();
        assert_eq!(f.len(), 2);
        for (a, b) in f.iter().zip(s) {
            let a = a.as_ref().unwrap();
            assert_eq!(a.name, b.name);
            assert_eq!(a.version, b.version);
            assert_eq!(a.app_version, b.app_version);
            assert_eq!(a.description, b.description);
            assert_eq!(a.keywords, b.keywords);
            assert_eq!(a.urls, b.urls);
            assert_eq!(a.digest, b.digest);
            assert_eq!(a.created, b.created);
            assert_eq!(a.deprecated, b.deprecated);
        }
    }

    #[test]
    fn unsure_shapes_are_left_to_serde_yaml() {
        for chunk in [
            "  a:\n  - description: |\n      long\n    name: a\n",
            "  a:\n  - description: \"two\n      lines\"\n",
            "  a:\n  - keywords: [x, y]\n",
            "  a:\n  - description: plain\n      continued\n",
            "  a:\n  - description: \"\\u00e9\"\n",
            "  a:\n  - deprecated: yes\n",
            "  a:\n  - name: &x a\n",
            // Skipped fields must still be valid YAML (found by the repo_index fuzz target).
            "  a:\n  - nam version: 0800 0sion: 08000\n",
            "  a:\n  - maintainers:\n    - name: a: b\n",
            "  a:\n  - name: a\u{1}b\n",
            "  a:\n  - |ame: x\n",
            "  a:\n    - name: a\n   - name: b\n",
        ] {
            assert!(scan_chunk(chunk).is_none(), "{chunk:?}");
        }
    }
}
