//! The flags that say what is trusted, shared by `verify`, `fetch`, `validate-node` and
//! `discover`, and how they become the signing crate's [`Requirement`] for a repository: cosign
//! keys, trusted certificates and notation's configuration on the command line (any of them
//! verifying is enough, or each with `--require-all`), or one trust policy file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use nodefit_signing::notary::{self, trust_store};
use nodefit_signing::trust::{self, Requirement, Rule, Trusted};
use nodefit_signing::{read_public_key, Refusal, MAX_KEY_BYTES};

/// Largest certificate file read (`--trusted-cert`, trust stores).
const MAX_CERT_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Args, Default)]
pub struct TrustOpts {
    /// A trusted certificate (PEM or DER): Notary Project signatures whose chain leads to it
    /// verify. Repeat for more.
    #[arg(long = "trusted-cert", value_name = "FILE")]
    trusted_certs: Vec<PathBuf>,
    /// notation's configuration directory (`~/.config/notation`): its trustpolicy.json and
    /// trust store decide which Notary Project signatures verify.
    #[arg(long, value_name = "DIR")]
    notation_config: Option<PathBuf>,
    /// Require a verified signature by each key, certificate and notation policy given,
    /// instead of by any one of them.
    #[arg(long)]
    require_all: bool,
    /// A nodefit trust policy (docs/signing.md): what must verify, per repository. Replaces
    /// the other trust flags.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trusted_certs", "notation_config", "require_all"])]
    trust_policy: Option<PathBuf>,
}

impl TrustOpts {
    /// Whether anything is trusted: without it, commands behave as NFD and verify nothing.
    pub fn given(&self, keys: &[PathBuf]) -> bool {
        !keys.is_empty()
            || !self.trusted_certs.is_empty()
            || self.notation_config.is_some()
            || self.trust_policy.is_some()
    }

    /// What must verify for `repository` (`registry/name`), with `keys` the command's cosign
    /// key flags. `Ok(None)` when nothing is trusted. A repository no policy covers is a
    /// [`Refusal::NoPolicy`].
    pub fn requirement(&self, keys: &[PathBuf], repository: &str) -> Result<Option<Requirement>> {
        if let Some(path) = &self.trust_policy {
            if !keys.is_empty() {
                bail!("--trust-policy names the trusted keys itself; drop the key flags");
            }
            return policy_requirement(path, repository).map(Some);
        }
        if !self.given(keys) {
            return Ok(None);
        }
        let mut trusted = Vec::new();
        for key in keys {
            trusted.push(load_key(key)?);
        }
        if !self.trusted_certs.is_empty() {
            trusted.push(load_certs(&self.trusted_certs, &[])?);
        }
        let mut rule = if self.require_all {
            Rule::AllOf
        } else {
            Rule::AnyOf
        };
        if let Some(dir) = &self.notation_config {
            match load_notation(dir, repository)? {
                Some(notation) => trusted.push(notation),
                // notation's `skip`: this repository needs no Notary Project signature.
                None if trusted.is_empty() => rule = Rule::None,
                None => {}
            }
        }
        Ok(Some(Requirement {
            policy: "the command line's trust flags".into(),
            rule,
            trusted,
        }))
    }
}

/// A cosign public key file, named by its path.
pub fn load_key(path: &Path) -> Result<Trusted> {
    let bytes = nodefit_files::read_bytes(path, MAX_KEY_BYTES as u64)?;
    let key = read_public_key(&bytes).with_context(|| format!("public key {}", path.display()))?;
    Ok(Trusted::Key {
        name: format!("key {}", path.display()),
        key,
    })
}

