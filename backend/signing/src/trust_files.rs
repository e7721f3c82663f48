//! Reading what a trust policy names from disk: cosign public keys, trusted certificates,
//! notation's configuration directory (its trust policy and `truststore/x509/ca/<name>` stores)
//! and nodefit's own policy file. Everything is read once, up front, so that a server decides
//! per repository without touching the disk and a broken entry is found at start, not at the
//! first request that needs it. Every file is read through the bounded reader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::notary::{self, trust_store};
use crate::trust::{self, Requirement, Rule, Trusted};
use crate::{read_public_key, Refusal, MAX_KEY_BYTES};

/// Largest certificate file read (`--trusted-cert`, `trustedCerts`, trust stores).
pub const MAX_CERT_FILE_BYTES: u64 = 1024 * 1024;

/// Why trust could not be loaded: a file that cannot be read or used, named with its path.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

fn unusable(path: &Path, what: &str, why: impl std::fmt::Display) -> LoadError {
    LoadError(format!("{what} {}: {why}", path.display()))
}

fn read(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, LoadError> {
    nodefit_files::read_bytes(path, limit).map_err(|e| unusable(path, what, e))
}

/// A cosign public key file, named by its path.
pub fn load_key(path: &Path) -> Result<Trusted, LoadError> {
    let bytes = read(path, "public key", MAX_KEY_BYTES as u64)?;
    let key = read_public_key(&bytes).map_err(|e| unusable(path, "public key", e))?;
    Ok(Trusted::Key {
        name: format!("key {}", path.display()),
        key,
    })
}

/// Trusted certificates for Notary Project signatures, with the identities the signing
/// certificate must match (any when empty).
pub fn load_certs(paths: &[PathBuf], identities: &[String]) -> Result<Trusted, LoadError> {
    let mut certificates = Vec::new();
    for path in paths {
        let bytes = read(path, "trusted certificate", MAX_CERT_FILE_BYTES)?;
        certificates.extend(
            trust_store::certificates(&bytes)
                .map_err(|e| unusable(path, "trusted certificate", e))?,
        );
    }
    let identities = identities
        .iter()
        .map(|i| trust_store::parse_identity(i).map_err(LoadError))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Trusted::Notary(notary::Trust {
        name: format!(
            "certificates {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        certificates,
        identities,
        level: trust_store::Level::Strict,
    }))
}

/// notation's configuration directory as read: its trust policy and the certificates of every
/// store a policy names.
pub struct NotationConfig {
    policy_path: PathBuf,
    policy: trust_store::PolicyFile,
    stores: BTreeMap<String, Vec<Vec<u8>>>,
}

impl NotationConfig {
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let policy_path = trust_store::POLICY_FILES
            .iter()
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
            .ok_or_else(|| {
                unusable(
                    dir,
                    "notation configuration",
                    format!("no {} there", trust_store::POLICY_FILES.join(" or ")),
                )
            })?;
        let bytes = read(
            &policy_path,
            "notation trust policy",
            trust::MAX_POLICY_BYTES as u64,
        )?;
        let policy = trust_store::PolicyFile::parse(&bytes)
            .map_err(|e| unusable(&policy_path, "notation trust policy", e))?;
        let mut stores = BTreeMap::new();
        for store in policy.stores() {
            let store_dir = dir.join("truststore/x509/ca").join(store);
            stores.insert(store.to_owned(), read_store(&store_dir)?);
        }
        Ok(Self {
            policy_path,
            policy,
            stores,
        })
    }

    /// What notation's policy trusts for `repository`; `None` when it says `skip`.
    pub fn trust_for(&self, repository: &str) -> Result<Option<Trusted>, Refusal> {
        let Some(policy) = self.policy.for_repository(repository) else {
            return Err(Refusal::NoPolicy(format!(
                "notation's trust policy {} has no policy for {repository} and no global (*) one",
                self.policy_path.display()
            )));
        };
        if policy.level == trust_store::Level::Skip {
            return Ok(None);
        }
        let certificates = policy
            .stores
            .iter()
            .flat_map(|store| self.stores.get(store).into_iter().flatten().cloned())
            .collect();
        Ok(Some(Trusted::Notary(trust_store::trust(
            policy,
            certificates,
        ))))
    }
}

