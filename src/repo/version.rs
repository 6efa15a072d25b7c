//! Chart versions and version ranges as chart authors write them.
//!
//! Index files and Chart.yaml ranges follow the conventions of Helm's semver library:
//! versions may omit minor/patch or carry a `v` prefix, a bare version in a range means
//! "exactly", comparators may be separated by spaces or commas, `||` joins alternatives and
//! `A - B` is an inclusive range. We translate that into the `semver` crate's syntax rather
//! than writing a matcher of our own.

use semver::{Version, VersionReq};

/// Parses a version leniently: `v1.2` is 1.2.0. Returns `None` for anything else.
pub fn parse_version(s: &str) -> Option<Version> {
    let s = s.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    if let Ok(v) = Version::parse(s) {
        return Some(v);
    }
    // Pad missing minor/patch before any pre-release or build suffix.
    let cut = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(cut);
    let parts = core.split('.').count();
    if core.is_empty() || parts >= 3 {
        return None;
    }
    let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts));
    Version::parse(&padded).ok()
}

/// A version range: one or more alternatives (`||`), each a set of comparators.
#[derive(Debug, Clone)]
pub struct Range {
    alternatives: Vec<VersionReq>,
    text: String,
    /// Pre-releases match as if they were their release (Helm's `--devel`).
    prerelease: bool,
}

impl Range {
    /// Accepts every stable version (`*`); pre-releases need `--devel` or a pre-release range.
    pub fn any() -> Self {
        Range {
            alternatives: vec![VersionReq::STAR],
            text: "*".into(),
            prerelease: false,
        }
    }

    /// Accepts every version including pre-releases (Helm's `--devel`).
    pub fn any_devel() -> Self {
        Range::any().with_prerelease()
    }

    /// Lets pre-release versions match (as their release would).
    pub fn with_prerelease(mut self) -> Self {
        self.prerelease = true;
        self
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Range::any());
        }
        let mut alternatives = Vec::new();
        for alt in trimmed.split("||") {
            let req = translate(alt.trim())
                .and_then(|s| VersionReq::parse(&s).map_err(|e| e.to_string()))
                .map_err(|e| format!("invalid version range {text:?}: {e}"))?;
            alternatives.push(req);
        }
        Ok(Range {
            alternatives,
            text: trimmed.to_string(),
            prerelease: false,
        })
    }

    pub fn matches(&self, v: &Version) -> bool {
        if self.alternatives.iter().any(|r| r.matches(v)) {
            return true;
        }
        if self.prerelease && !v.pre.is_empty() {
            let release = Version::new(v.major, v.minor, v.patch);
            return self.alternatives.iter().any(|r| r.matches(&release));
        }
        false
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Converts one alternative to the `semver` crate's comma-separated syntax.
fn translate(alt: &str) -> Result<String, String> {
    if alt.is_empty() {
        return Err("empty alternative".into());
    }
    // Inclusive hyphen range `A - B`.
    if let Some((lo, hi)) = alt.split_once(" - ") {
        return Ok(format!(">={}, <={}", bare(lo.trim())?, bare(hi.trim())?));
    }
    // Tokens: an operator may be separated from its version by spaces (`>= 1.2`).
    let mut comparators = Vec::new();
    let mut pending_op = String::new();
    for tok in alt.split([' ', ',']).filter(|t| !t.is_empty()) {
        let op_len = tok
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '~' | '^' | '!'))
            .unwrap_or(tok.len());
        let (op, ver) = tok.split_at(op_len);
        let op = format!("{pending_op}{op}");
        if ver.is_empty() {
            pending_op = op;
            continue;
        }
        pending_op.clear();
        if op == "!=" {
            return Err("'!=' is not supported".into());
        }
        let ver = ver.strip_prefix('v').unwrap_or(ver);
        let wildcard = ver.split('.').any(|p| matches!(p, "x" | "X" | "*"));
        let op = match op.as_str() {
            // A bare version means exactly that version; a bare wildcard is a wildcard.
            "" if wildcard => String::new(),
            "" => "=".to_string(),
            "~>" => "~".to_string(),
            _ => op,
        };
        comparators.push(format!("{op}{}", normalise_wildcards(ver)));
    }
    if !pending_op.is_empty() {
        return Err(format!("operator {pending_op:?} without a version"));
    }
    if comparators.is_empty() {
        return Err("empty range".into());
    }
    Ok(comparators.join(", "))
}

fn bare(v: &str) -> Result<String, String> {
    parse_version(v)
        .map(|v| v.to_string())
        .ok_or_else(|| format!("{v:?} is not a version"))
}

/// `1.x.x` → `1.x`: the semver crate rejects components after a wildcard.
fn normalise_wildcards(v: &str) -> String {
    let mut out = Vec::new();
    for p in v.split('.') {
        out.push(p);
        if matches!(p, "x" | "X" | "*") {
            break;
        }
    }
    out.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(range: &str, v: &str) -> bool {
        Range::parse(range)
            .unwrap()
            .matches(&parse_version(v).unwrap())
    }

    #[test]
    fn lenient_versions() {
        assert_eq!(parse_version("v1.2").unwrap().to_string(), "1.2.0");
        assert_eq!(parse_version("3").unwrap().to_string(), "3.0.0");
        assert_eq!(
            parse_version("1.2-beta.1").unwrap().to_string(),
            "1.2.0-beta.1"
        );
        assert!(parse_version("latest").is_none());
        assert!(parse_version("").is_none());
        assert!(parse_version("1.2.3.4").is_none());
    }

    #[test]
    fn ranges_follow_helm_conventions() {
        assert!(m("1.2.3", "1.2.3"));
        assert!(!m("1.2.3", "1.2.4"), "a bare version is exact");
        assert!(m("^1.2.0", "1.9.0"));
        assert!(!m("^1.2.0", "2.0.0"));
        assert!(m("1.x.x", "1.4.2"));
        assert!(m("~1.2", "1.2.9"));
        assert!(!m("~1.2", "1.3.0"));
        assert!(m(">= 1.0 < 2.0", "1.5.0"));
        assert!(!m(">=1.0, <2.0", "2.0.0"));
        assert!(m("1.0.0 - 1.5.0", "1.5.0"));
        assert!(m("^1 || ^3", "3.1.0"));
        assert!(!m("^1 || ^3", "2.1.0"));
        assert!(!m("*", "1.0.0-rc.1"), "stable only by default");
        assert!(Range::any_devel().matches(&parse_version("1.0.0-rc.1").unwrap()));
    }

    #[test]
    fn garbage_ranges_are_errors() {
        for bad in ["^^1", ">=", "1.2.3 -", "!=1.0.0", "abc", "||"] {
            assert!(Range::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
