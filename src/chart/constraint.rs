//! Version constraints in the dialect Helm charts use (`>=1.28.0-0`, `^1.2`, `~1.2.3`,
//! `1.x`, `1.2 - 1.4`, `>=1.20, <1.30`, `a || b`). The `semver` crate's `VersionReq`
//! lacks `||`, hyphen ranges, space-separated terms and Helm's pre-release rule, so the
//! grammar is parsed here and only the version ordering comes from `semver`.

use std::cmp::Ordering;
use std::fmt;

use semver::{Prerelease, Version};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintError(pub String);

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
struct Cmp {
    op: Op,
    version: Version,
}

/// One `,`/space-separated group of terms (all must hold).
#[derive(Debug, Clone)]
struct Group {
    cmps: Vec<Cmp>,
    /// Any term spelled a pre-release (`-0`, `-alpha`): pre-release versions may match.
    allows_prerelease: bool,
}

/// A parsed constraint: any group may match.
#[derive(Debug, Clone)]
pub struct Constraint {
    groups: Vec<Group>,
    text: String,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A partially given version: `1`, `1.2`, `1.2.3-rc.1`, `1.x`, `*`.
#[derive(Debug, Clone)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Prerelease,
}

impl Partial {
    fn floor(&self) -> Version {
        let mut v = Version::new(
            self.major.unwrap_or(0),
            self.minor.unwrap_or(0),
            self.patch.unwrap_or(0),
        );
        v.pre = self.pre.clone();
        v
    }

    /// The first version above every version this partial covers (`1.2` → `1.3.0`).
    fn ceiling(&self) -> Option<Version> {
        match (self.major, self.minor, self.patch) {
            (None, _, _) => None,
            (Some(m), None, _) => Some(Version::new(m + 1, 0, 0)),
            (Some(m), Some(n), None) => Some(Version::new(m, n + 1, 0)),
            (Some(m), Some(n), Some(p)) => Some(Version::new(m, n, p + 1)),
        }
    }

    fn is_complete(&self) -> bool {
        self.patch.is_some()
    }
}

fn parse_partial(s: &str, whole: &str) -> Result<Partial, ConstraintError> {
    let bad = |why: &str| {
        ConstraintError(format!(
            "invalid version {s:?} in constraint {whole:?}: {why}"
        ))
    };
    let s = s.strip_prefix('v').unwrap_or(s);
    if s.is_empty() {
        return Err(bad("empty"));
    }
    // Build metadata never affects matching.
    let s = s.split('+').next().unwrap_or(s);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err(bad("more than three numbers"));
    }
    let mut nums: [Option<u64>; 3] = [None; 3];
    let mut wildcard = false;
    for (i, part) in parts.iter().enumerate() {
        if matches!(*part, "x" | "X" | "*") {
            wildcard = true;
            continue;
        }
        if wildcard {
            return Err(bad("a number after a wildcard"));
        }
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not a number"));
        }
        nums[i] = Some(part.parse().map_err(|_| bad("number too large"))?);
    }
    let pre = match pre {
        Some(p) => Prerelease::new(p).map_err(|e| bad(&e.to_string()))?,
        None => Prerelease::EMPTY,
    };
    if !pre.is_empty() && nums[2].is_none() {
        return Err(bad("a pre-release needs major.minor.patch"));
    }
    Ok(Partial {
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        pre,
    })
}

/// `=p`: an exact version when complete, else every version of the partial's line.
fn push_range(cmps: &mut Vec<Cmp>, p: &Partial) {
    if p.is_complete() {
        cmps.push(Cmp {
            op: Op::Eq,
            version: p.floor(),
        });
        return;
    }
    cmps.push(Cmp {
        op: Op::Ge,
        version: p.floor(),
    });
    if let Some(c) = p.ceiling() {
        cmps.push(Cmp {
            op: Op::Lt,
            version: c,
        });
    }
}

