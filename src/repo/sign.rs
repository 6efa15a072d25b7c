//! Detached ed25519 signatures for chart packages.
//!
//! Public keys and signatures use minisign's text formats (legacy `Ed` algorithm: the
//! signature covers the file bytes directly), so `minisign -V -P KEY -m chart.tgz` can
//! check a stackpkg signature. The secret key file is stackpkg's own, unencrypted
//! (protect it with file permissions; it is written with mode 0600):
//!
//! ```text
//! untrusted comment: stackpkg secret key KEYID
//! base64("SK" || key id (8 bytes) || PKCS#8 ed25519 key)
//! ```
//!
//! The signature of `x.tgz` lives beside it as `x.tgz.minisig`. ring provides ed25519 (it is
//! already in the tree for TLS), so no other crypto crate is needed.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use super::fsutil::{read, write_atomic};
use super::{RepoError, Result};

pub const SIG_EXT: &str = "minisig";

#[derive(Debug, Clone, PartialEq)]
pub struct PublicKey {
    pub key_id: [u8; 8],
    pub key: [u8; 32],
}

pub struct SecretKey {
    key_id: [u8; 8],
    pair: Ed25519KeyPair,
}

fn sig_err(msg: impl Into<String>) -> RepoError {
    RepoError::Signature(msg.into())
}

fn key_id_hex(id: &[u8; 8]) -> String {
    // minisign prints the id as a little-endian u64 in upper-case hex.
    format!("{:016X}", u64::from_le_bytes(*id))
}

/// Generates a key pair; returns (secret key file text, public key file text).
pub fn generate() -> Result<(String, String)> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| sig_err("cannot generate an ed25519 key"))?;
    let mut key_id = [0u8; 8];
    rng.fill(&mut key_id)
        .map_err(|_| sig_err("no randomness for the key id"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| sig_err("generated key is unusable"))?;
    let mut sk = b"SK".to_vec();
    sk.extend_from_slice(&key_id);
    sk.extend_from_slice(pkcs8.as_ref());
    let id = key_id_hex(&key_id);
    let secret = format!(
        "untrusted comment: stackpkg secret key {id}\n{}\n",
        B64.encode(sk)
    );
    let mut pk = b"Ed".to_vec();
    pk.extend_from_slice(&key_id);
    pk.extend_from_slice(pair.public_key().as_ref());
    let public = format!(
        "untrusted comment: minisign public key {id}\n{}\n",
        B64.encode(pk)
    );
    Ok((secret, public))
}

/// Writes a new key pair to `secret` (mode 0600) and `public`.
pub fn generate_files(secret: &Path, public: &Path) -> Result<String> {
    if secret.exists() {
        return Err(RepoError::Invalid(format!(
            "{} exists; not overwriting a key",
            secret.display()
        )));
    }
    let (s, p) = generate()?;
    write_atomic(secret, s.as_bytes(), Some(0o600))?;
    write_atomic(public, p.as_bytes(), None)?;
    Ok(parse_public_keys(&p, "new key")?[0].id())
}

impl PublicKey {
    pub fn id(&self) -> String {
        key_id_hex(&self.key_id)
    }
}

/// The base64 payload lines of a key or signature file (comments skipped).
fn payload_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .collect()
}

/// Parses a keyring: one or more minisign public keys (files may be concatenated; a bare
/// base64 key, as `minisign -P` takes, is accepted too).
pub fn parse_public_keys(text: &str, origin: &str) -> Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for (n, line) in payload_lines(text).into_iter().enumerate() {
        let raw = B64
            .decode(line)
            .map_err(|e| sig_err(format!("{origin}: key {}: not base64: {e}", n + 1)))?;
        if raw.len() != 42 || &raw[..2] != b"Ed" {
            return Err(sig_err(format!(
                "{origin}: key {}: not an ed25519 minisign public key",
                n + 1
            )));
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&raw[2..10]);
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[10..]);
        keys.push(PublicKey { key_id, key });
    }
    if keys.is_empty() {
        return Err(sig_err(format!("{origin}: no public key found")));
    }
    Ok(keys)
}

pub fn load_keyring(path: &Path) -> Result<Vec<PublicKey>> {
    let bytes = read(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| sig_err(format!("{}: not a text key file", path.display())))?;
    parse_public_keys(&text, &path.display().to_string())
}

pub fn load_secret_key(path: &Path) -> Result<SecretKey> {
    let origin = path.display().to_string();
    let bytes = read(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| sig_err(format!("{origin}: not a stackpkg secret key")))?;
    let lines = payload_lines(&text);
    let raw = match lines.as_slice() {
        [one] => B64.decode(one).ok(),
        _ => None,
    }
    .filter(|r| r.len() > 10 && &r[..2] == b"SK")
    .ok_or_else(|| {
        sig_err(format!(
            "{origin}: not a stackpkg secret key (create one with `stackpkg keygen`)"
        ))
    })?;
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&raw[2..10]);
    let pair = Ed25519KeyPair::from_pkcs8(&raw[10..])
        .map_err(|_| sig_err(format!("{origin}: damaged secret key")))?;
    Ok(SecretKey { key_id, pair })
}

/// Signs `data`; returns the minisign signature file text.
pub fn sign(key: &SecretKey, data: &[u8], file_name: &str) -> String {
    let sig = key.pair.sign(data);
    let mut sig_blob = b"Ed".to_vec();
    sig_blob.extend_from_slice(&key.key_id);
    sig_blob.extend_from_slice(sig.as_ref());
    // Only a bare file name goes into the trusted comment; keep it on one line.
    let clean: String = file_name.chars().filter(|c| !c.is_control()).collect();
    let trusted = format!("file:{clean}");
    let mut global = sig.as_ref().to_vec();
    global.extend_from_slice(trusted.as_bytes());
    let global_sig = key.pair.sign(&global);
    format!(
        "untrusted comment: signature from stackpkg secret key {}\n{}\ntrusted comment: {trusted}\n{}\n",
        key_id_hex(&key.key_id),
        B64.encode(sig_blob),
        B64.encode(global_sig.as_ref())
    )
}

