//! A narrow, fast reader for the compact cache: it pulls only the fields the cache keeps
//! (name, version, appVersion, description, keywords, urls, digest, created, deprecated)
//! out of one chart's block-style text, as Helm and stackpkg write indexes.
//!
//! It understands plain, single- and double-quoted one-line scalars and block lists of
//! them, and checks the block-style structure of the fields it skips. Anything else (flow
//! collections, multi-line scalars, unusual escapes, comments, odd keys) makes it return
//! `None` and the chart is parsed by serde_yaml instead, so it can be fast without being
//! wrong: it must never accept text serde_yaml refuses (the `repo_index` fuzz target checks).

use std::collections::{BTreeMap, BTreeSet};

use super::index::IndexEntry;

type Entries = BTreeMap<String, Option<Vec<Result<IndexEntry, String>>>>;

/// One non-empty line: its indentation and the text after it.
type Line<'a> = (usize, &'a str);

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
    // YAML's indicators cannot start a plain scalar (`]` and `}` close flow collections
    // that were never opened; `- x` would be a sequence).
    if b"&*!|>{}[]%@`#,?:-".contains(&first)
        && !(first == b'-' && v.len() > 1 && v.as_bytes()[1] != b' ')
    {
        return None;
    }
    // A plain scalar ends at " #" (a comment); ": " inside would be a mapping.
    let v = match v.find(" #") {
        Some(i) => v[..i].trim_end(),
        None => v,
    };
    if v.contains(": ") || v.ends_with(':') || v.contains('\t') || big_integer(v) {
        return None;
    }
    Some(Some(v.to_string()))
}

/// An integer serde_yaml would read as 128-bit: its generic `Value` cannot hold one, so an
/// entry read through it fails the whole index (the `repo_index` fuzz target found
/// `versi0on: 100000000000000000000000000000000` accepted here). Past 128 bits serde_yaml
/// reads a float, which `Value` holds.
fn big_integer(v: &str) -> bool {
    let s = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (digits, radix) = match s.get(..2) {
        Some("0x") => (&s[2..], 16),
        Some("0o") => (&s[2..], 8),
        Some("0b") => (&s[2..], 2),
        _ => (s, 10),
    };
    u128::from_str_radix(digits, radix).is_ok_and(|n| n > i64::MAX as u128)
}

/// A mapping key this reader is sure of: plain, starting with a letter, nothing YAML could
/// read as a comment, a boolean or null (`True` and `true` would be the same key).
fn sure_key(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        )
}

/// `key: rest` (or `key:`) with a key this reader is sure of.
fn key_line(t: &str) -> Option<(&str, &str)> {
    let (k, rest) = t.split_once(':')?;
    (sure_key(k) && (rest.is_empty() || rest.starts_with(' '))).then_some((k, rest))
}

fn is_item(t: &str) -> bool {
    t == "-" || t.starts_with("- ")
}

/// `|`, `>` and their chomping forms: a block scalar follows on deeper lines.
fn is_block(rest: &str) -> bool {
    matches!(rest.trim(), "|" | "|-" | "|+" | ">" | ">-" | ">+")
}

/// An inline value of a skipped field: nothing, an empty collection, or a sure scalar.
fn skippable(rest: &str) -> bool {
    matches!(rest.trim(), "" | "{}" | "[]") || scalar(rest).is_some()
}

/// YAML's printable set minus what libyaml reads as a line break or a byte order mark
/// inside a line (`\r`, NEL, LS, PS, BOM), and tabs, which this reader never needs.
fn sure_char(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{2027}' | '\u{202A}'..='\u{D7FF}' | '\u{E000}'..='\u{FEFE}' | '\u{FF00}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// The lines under a line at `ind`: deeper ones, and for a mapping key (`seq_too`) a block
/// list at its own indentation. Returns them and the rest.
fn children<'a, 'b>(
    ind: usize,
    after: &'b [Line<'a>],
    seq_too: bool,
) -> (&'b [Line<'a>], &'b [Line<'a>]) {
    let n = after
        .iter()
        .position(|&(i, t)| !(i > ind || (seq_too && i == ind && is_item(t))))
        .unwrap_or(after.len());
    after.split_at(n)
}

/// The value of a skipped `key:` at indentation `ind`, given its inline part and the lines
/// under it: true when this reader is sure it is valid YAML.
fn sure_value(rest: &str, ind: usize, below: &[Line]) -> bool {
    if is_block(rest) {
        // Block scalar text: deeper than the key, none less indented than its first line.
        let first = below.first().map_or(0, |l| l.0);
        return below.iter().all(|&(i, _)| i > ind && i >= first);
    }
    if !rest.trim().is_empty() {
        // An inline value followed by deeper lines is a multi-line scalar or an error.
        return below.is_empty() && skippable(rest);
    }
    sure_block(ind, below)
}