fn parse_term(
    op: &str,
    ver: &str,
    whole: &str,
    cmps: &mut Vec<Cmp>,
) -> Result<bool, ConstraintError> {
    let p = parse_partial(ver, whole)?;
    let has_pre = !p.pre.is_empty();
    match op {
        "" | "=" | "==" => push_range(cmps, &p),
        "!=" => {
            if p.major.is_none() {
                return Err(ConstraintError(format!(
                    "constraint {whole:?} excludes every version"
                )));
            }
            if p.is_complete() {
                cmps.push(Cmp {
                    op: Op::Ne,
                    version: p.floor(),
                });
            } else {
                // `!=1.2` would exclude a whole line, an OR inside one AND group;
                // refuse it rather than guess.
                return Err(ConstraintError(format!(
                    "constraint {whole:?}: '!=' needs a full major.minor.patch version"
                )));
            }
        }
        ">" => match p.ceiling() {
            None => {
                return Err(ConstraintError(format!(
                    "constraint {whole:?} matches no version"
                )))
            }
            Some(c) if !p.is_complete() => cmps.push(Cmp {
                op: Op::Ge,
                version: c,
            }),
            Some(_) => cmps.push(Cmp {
                op: Op::Gt,
                version: p.floor(),
            }),
        },
        ">=" | "=>" => cmps.push(Cmp {
            op: Op::Ge,
            version: p.floor(),
        }),
        "<" => cmps.push(Cmp {
            op: Op::Lt,
            version: p.floor(),
        }),
        "<=" | "=<" => match p.ceiling() {
            None => cmps.push(Cmp {
                op: Op::Ge,
                version: Version::new(0, 0, 0),
            }),
            Some(c) if !p.is_complete() => cmps.push(Cmp {
                op: Op::Lt,
                version: c,
            }),
            Some(_) => cmps.push(Cmp {
                op: Op::Le,
                version: p.floor(),
            }),
        },
        "~" | "~>" => {
            cmps.push(Cmp {
                op: Op::Ge,
                version: p.floor(),
            });
            let upper = match (p.major, p.minor) {
                (None, _) => None,
                (Some(m), None) => Some(Version::new(m + 1, 0, 0)),
                (Some(m), Some(n)) => Some(Version::new(m, n + 1, 0)),
            };
            if let Some(u) = upper {
                cmps.push(Cmp {
                    op: Op::Lt,
                    version: u,
                });
            }
        }
        "^" => {
            cmps.push(Cmp {
                op: Op::Ge,
                version: p.floor(),
            });
            let upper = match (p.major, p.minor, p.patch) {
                (None, _, _) => None,
                (Some(0), None, _) => Some(Version::new(1, 0, 0)),
                (Some(0), Some(0), None) => Some(Version::new(0, 1, 0)),
                (Some(0), Some(0), Some(z)) => Some(Version::new(0, 0, z + 1)),
                (Some(0), Some(n), _) => Some(Version::new(0, n + 1, 0)),
                (Some(m), _, _) => Some(Version::new(m + 1, 0, 0)),
            };
            if let Some(u) = upper {
                cmps.push(Cmp {
                    op: Op::Lt,
                    version: u,
                });
            }
        }
        other => {
            return Err(ConstraintError(format!(
                "unknown operator {other:?} in constraint {whole:?}"
            )))
        }
    }
    Ok(has_pre)
}

fn split_op(term: &str) -> (&str, &str) {
    let end = term
        .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~' | '^'))
        .unwrap_or(term.len());
    (&term[..end], term[end..].trim())
}

impl Constraint {
    pub fn parse(text: &str) -> Result<Constraint, ConstraintError> {
        let whole = text.trim();
        if whole.is_empty() {
            return Err(ConstraintError("empty version constraint".into()));
        }
        let mut groups = Vec::new();
        for alt in whole.split("||") {
            let alt = alt.trim();
            if alt.is_empty() {
                return Err(ConstraintError(format!(
                    "empty alternative in constraint {whole:?}"
                )));
            }
            // Tokens: split on commas and spaces, then glue operators written apart
            // from their version (`>= 1.2`) and recognise hyphen ranges (`1.2 - 1.4`).
            let raw: Vec<&str> = alt
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
                .collect();
            let mut tokens: Vec<String> = Vec::new();
            let mut i = 0;
            while i < raw.len() {
                let t = raw[i];
                let (op, rest) = split_op(t);
                if !op.is_empty() && rest.is_empty() {
                    let next = raw.get(i + 1).ok_or_else(|| {
                        ConstraintError(format!("operator {op:?} without a version in {whole:?}"))
                    })?;
                    tokens.push(format!("{op}{next}"));
                    i += 2;
                } else {
                    tokens.push(t.to_string());
                    i += 1;
                }
            }
            let mut cmps = Vec::new();
            let mut allows_prerelease = false;
            let mut j = 0;
            while j < tokens.len() {
                if tokens.get(j + 1).map(String::as_str) == Some("-") {
                    let hi = tokens.get(j + 2).ok_or_else(|| {
                        ConstraintError(format!("hyphen range without an upper end in {whole:?}"))
                    })?;
                    let lo = parse_partial(&tokens[j], whole)?;
                    let hi_p = parse_partial(hi, whole)?;
                    allows_prerelease |= !lo.pre.is_empty() || !hi_p.pre.is_empty();
                    cmps.push(Cmp {
                        op: Op::Ge,
                        version: lo.floor(),
                    });
                    match hi_p.ceiling() {
                        Some(c) if !hi_p.is_complete() => cmps.push(Cmp {
                            op: Op::Lt,
                            version: c,
                        }),
                        Some(_) => cmps.push(Cmp {
                            op: Op::Le,
                            version: hi_p.floor(),
                        }),
                        None => {}
                    }
                    j += 3;
                    continue;
                }
                let (op, ver) = split_op(&tokens[j]);
                allows_prerelease |= parse_term(op, ver, whole, &mut cmps)?;
                j += 1;
            }
            groups.push(Group {
                cmps,
                allows_prerelease,
            });
        }
        Ok(Constraint {
            groups,
            text: whole.to_string(),
        })
    }

