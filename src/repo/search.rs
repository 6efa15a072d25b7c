//! `search repo`: keyword and version-range search over the compact caches.

use serde::Serialize;

use super::cache::{CChart, CompactIndex};
use super::version::{parse_version, Range};

#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    /// Case-insensitive substring of `repo/chart`, description or a keyword.
    pub keyword: Option<String>,
    /// Explicit range (`--version`); otherwise the newest stable (or any with `devel`).
    pub range: Option<Range>,
    /// Every matching version instead of the newest only.
    pub all_versions: bool,
    pub devel: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub name: String,
    pub version: String,
    pub app_version: String,
    pub description: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
}

/// Searches the given repositories; results sorted by `repo/chart`, newest version first.
pub fn search(repos: &[(String, CompactIndex)], opts: &SearchOptions) -> Vec<SearchHit> {
    let range = match (&opts.range, opts.devel) {
        (Some(r), true) => r.clone().with_prerelease(),
        (Some(r), false) => r.clone(),
        (None, true) => Range::any_devel(),
        (None, false) => Range::any(),
    };
    let needle = opts.keyword.as_deref().map(str::to_lowercase);
    let mut hits = Vec::new();
    for (repo, idx) in repos {
        for chart in &idx.charts {
            search_chart(repo, idx, chart, needle.as_deref(), &range, opts, &mut hits);
        }
    }
    // Charts are already sorted within a repository; repositories may interleave.
    hits.sort_by(|a, b| a.name.cmp(&b.name));
    hits
}

fn search_chart(
    repo: &str,
    idx: &CompactIndex,
    chart: &CChart,
    needle: Option<&str>,
    range: &Range,
    opts: &SearchOptions,
    hits: &mut Vec<SearchHit>,
) {
    let chart_name = idx.str(chart.name);
    let full = format!("{repo}/{chart_name}");
    // Versions are sorted newest first; the keyword is matched against each version's own
    // description and keywords (they can change between versions).
    for v in &chart.versions {
        let version = idx.str(v.version);
        let Some(parsed) = parse_version(version) else {
            continue;
        };
        if !range.matches(&parsed) {
            continue;
        }
        if let Some(n) = needle {
            let matched = contains_ci(&full, n)
                || contains_ci(idx.str(v.description), n)
                || idx.list(v.keywords).iter().any(|k| contains_ci(k, n));
            if !matched {
                continue;
            }
        }
        hits.push(SearchHit {
            name: full.clone(),
            version: version.to_string(),
            app_version: idx.str(v.app_version).to_string(),
            description: idx.str(v.description).to_string(),
            deprecated: v.deprecated,
        });
        if !opts.all_versions {
            break;
        }
    }
}

/// ASCII case-insensitive substring test without allocating (`needle` is lowercase).
fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return false;
    }
    if !needle.is_ascii() {
        return hay.to_lowercase().contains(needle);
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cache::build;
    use crate::repo::index::parse;

    const IDX: &str = r#"apiVersion: v1
entries:
  kafka:
  - {name: kafka, version: 1.0.0, appVersion: "3.0", description: Event streaming, urls: [k.tgz]}
  - {name: kafka, version: 1.1.0, description: Event streaming, urls: [k.tgz]}
  - {name: kafka, version: 2.0.0-rc.1, description: Event streaming, urls: [k.tgz]}
  zookeeper:
  - {name: zookeeper, version: 0.5.0, description: Coordination, keywords: [Consensus], urls: [z.tgz]}
"#;

    fn repos() -> Vec<(String, CompactIndex)> {
        let idx = parse(IDX.as_bytes(), "t").unwrap().index;
        vec![(
            "data".into(),
            CompactIndex::from_bytes(build(&idx)).unwrap(),
        )]
    }

    fn names(h: &[SearchHit]) -> Vec<String> {
        h.iter()
            .map(|h| format!("{}@{}", h.name, h.version))
            .collect()
    }

    #[test]
    fn newest_stable_by_default() {
        let h = search(&repos(), &SearchOptions::default());
        assert_eq!(names(&h), ["data/kafka@1.1.0", "data/zookeeper@0.5.0"]);
    }

    #[test]
    fn devel_versions_and_ranges() {
        let r = repos();
        let devel = SearchOptions {
            devel: true,
            ..Default::default()
        };
        assert_eq!(names(&search(&r, &devel))[0], "data/kafka@2.0.0-rc.1");
        let all = SearchOptions {
            keyword: Some("KAFKA".into()),
            all_versions: true,
            ..Default::default()
        };
        assert_eq!(
            names(&search(&r, &all)),
            ["data/kafka@1.1.0", "data/kafka@1.0.0"]
        );
        let ranged = SearchOptions {
            range: Some(Range::parse("~1.0").unwrap()),
            ..Default::default()
        };
        assert_eq!(names(&search(&r, &ranged)), ["data/kafka@1.0.0"]);
    }

    #[test]
    fn keyword_matches_description_and_keywords() {
        let r = repos();
        let kw = |k: &str| SearchOptions {
            keyword: Some(k.into()),
            ..Default::default()
        };
        assert_eq!(
            names(&search(&r, &kw("consensus"))),
            ["data/zookeeper@0.5.0"]
        );
        assert_eq!(names(&search(&r, &kw("streaming"))), ["data/kafka@1.1.0"]);
        assert_eq!(
            names(&search(&r, &kw("data/zoo"))),
            ["data/zookeeper@0.5.0"]
        );
        assert!(search(&r, &kw("nothing-like-this")).is_empty());
    }
}