/// Nested block content under a key at indentation `parent` whose value is not inline.
fn sure_block(parent: usize, lines: &[Line]) -> bool {
    let Some(&(n, first)) = lines.first() else {
        return true;
    };
    if lines.iter().any(|&(i, _)| i < n) {
        return false;
    }
    if is_item(first) {
        sure_items(n, lines)
    } else {
        n > parent && sure_mapping(n, lines)
    }
}

/// A block list whose `- ` lines are at indentation `n`.
fn sure_items(n: usize, mut lines: &[Line]) -> bool {
    while let Some((&(i, t), after)) = lines.split_first() {
        if i != n || !is_item(t) {
            return false;
        }
        let (below, next) = children(n, after, false);
        lines = next;
        let item = t[1..].trim_start_matches(' ');
        let col = n + t.len() - item.len();
        let ok = if item.is_empty() {
            sure_block(n, below)
        } else if is_item(item) {
            false
        } else if is_block(item) {
            sure_value(item, n, below)
        } else if key_line(item).is_some() {
            // `- key: value`: a mapping starting at the item's text.
            let mut m = Vec::with_capacity(below.len() + 1);
            m.push((col, item));
            m.extend_from_slice(below);
            sure_mapping(col, &m)
        } else {
            below.is_empty() && skippable(item)
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A block mapping whose keys are at indentation `n`; a key given twice is not sure.
fn sure_mapping(n: usize, mut lines: &[Line]) -> bool {
    let mut seen = BTreeSet::new();
    while let Some((&(i, t), after)) = lines.split_first() {
        let Some((k, rest)) = key_line(t) else {
            return false;
        };
        if i != n || !seen.insert(k) {
            return false;
        }
        let (below, next) = children(n, after, true);
        lines = next;
        if !sure_value(rest, n, below) {
            return false;
        }
    }
    true
}

/// Parses one chart's slice (`  NAME:` followed by its list of versions).
pub fn scan_chunk(chunk: &str) -> Option<Entries> {
    // Characters YAML does not allow are serde_yaml's to report (the fuzzer found the fast
    // path accepting a control character).
    if !chunk.chars().all(sure_char) {
        return None;
    }
    let mut lines = Vec::new();
    for l in chunk.lines() {
        let t = l.trim_start_matches(' ');
        if t.is_empty() {
            // Spaces-only lines can change a block scalar's indentation.
            if !l.is_empty() {
                return None;
            }
            continue;
        }
        // Comments are text inside block scalars, so they are left to serde_yaml.
        if t.starts_with('#') {
            return None;
        }
        lines.push((l.len() - t.len(), t));
    }
    let ((_, head), lines) = lines.split_first()?;
    let key = head.trim_end().strip_suffix(':')?;
    if !key.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        return None;
    }
    let name = key.to_string();
    let Some(&(item_indent, _)) = lines.first() else {
        let mut m = Entries::new();
        m.insert(name, None);
        return Some(m);
    };
    let mut entries = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (ind, text) = lines[i];
        if ind != item_indent || !text.starts_with("- ") {
            return None;
        }
        let field_indent = item_indent + 2;
        let mut e = IndexEntry::default();
        // The first field is on the "- " line itself.
        let mut fields = vec![(field_indent, &text[2..])];
        i += 1;
        while i < lines.len() && lines[i].0 > item_indent {
            fields.push(lines[i]);
            i += 1;
        }
        let mut seen = BTreeSet::new();
        let mut j = 0;
        while j < fields.len() {
            let (ind, text) = fields[j];
            if ind != field_indent {
                return None;
            }
            let (k, rest) = key_line(text)?;
            if !seen.insert(k) {
                return None;
            }
            let (nested, _) = children(field_indent, &fields[j + 1..], true);
            j += 1 + nested.len();
            // A block list of sure scalars, all at one indentation.
            let list = || -> Option<Vec<String>> {
                if !rest.trim().is_empty() {
                    return None;
                }
                let at = nested.first().map_or(0, |l| l.0);
                nested
                    .iter()
                    .map(|&(i, l)| match i == at {
                        true => scalar(l.strip_prefix("- ")?)?,
                        false => None,
                    })
                    .collect()
            };
            let one = || -> Option<Option<String>> {
                if !nested.is_empty() {
                    return None;
                }
                scalar(rest)
            };
            match k {
                "name" => e.name = one()?.unwrap_or_default(),
                "version" => e.version = one()?.unwrap_or_default(),
                "apiVersion" => e.api_version = one()?.unwrap_or_default(),
                "appVersion" => e.app_version = one()?,
                "description" => e.description = one()?,
                "digest" => e.digest = one()?.unwrap_or_default(),
                "created" => e.created = one()?,
                "deprecated" => {
                    e.deprecated = match one()?.as_deref() {
                        None | Some("false") => false,
                        Some("true") => true,
                        _ => return None,
                    }
                }
                "keywords" => e.keywords = list()?,
                "urls" => e.urls = list()?,
                // Fields the cache does not keep are skipped, but only when they are
                // shapes this reader is sure are valid YAML: otherwise serde_yaml decides.
                _ => {
                    if !sure_value(rest, field_indent, nested) {
                        return None;
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
            // Structure the skipped fields must have, or serde_yaml refuses the document.
            "  a:\n  - name: a\n    name: a\n",
            "  a:\n  - annotations:\n      k: a\n      k: b\n",
            "  a:\n  - annotations:\n      True: a\n      true: b\n",
            "  a:\n  - home: x\n      y: z\n",
            "  a:\n  - maintainers:\n    - name: a\n        email: b\n",
            "  a:\n  - annotations:\n      a: b\n     c: d\n",
            "  a:\n  - sources:\n      - a\n      b: c\n",
            "  a:\n  - keywords:\n      - a\n    - b\n",
            "  a:\n  - annotations: |\n    - x\n",
            "  a:\n  - annotations:\n      x: |\n          deep\n        less\n",
            "  a:\n  - home: ]\n",
            "  a:\n  - home: a\r- b\n",
            "  a #x:\n  - name: a\n",
            "  a:\n  - description: |\n      # not a comment\n",
            "  a:\n  - home: 100000000000000000000000000000000\n",
            "  a:\n  - maintainers:\n    - -0x10000000000000000\n",
        ] {
            assert!(scan_chunk(chunk).is_none(), "{chunk:?}");
        }
    }

    /// Random block-style lines under one chart: the cache parse must accept exactly what
    /// the full parse accepts (the `repo_index` fuzz property, with a fixed seed; the old
    /// scanner failed it on `name` given twice).
    #[test]
    fn random_block_text_agrees_with_the_full_parser() {
        let pool = [
            "- name: a",
            "name: a",
            "version: 1.0.0",
            "urls:",
            "- a.tgz",
            "annotations:",
            "k: v",
            "images: |",
            "x",
            "- x",
            "home: x",
            "maintainers:",
            "- name: m",
            "email: e",
            "dependencies:",
            "tags:",
            "keywords: []",
            "a: {}",
            "k: 'a'",
            "k: \"b\"",
            "-",
            "- - x",
            "- k: v",
            "description: >-",
            "k:",
            "deprecated: true",
            "b: c",
            "- |",
            "y: z # c",
            "sources:",
            "- 'q'",
            "digest: abc",
            "created: now",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
        };
        for _ in 0..3000 {
            let mut doc = String::from("apiVersion: v1\nentries:\n  a:\n  - name: a\n");
            for _ in 0..1 + next(6) {
                doc.push_str(&" ".repeat(1 + next(10)));
                doc.push_str(pool[next(pool.len())]);
                doc.push('\n');
            }
            let full = crate::repo::index::parse(doc.as_bytes(), "t").is_ok();
            let light = crate::repo::index::parse_for_cache(doc.as_bytes(), "t").is_ok();
            assert_eq!(full, light, "{doc}");
        }
    }

    /// The fifth `repo_index` fuzz finding: a 128-bit integer in a skipped field.
    #[test]
    fn big_integers_are_left_to_serde_yaml() {
        let text = b"apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    versi0on: 100000000000000000000000000000000\n";
        // Both read it through the lenient tree: the entry (no `version`) costs one warning,
        // the same from both, instead of the whole index.
        let full = crate::repo::index::parse(text, "t/index.yaml").unwrap();
        let light = crate::repo::index::parse_for_cache(text, "t/index.yaml").unwrap();
        assert_eq!(full.warnings, light.warnings);
        assert_eq!(full.warnings.len(), 1, "{:?}", full.warnings);
        assert!(
            full.warnings[0].starts_with("t/index.yaml: skipping entry demo[0]: "),
            "{:?}",
            full.warnings
        );
        for big in [
            "12345678901234567890",
            "-9223372036854775809",
            "0x10000000000000000",
        ] {
            assert!(big_integer(big), "{big}");
        }
        // Digests and versions stay on the fast path.
        let digits64 = "1".repeat(64);
        for small in [
            "9223372036854775807",
            &format!("{:064x}", 7),
            "0f3a9c1e5b7d2468ace013579bdf2468ace013579bdf2468ace013579bdf2468",
            &digits64,
            "1.0.0",
        ] {
            assert!(!big_integer(small), "{small}");
        }
        // Past 128 bits serde_yaml reads a float, which its `Value` holds: both accept.
        let text =
            format!("apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    x: {digits64}\n");
        let full = crate::repo::index::parse(text.as_bytes(), "t").unwrap();
        let light = crate::repo::index::parse_for_cache(text.as_bytes(), "t").unwrap();
        assert_eq!(full.warnings.len(), 1);
        assert_eq!(light.warnings.len(), 1);
    }
}