/// The certificates of a named store: its `.pem`, `.crt` and `.cer` files (subdirectories are
/// ignored, symlinks refused, as notation does).
fn read_store(dir: &Path) -> Result<Vec<Vec<u8>>, LoadError> {
    let store = |why: &dyn std::fmt::Display| unusable(dir, "notation trust store", why);
    let meta = std::fs::symlink_metadata(dir).map_err(|e| store(&e))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(store(&"not a directory (symlinks are refused)"));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| store(&e))?
        .collect::<Result<_, _>>()
        .map_err(|e| store(&e))?;
    entries.sort_by_key(|e| e.file_name());
    let mut certificates = Vec::new();
    for entry in entries {
        let path = entry.path();
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| trust_store::CERTIFICATE_EXTENSIONS.contains(&e));
        let kind = entry.file_type().map_err(|e| store(&e))?;
        if kind.is_dir() || !wanted {
            continue;
        }
        if kind.is_symlink() {
            return Err(unusable(
                &path,
                "certificate",
                "a symlink; notation trust stores refuse them",
            ));
        }
        let bytes = read(&path, "certificate", MAX_CERT_FILE_BYTES)?;
        certificates.extend(
            trust_store::certificates(&bytes).map_err(|e| unusable(&path, "certificate", e))?,
        );
        if certificates.len() > trust_store::MAX_STORE_CERTIFICATES {
            return Err(store(&format!(
                "more than {} certificates (signing::notary::trust_store::MAX_STORE_CERTIFICATES)",
                trust_store::MAX_STORE_CERTIFICATES
            )));
        }
    }
    if certificates.is_empty() {
        return Err(store(&"holds no certificate"));
    }
    Ok(certificates)
}

/// One trust entry of a nodefit policy, read.
enum Entry {
    Trusted(Trusted),
    Notation(NotationConfig),
}

/// A nodefit trust policy file and everything it names, read. Paths in it are relative to the
/// file's directory.
pub struct Policy {
    path: PathBuf,
    file: trust::File,
    entries: BTreeMap<String, Vec<Entry>>,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let bytes = read(path, "trust policy", trust::MAX_POLICY_BYTES as u64)?;
        let file = trust::File::parse(&bytes).map_err(|e| unusable(path, "trust policy", e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut entries = BTreeMap::new();
        for policy in &file.policies {
            let mut loaded = Vec::new();
            for entry in &policy.trust {
                loaded.push(if let Some(key) = &entry.cosign_key {
                    Entry::Trusted(load_key(&base.join(key))?)
                } else if let Some(dir) = &entry.notation_config {
                    Entry::Notation(NotationConfig::load(&base.join(dir))?)
                } else {
                    let paths: Vec<PathBuf> =
                        entry.trusted_certs.iter().map(|p| base.join(p)).collect();
                    Entry::Trusted(load_certs(&paths, &entry.identities)?)
                });
            }
            entries.insert(policy.name.clone(), loaded);
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            entries,
        })
    }

    /// What must verify for `repository` (`registry/name`): the most specific scope's policy.
    /// A repository no scope covers is refused.
    pub fn requirement(&self, repository: &str) -> Result<Requirement, Refusal> {
        let Some(policy) = self.file.for_repository(repository) else {
            return Err(Refusal::NoPolicy(format!(
                "trust policy {} has no scope for {repository} (add it, a prefix of it ending \
                 in /*, or *)",
                self.path.display()
            )));
        };
        let entries = self.entries.get(&policy.name).map(Vec::as_slice);
        let mut trusted = Vec::new();
        let mut rule = policy.require;
        for entry in entries.unwrap_or_default() {
            match entry {
                Entry::Trusted(t) => trusted.push(t.clone()),
                Entry::Notation(config) => match config.trust_for(repository)? {
                    Some(notation) => trusted.push(notation),
                    // notation's `skip` as the only entry: nothing needs to verify.
                    None if policy.trust.len() == 1 => rule = Rule::None,
                    None => {}
                },
            }
        }
        Ok(Requirement {
            policy: policy.name.clone(),
            rule,
            trusted,
        })
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("path", &self.path)
            .field(
                "policies",
                &self
                    .file
                    .policies
                    .iter()
                    .map(|p| &p.name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}
