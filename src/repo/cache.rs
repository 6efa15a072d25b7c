//! The compact index cache: what `search`, `pull` and dependency resolution need from a
//! repository, in a small binary file written at `repo update` time.
//!
//! Why not re-read `index.yaml`: a 20 MB index takes most of a second to parse and hundreds
//! of megabytes of memory; this file loads in milliseconds because it is a string table
//! (each distinct string once; descriptions repeat across versions) plus fixed-size records
//! of indices into it.
//!
//! Layout (little endian): `SPKIDX01`, u32 string count, then each string as u32 length +
//! UTF-8 bytes, then u32 chart count, then per chart u32 name + u32 version count and per
//! version `FIELDS` u32s. Every read is bounds-checked; any mismatch is a `Cache` error.

use std::collections::HashMap;
use std::path::Path;

use super::fsutil::{read, write_atomic};
use super::index::IndexFile;
use super::{RepoError, Result};

const MAGIC: &[u8; 8] = b"SPKIDX01";
const FIELDS: usize = 8;
/// Separator inside joined list fields (keywords, urls); cannot occur in YAML scalars we
/// accept from an index without being escaped.
const SEP: char = '\u{1f}';

#[derive(Debug, Clone, Copy)]
pub struct CVersion {
    pub version: u32,
    pub app_version: u32,
    pub description: u32,
    pub keywords: u32,
    pub digest: u32,
    pub created: u32,
    pub urls: u32,
    pub deprecated: bool,
}

#[derive(Debug, Clone)]
pub struct CChart {
    pub name: u32,
    pub versions: Vec<CVersion>,
}

#[derive(Debug)]
pub struct CompactIndex {
    buf: Vec<u8>,
    spans: Vec<(u32, u32)>,
    pub charts: Vec<CChart>,
}

struct Interner {
    map: HashMap<String, u32>,
    out: Vec<u8>,
    count: u32,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.count;
        self.count += 1;
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        self.map.insert(s.to_string(), i);
        i
    }
}

/// Serialises an index into the compact form.
pub fn build(index: &IndexFile) -> Vec<u8> {
    let mut strings = Interner {
        map: HashMap::new(),
        out: Vec::new(),
        count: 0,
    };
    strings.id("");
    let mut recs: Vec<u8> = Vec::new();
    let push = |recs: &mut Vec<u8>, v: u32| recs.extend_from_slice(&v.to_le_bytes());
    push(&mut recs, index.entries.len() as u32);
    for (name, versions) in &index.entries {
        push(&mut recs, strings.id(name));
        push(&mut recs, versions.len() as u32);
        for e in versions {
            let fields = [
                strings.id(&e.version),
                strings.id(e.app_version.as_deref().unwrap_or("")),
                strings.id(e.description.as_deref().unwrap_or("")),
                strings.id(&join(&e.keywords)),
                strings.id(&e.digest),
                strings.id(e.created.as_deref().unwrap_or("")),
                strings.id(&join(&e.urls)),
                u32::from(e.deprecated),
            ];
            for f in fields {
                push(&mut recs, f);
            }
        }
    }
    let mut out = Vec::with_capacity(16 + strings.out.len() + recs.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&strings.count.to_le_bytes());
    out.extend_from_slice(&strings.out);
    out.extend_from_slice(&recs);
    out
}