/// Signs the file at `path`, writing `path.minisig`; returns the signature path.
pub fn sign_file(path: &Path, key_path: &Path) -> Result<std::path::PathBuf> {
    let key = load_secret_key(key_path)?;
    let data = read(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = sig_path(path);
    write_atomic(&out, sign(&key, &data, &name).as_bytes(), None)?;
    Ok(out)
}

pub fn sig_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{SIG_EXT}"));
    s.into()
}

/// Checks a signature over `data` against a keyring; returns the signing key's id.
pub fn verify(data: &[u8], sig_text: &str, keys: &[PublicKey], what: &str) -> Result<String> {
    let bad = |m: &str| sig_err(format!("{what}: {m}"));
    let mut lines = sig_text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut next = || lines.next();
    let (Some(c1), Some(s1), Some(c2), Some(s2)) = (next(), next(), next(), next()) else {
        return Err(bad("signature file is incomplete"));
    };
    if !c1.starts_with("untrusted comment:") {
        return Err(bad("not a minisign signature"));
    }
    let trusted = c2
        .strip_prefix("trusted comment: ")
        .ok_or_else(|| bad("signature has no trusted comment"))?;
    let blob = B64.decode(s1).map_err(|_| bad("signature is not base64"))?;
    if blob.len() != 74 {
        return Err(bad("signature has the wrong length"));
    }
    if &blob[..2] != b"Ed" {
        return Err(bad(
            "only legacy (Ed) minisign signatures are supported; sign with stackpkg or `minisign -S -l`",
        ));
    }
    let key = keys
        .iter()
        .find(|k| k.key_id[..] == blob[2..10])
        .ok_or_else(|| bad("signed by a key that is not in the keyring"))?;
    let pk = UnparsedPublicKey::new(&ED25519, &key.key);
    pk.verify(data, &blob[10..])
        .map_err(|_| bad("signature does not match the file (tampered or wrong key)"))?;
    let global = B64
        .decode(s2)
        .map_err(|_| bad("trusted comment signature is not base64"))?;
    let mut signed = blob[10..].to_vec();
    signed.extend_from_slice(trusted.as_bytes());
    pk.verify(&signed, &global)
        .map_err(|_| bad("trusted comment was altered"))?;
    Ok(key.id())
}

/// Verifies `path` against `path.minisig` and the keyring file.
pub fn verify_file(path: &Path, keyring: &Path) -> Result<String> {
    let keys = load_keyring(keyring)?;
    let data = read(path)?;
    let sp = sig_path(path);
    let sig = std::fs::read_to_string(&sp).map_err(|e| {
        sig_err(format!(
            "{}: no readable signature {} ({e}); the package is unsigned",
            path.display(),
            sp.display()
        ))
    })?;
    verify(&data, &sig, &keys, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let id = generate_files(&sk, &pk).unwrap();
        let f = dir.path().join("c-1.0.0.tgz");
        std::fs::write(&f, b"package bytes").unwrap();
        sign_file(&f, &sk).unwrap();
        assert_eq!(verify_file(&f, &pk).unwrap(), id);

        std::fs::write(&f, b"package bytez").unwrap();
        let e = verify_file(&f, &pk).unwrap_err().to_string();
        assert!(e.contains("does not match"), "{e}");

        // A different key is refused.
        let (sk2, pk2) = (dir.path().join("o.key"), dir.path().join("o.pub"));
        generate_files(&sk2, &pk2).unwrap();
        std::fs::write(&f, b"package bytes").unwrap();
        let e = verify_file(&f, &pk2).unwrap_err().to_string();
        assert!(e.contains("not in the keyring"), "{e}");
        // A keyring with both keys accepts it.
        let both = format!(
            "{}{}",
            std::fs::read_to_string(&pk2).unwrap(),
            std::fs::read_to_string(&pk).unwrap()
        );
        assert_eq!(
            verify(
                b"package bytes",
                &std::fs::read_to_string(sig_path(&f)).unwrap(),
                &parse_public_keys(&both, "ring").unwrap(),
                "f"
            )
            .unwrap(),
            id
        );
    }

    #[test]
    fn altered_trusted_comment_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        generate_files(&sk, &pk).unwrap();
        let key = load_secret_key(&sk).unwrap();
        let keys = load_keyring(&pk).unwrap();
        let s = sign(&key, b"x", "x.tgz").replace("file:x.tgz", "file:y.tgz");
        assert!(verify(b"x", &s, &keys, "x")
            .unwrap_err()
            .to_string()
            .contains("altered"));
    }

    #[test]
    fn garbage_keys_and_signatures() {
        for bad in [
            "",
            "untrusted comment: x\n",
            "!!!",
            "RWQ=",
            "untrusted comment: x\nRWQAAAAA\n",
        ] {
            assert!(parse_public_keys(bad, "k").is_err(), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        generate_files(&sk, &pk).unwrap();
        let keys = load_keyring(&pk).unwrap();
        for bad in [
            "",
            "a\nb\nc\nd",
            "untrusted comment: x\n!!\ntrusted comment: y\nzz",
        ] {
            assert!(verify(b"x", bad, &keys, "x").is_err(), "{bad:?}");
        }
        // A public key is not a secret key.
        assert!(load_secret_key(&pk).is_err());
    }
}