fn load_certs(paths: &[PathBuf], identities: &[String]) -> Result<Trusted> {
    let mut certificates = Vec::new();
    for path in paths {
        let bytes = nodefit_files::read_bytes(path, MAX_CERT_FILE_BYTES)?;
        certificates.extend(
            trust_store::certificates(&bytes)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("trusted certificate {}", path.display()))?,
        );
    }
    let identities = identities
        .iter()
        .map(|i| trust_store::parse_identity(i).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
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

/// notation's policy for `repository` and its trust stores' certificates; `None` when the
/// policy says `skip`.
fn load_notation(dir: &Path, repository: &str) -> Result<Option<Trusted>> {
    let policy_file = trust_store::POLICY_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .with_context(|| {
            format!(
                "notation configuration {}: no {} there",
                dir.display(),
                trust_store::POLICY_FILES.join(" or ")
            )
        })?;
    let bytes = nodefit_files::read_bytes(&policy_file, trust::MAX_POLICY_BYTES as u64)?;
    let file = trust_store::PolicyFile::parse(&bytes)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("notation trust policy {}", policy_file.display()))?;
    let Some(policy) = file.for_repository(repository) else {
        return Err(anyhow::Error::new(Refusal::NoPolicy(format!(
            "notation's trust policy {} has no policy for {repository} and no global (*) one",
            policy_file.display()
        ))));
    };
    if policy.level == trust_store::Level::Skip {
        return Ok(None);
    }
    let mut certificates = Vec::new();
    for store in &policy.stores {
        let store_dir = dir.join("truststore/x509/ca").join(store);
        certificates.extend(read_store(&store_dir)?);
    }
    Ok(Some(Trusted::Notary(trust_store::trust(
        policy,
        certificates,
    ))))
}

/// The certificates of a named store: its `.pem`, `.crt` and `.cer` files (subdirectories are
/// ignored, symlinks refused, as notation does).
fn read_store(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let meta = std::fs::symlink_metadata(dir)
        .with_context(|| format!("notation trust store {}", dir.display()))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        bail!(
            "notation trust store {} is not a directory (symlinks are refused)",
            dir.display()
        );
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("notation trust store {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    let mut certificates = Vec::new();
    for entry in entries {
        let path = entry.path();
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| trust_store::CERTIFICATE_EXTENSIONS.contains(&e));
        let kind = entry.file_type()?;
        if kind.is_dir() || !wanted {
            continue;
        }
        if kind.is_symlink() {
            bail!(
                "{} is a symlink; notation trust stores refuse them",
                path.display()
            );
        }
        let bytes = nodefit_files::read_bytes(&path, MAX_CERT_FILE_BYTES)?;
        certificates.extend(
            trust_store::certificates(&bytes)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("certificate {}", path.display()))?,
        );
        if certificates.len() > trust_store::MAX_STORE_CERTIFICATES {
            bail!(
                "notation trust store {} holds more than {} certificates \
                 (signing::notary::trust_store::MAX_STORE_CERTIFICATES)",
                dir.display(),
                trust_store::MAX_STORE_CERTIFICATES
            );
        }
    }
    if certificates.is_empty() {
        bail!(
            "notation trust store {} holds no certificate",
            dir.display()
        );
    }
    Ok(certificates)
}

/// The requirement a nodefit trust policy file sets for `repository`. Paths in it are relative
/// to the file's directory.
fn policy_requirement(path: &Path, repository: &str) -> Result<Requirement> {
    let bytes = nodefit_files::read_bytes(path, trust::MAX_POLICY_BYTES as u64)?;
    let file = trust::File::parse(&bytes)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("trust policy {}", path.display()))?;
    let Some(policy) = file.for_repository(repository) else {
        return Err(anyhow::Error::new(Refusal::NoPolicy(format!(
            "trust policy {} has no scope for {repository} (add it, a prefix of it ending in \
             /*, or *)",
            path.display()
        ))));
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut trusted = Vec::new();
    let mut rule = policy.require;
    for entry in &policy.trust {
        if let Some(key) = &entry.cosign_key {
            trusted.push(load_key(&base.join(key))?);
        } else if let Some(dir) = &entry.notation_config {
            match load_notation(&base.join(dir), repository)? {
                Some(notation) => trusted.push(notation),
                None if policy.trust.len() == 1 => rule = Rule::None,
                None => {}
            }
        } else {
            let paths: Vec<PathBuf> = entry.trusted_certs.iter().map(|p| base.join(p)).collect();
            trusted.push(load_certs(&paths, &entry.identities)?);
        }
    }
    Ok(Requirement {
        policy: policy.name.clone(),
        rule,
        trusted,
    })
}