    /// Whether `version` satisfies the constraint. A pre-release version only matches a
    /// group that itself names a pre-release (Helm's rule; hence `>=1.28.0-0` for clusters
    /// reporting versions like `1.29.3-gke.1`).
    pub fn matches(&self, version: &Version) -> bool {
        let mut v = version.clone();
        v.build = semver::BuildMetadata::EMPTY;
        self.groups.iter().any(|g| {
            if !v.pre.is_empty() && !g.allows_prerelease {
                return false;
            }
            g.cmps.iter().all(|c| {
                let ord = v.cmp(&c.version);
                match c.op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                }
            })
        })
    }
}

/// Parse a version leniently the way Kubernetes reports them: `v1.29.3`, `1.29`,
/// `1.29.3-gke.100`, `v1.30.0+k3s1`.
pub fn parse_lenient_version(text: &str) -> Result<Version, ConstraintError> {
    let p = parse_partial(text.trim(), text.trim()).map_err(|_| {
        ConstraintError(format!("{text:?} is not a version (expected e.g. 1.29.3)"))
    })?;
    if p.major.is_none() || (p.minor.is_none() && p.patch.is_some()) {
        return Err(ConstraintError(format!(
            "{text:?} is not a version (expected e.g. 1.29.3)"
        )));
    }
    if text.contains(['x', 'X', '*']) && p.pre.is_empty() {
        return Err(ConstraintError(format!(
            "{text:?} is not a version (expected e.g. 1.29.3)"
        )));
    }
    let mut v = p.floor();
    if let Some((_, build)) = text.trim().split_once('+') {
        v.build = semver::BuildMetadata::new(build).map_err(|_| {
            ConstraintError(format!("{text:?} is not a version (expected e.g. 1.29.3)"))
        })?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        Constraint::parse(c)
            .unwrap()
            .matches(&parse_lenient_version(v).unwrap())
    }

    #[test]
    fn helm_style_ranges() {
        assert!(ok(">=1.28.0-0", "1.29.3-gke.100"));
        assert!(!ok(">=1.28.0", "1.29.3-gke.100"));
        assert!(ok(">=1.28.0", "v1.29.3"));
        assert!(!ok(">=1.28.0-0", "1.27.9"));
        assert!(ok(">= 1.20, < 1.30", "1.29"));
        assert!(!ok(">= 1.20, < 1.30", "1.30.0"));
        assert!(ok(">=1.20 <1.30", "1.25.1"));
        assert!(ok("^1.2.3", "1.9.0"));
        assert!(!ok("^1.2.3", "2.0.0"));
        assert!(!ok("^0.2.3", "0.3.0"));
        assert!(ok("~1.2.3", "1.2.9"));
        assert!(!ok("~1.2.3", "1.3.0"));
        assert!(ok("1.x", "1.7.2"));
        assert!(!ok("1.x", "2.0.0"));
        assert!(ok("1.2 - 1.4", "1.4.9"));
        assert!(!ok("1.2 - 1.4", "1.5.0"));
        assert!(ok("<1.0.0 || >=2.0.0", "2.1.0"));
        assert!(!ok("<1.0.0 || >=2.0.0", "1.5.0"));
        assert!(ok("*", "3.0.0"));
        assert!(ok("1.2.3", "1.2.3"));
        assert!(!ok("1.2.3", "1.2.4"));
        assert!(ok("!=1.2.3", "1.2.4"));
        assert!(ok(">1.2", "1.3.0"));
        assert!(!ok(">1.2", "1.2.9"));
        assert!(ok("<=1.2", "1.2.9"));
        assert!(ok("1.30.0+k3s1", "1.30.0"));
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            ">=",
            "abc",
            ">=1.2.3.4",
            "1.a",
            ">>1",
            "1.x.3",
            "||",
            ">=1 ||",
            "1.2 -",
            "!=1.2",
            "=~1.0",
            "^1.2-beta",
        ] {
            assert!(Constraint::parse(bad).is_err(), "{bad:?} should not parse");
        }
        for bad in ["", "abc", "1.x", ".1", "1..2", "v"] {
            assert!(
                parse_lenient_version(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
    }
}
