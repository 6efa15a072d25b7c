//! Where things live (XDG dirs) and the repositories config (`repositories.yaml`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fsutil::write_atomic;
use super::{RepoError, Result};

/// The config and cache folders of stackpkg.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub cache_dir: PathBuf,
}

impl Paths {
    /// `STACKPKG_CONFIG_HOME` / `STACKPKG_CACHE_HOME` name the folders themselves (tests);
    /// otherwise `$XDG_CONFIG_HOME/stackpkg`, `$XDG_CACHE_HOME/stackpkg`, falling back to
    /// `~/.config` and `~/.cache`.
    pub fn from_env() -> Result<Self> {
        let pick = |own: &str, xdg: &str, fallback: &str| -> Result<PathBuf> {
            if let Some(p) = nonempty_env(own) {
                return Ok(PathBuf::from(p));
            }
            if let Some(p) = nonempty_env(xdg) {
                return Ok(PathBuf::from(p).join("stackpkg"));
            }
            let home = nonempty_env("HOME").ok_or_else(|| {
                RepoError::Invalid(format!("neither {own}, {xdg} nor HOME is set"))
            })?;
            Ok(PathBuf::from(home).join(fallback).join("stackpkg"))
        };
        Ok(Paths {
            config_dir: pick("STACKPKG_CONFIG_HOME", "XDG_CONFIG_HOME", ".config")?,
            cache_dir: pick("STACKPKG_CACHE_HOME", "XDG_CACHE_HOME", ".cache")?,
        })
    }

    pub fn repositories_file(&self) -> PathBuf {
        self.config_dir.join("repositories.yaml")
    }

    /// The index as downloaded (kept for `pull` of entries and for debugging).
    pub fn index_file(&self, repo: &str) -> PathBuf {
        self.cache_dir
            .join("repository")
            .join(format!("{repo}-index.yaml"))
    }

    /// The compact search cache built at update time.
    pub fn compact_file(&self, repo: &str) -> PathBuf {
        self.cache_dir
            .join("repository")
            .join(format!("{repo}.spidx"))
    }
}

fn nonempty_env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepoEntry {
    pub name: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepoConfig {
    #[serde(default = "v1")]
    pub api_version: String,
    #[serde(default)]
    pub repositories: Vec<RepoEntry>,
}

fn v1() -> String {
    "v1".into()
}

/// Repository names become file names in the cache, so they are kept to a safe alphabet.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(RepoError::Invalid(format!(
            "invalid repository name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

impl RepoConfig {
    /// Loads the config; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RepoConfig {
                    api_version: v1(),
                    repositories: Vec::new(),
                })
            }
            Err(e) => return Err(RepoError::io(format!("reading {}", path.display()), e)),
        };
        let cfg: RepoConfig = serde_yaml::from_slice(&bytes).map_err(|e| RepoError::Config {
            path: path.display().to_string(),
            msg: e.to_string(),
        })?;
        for r in &cfg.repositories {
            validate_name(&r.name).map_err(|e| RepoError::Config {
                path: path.display().to_string(),
                msg: e.to_string(),
            })?;
        }
        Ok(cfg)
    }

    /// Saves with mode 0600: the file may hold passwords.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut sorted = self.clone();
        sorted.repositories.sort_by(|a, b| a.name.cmp(&b.name));
        let text = serde_yaml::to_string(&sorted).expect("config serialises");
        write_atomic(path, text.as_bytes(), Some(0o600))
    }

    pub fn get(&self, name: &str) -> Option<&RepoEntry> {
        self.repositories.iter().find(|r| r.name == name)
    }

    pub fn require(&self, name: &str) -> Result<&RepoEntry> {
        self.get(name)
            .ok_or_else(|| RepoError::NoSuchRepo(name.to_string()))
    }

    /// Finds a configured repository by URL (for Chart.yaml dependencies given as URLs).
    pub fn by_url(&self, url: &str) -> Option<&RepoEntry> {
        let norm = |u: &str| u.trim_end_matches('/').to_string();
        self.repositories.iter().find(|r| norm(&r.url) == norm(url))
    }

    pub fn upsert(&mut self, entry: RepoEntry) {
        self.repositories.retain(|r| r.name != entry.name);
        self.repositories.push(entry);
        self.repositories.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.repositories.len();
        self.repositories.retain(|r| r.name != name);
        before != self.repositories.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("repositories.yaml");
        let mut c = RepoConfig::load(&p).unwrap();
        assert!(c.repositories.is_empty());
        c.upsert(RepoEntry {
            name: "b".into(),
            url: "https://b".into(),
            ..Default::default()
        });
        c.upsert(RepoEntry {
            name: "a".into(),
            url: "https://a".into(),
            password: Some("s3cret".into()),
            ..Default::default()
        });
        c.save(&p).unwrap();
        let back = RepoConfig::load(&p).unwrap();
        assert_eq!(back.repositories[0].name, "a");
        assert_eq!(back, c);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(m & 0o777, 0o600);
        }
    }

    #[test]
    fn garbage_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("repositories.yaml");
        for bad in [
            "repositories: 3",
            "repositories:\n- name: a\n",
            "repositories:\n- {name: '../x', url: u}\n",
            "bogus: true",
            "\t\t:",
        ] {
            std::fs::write(&p, bad).unwrap();
            let e = RepoConfig::load(&p).unwrap_err().to_string();
            assert!(e.contains("repositories.yaml"), "{bad}: {e}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("stable-1.x_y").is_ok());
        for bad in ["", "a/b", "..", ".hidden", "a b"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