fn join(v: &[String]) -> String {
    let mut s = String::new();
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(SEP);
        }
        s.push_str(x);
    }
    s
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> std::result::Result<u32, String> {
        let end = self.pos + 4;
        let b = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos = end;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl CompactIndex {
    pub fn write(index: &IndexFile, path: &Path) -> Result<()> {
        write_atomic(path, &build(index), None)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let buf = read(path)?;
        Self::from_bytes(buf).map_err(|msg| RepoError::Cache {
            path: path.display().to_string(),
            msg,
        })
    }

    pub fn from_bytes(buf: Vec<u8>) -> std::result::Result<Self, String> {
        if buf.get(..8) != Some(MAGIC.as_slice()) {
            return Err("bad magic".into());
        }
        let mut r = Reader { buf: &buf, pos: 8 };
        let n = r.u32()? as usize;
        // Each string takes at least 4 bytes: refuse counts the file cannot hold.
        if n > buf.len() / 4 {
            return Err(format!("string count {n} exceeds file size"));
        }
        let mut spans = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u32()? as usize;
            let start = r.pos;
            let end = start
                .checked_add(len)
                .filter(|&e| e <= buf.len())
                .ok_or_else(|| format!("string at byte {start} runs past the end"))?;
            std::str::from_utf8(&buf[start..end])
                .map_err(|_| format!("string at byte {start} is not UTF-8"))?;
            spans.push((start as u32, end as u32));
            r.pos = end;
        }
        let check = |i: u32| -> std::result::Result<u32, String> {
            if (i as usize) < n {
                Ok(i)
            } else {
                Err(format!("string index {i} out of range"))
            }
        };
        let nc = r.u32()? as usize;
        if nc > buf.len() / 8 {
            return Err(format!("chart count {nc} exceeds file size"));
        }
        let mut charts = Vec::with_capacity(nc);
        for _ in 0..nc {
            let name = check(r.u32()?)?;
            let nv = r.u32()? as usize;
            if nv > (buf.len() - r.pos) / (4 * FIELDS) {
                return Err(format!("version count {nv} exceeds file size"));
            }
            let mut versions = Vec::with_capacity(nv);
            for _ in 0..nv {
                let mut f = [0u32; FIELDS];
                for x in f.iter_mut() {
                    *x = r.u32()?;
                }
                for x in &f[..FIELDS - 1] {
                    check(*x)?;
                }
                versions.push(CVersion {
                    version: f[0],
                    app_version: f[1],
                    description: f[2],
                    keywords: f[3],
                    digest: f[4],
                    created: f[5],
                    urls: f[6],
                    deprecated: f[7] != 0,
                });
            }
            charts.push(CChart { name, versions });
        }
        if r.pos != buf.len() {
            return Err(format!("{} trailing bytes", buf.len() - r.pos));
        }
        Ok(CompactIndex { buf, spans, charts })
    }

    pub fn str(&self, i: u32) -> &str {
        let (s, e) = self.spans[i as usize];
        // Validated as UTF-8 in `from_bytes`.
        std::str::from_utf8(&self.buf[s as usize..e as usize]).unwrap_or("")
    }

    pub fn list(&self, i: u32) -> Vec<&str> {
        let s = self.str(i);
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(SEP).collect()
        }
    }

    pub fn chart(&self, name: &str) -> Option<&CChart> {
        self.charts
            .binary_search_by(|c| self.str(c.name).cmp(name))
            .ok()
            .map(|i| &self.charts[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::index::parse;

    const IDX: &str = r#"apiVersion: v1
entries:
  b:
  - {name: b, version: 1.0.0, description: d, keywords: [x, y], urls: [b.tgz], digest: aa}
  - {name: b, version: 1.1.0, description: d, urls: [b1.tgz, m/b1.tgz], deprecated: true}
  a:
  - {name: a, version: 0.1.0, urls: [a.tgz]}
"#;

    #[test]
    fn round_trip() {
        let idx = parse(IDX.as_bytes(), "t").unwrap().index;
        let c = CompactIndex::from_bytes(build(&idx)).unwrap();
        assert_eq!(c.charts.len(), 2);
        let b = c.chart("b").unwrap();
        assert_eq!(c.str(b.versions[0].version), "1.1.0");
        assert!(b.versions[0].deprecated);
        assert_eq!(c.list(b.versions[0].urls), vec!["b1.tgz", "m/b1.tgz"]);
        assert_eq!(c.list(b.versions[1].keywords), vec!["x", "y"]);
        assert_eq!(c.str(b.versions[1].digest), "aa");
        assert!(c.chart("zz").is_none());
        // The shared description is stored once.
        assert_eq!(b.versions[0].description, b.versions[1].description);
    }

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        let idx = parse(IDX.as_bytes(), "t").unwrap().index;
        let good = build(&idx);
        for cut in 0..good.len() {
            assert!(
                CompactIndex::from_bytes(good[..cut].to_vec()).is_err(),
                "cut {cut}"
            );
        }
        let mut extra = good.clone();
        extra.push(0);
        assert!(CompactIndex::from_bytes(extra).is_err());
        // Flip every byte in turn: must never panic.
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xff;
            let _ = CompactIndex::from_bytes(b);
        }
        assert!(CompactIndex::from_bytes(b"SPKIDX01\xff\xff\xff\xff".to_vec()).is_err());
    }
}
