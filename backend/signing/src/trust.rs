//! One trust policy for every signature format: which keys and certificates are trusted for
//! which repositories, and whether any one or all of them must have signed. Pure: the caller
//! reads the policy file and the key and certificate files it names.
//!
//! The policy file (JSON, documented in docs/signing.md):
//!
//! ```json
//! {"version": "1", "policies": [
//!   {"name": "team", "scopes": ["registry.example.com/team/*"], "require": "all-of",
//!    "trust": [{"cosignKey": "keys/ci.pub"},
//!              {"trustedCerts": ["certs/root.pem"], "identities": ["x509.subject: C=US, ST=WA, O=Team"]},
//!              {"notationConfig": "/etc/notation"}]},
//!   {"name": "scratch", "scopes": ["registry.example.com/scratch"], "require": "none"}]}
//! ```
//!
//! A scope is a repository (`registry/name`), a prefix ending in `/*`, or `*`; the most
//! specific scope that matches applies (the repository itself, then the longest prefix, then
//! `*`), and a repository no scope matches is refused, as notation refuses it.

use std::path::PathBuf;

use p256::ecdsa::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::notary;

/// Largest policy file read.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// Most policies and trust entries in one file.
pub const MAX_POLICIES: usize = 1000;

/// How many of a scope's trust entries must have signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// One verified signature by any entry.
    AnyOf,
    /// A verified signature by each entry.
    AllOf,
    /// No signature needed (notation's `skip`).
    None,
}

/// A trust entry as the file names it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryFile {
    /// A cosign public key (PEM `PUBLIC KEY`): sigstore bundles and classic signatures.
    #[serde(rename = "cosignKey")]
    pub cosign_key: Option<PathBuf>,
    /// Trusted certificates (PEM or DER files): Notary Project signatures chaining to one.
    #[serde(rename = "trustedCerts", default)]
    pub trusted_certs: Vec<PathBuf>,
    /// notation's `x509.subject: …` identities the signing certificate must match (any when
    /// empty), for `trustedCerts`.
    #[serde(default)]
    pub identities: Vec<String>,
    /// A notation configuration directory: its trust policy and trust store decide.
    #[serde(rename = "notationConfig")]
    pub notation_config: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub name: String,
    pub scopes: Vec<String>,
    pub require: Rule,
    #[serde(default)]
    pub trust: Vec<EntryFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub version: String,
    pub policies: Vec<PolicyFile>,
}

impl File {
    /// Reads and checks a policy file: version `1`, names unique, each scope in one policy,
    /// scopes well-formed, trust entries naming exactly one kind of trust.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(format!(
                "the trust policy is {} bytes; nodefit reads at most {MAX_POLICY_BYTES} \
                 (signing::trust::MAX_POLICY_BYTES)",
                bytes.len()
            ));
        }
        let file: File = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "not a nodefit trust policy: {}",
                nodefit_registry::json_problem(&e)
            )
        })?;
        if file.version != "1" {
            return Err(format!(
                "trust policy version {:?}; nodefit reads \"1\"",
                file.version
            ));
        }
        let entries: usize = file.policies.iter().map(|p| p.trust.len() + 1).sum();
        if entries > MAX_POLICIES {
            return Err(format!(
                "{entries} policies and trust entries; nodefit reads at most {MAX_POLICIES} \
                 (signing::trust::MAX_POLICIES)"
            ));
        }
        let mut scopes = std::collections::BTreeSet::new();
        let mut names = std::collections::BTreeSet::new();
        for policy in &file.policies {
            let named = |what: String| format!("policy {:?}: {what}", policy.name);
            if !names.insert(&policy.name) {
                return Err(named("the name is used twice".into()));
            }
            if policy.scopes.is_empty() {
                return Err(named("no scopes".into()));
            }
            for scope in &policy.scopes {
                let body = scope.strip_suffix("/*").unwrap_or(scope);
                if scope != "*" && (body.is_empty() || body.contains('*') || body.contains("://")) {
                    return Err(named(format!(
                        "scope {scope:?} is not a repository, a prefix ending in /*, or *"
                    )));
                }
                if !scopes.insert(scope) {
                    return Err(named(format!("scope {scope:?} is in two policies")));
                }
            }
            match (policy.require, policy.trust.is_empty()) {
                (Rule::None, false) => {
                    return Err(named("require \"none\" takes no trust entries".into()))
                }
                (Rule::AnyOf | Rule::AllOf, true) => {
                    return Err(named(
                        "a signature is required but nothing is trusted".into(),
                    ))
                }
                _ => {}
            }
            for entry in &policy.trust {
                let kinds = usize::from(entry.cosign_key.is_some())
                    + usize::from(!entry.trusted_certs.is_empty())
                    + usize::from(entry.notation_config.is_some());
                if kinds != 1 {
                    return Err(named(
                        "each trust entry names one of cosignKey, trustedCerts, notationConfig"
                            .into(),
                    ));
                }
                if !entry.identities.is_empty() && entry.trusted_certs.is_empty() {
                    return Err(named("identities go with trustedCerts".into()));
                }
            }
        }
        Ok(file)
    }

    /// The policy for `repository` (`registry/name`): the most specific scope that matches.
    pub fn for_repository(&self, repository: &str) -> Option<&PolicyFile> {
        let mut best: Option<(usize, &PolicyFile)> = None;
        for policy in &self.policies {
            for scope in &policy.scopes {
                let rank = if scope == repository {
                    usize::MAX
                } else if let Some(prefix) = scope.strip_suffix("/*") {
                    match repository.strip_prefix(prefix) {
                        Some(rest) if rest.starts_with('/') => prefix.len() + 1,
                        _ => continue,
                    }
                } else if scope == "*" {
                    0
                } else {
                    continue;
                };
                if best.is_none_or(|(r, _)| rank > r) {
                    best = Some((rank, policy));
                }
            }
        }
        best.map(|(_, policy)| policy)
    }
}

/// One thing trusted to sign, loaded.
#[derive(Clone, Debug)]
pub enum Trusted {
    /// A cosign key, with the name messages give it (its file).
    Key { name: String, key: VerifyingKey },
    /// Certificates (and identities) for Notary Project signatures.
    Notary(notary::Trust),
}

impl Trusted {
    pub fn name(&self) -> &str {
        match self {
            Trusted::Key { name, .. } => name,
            Trusted::Notary(trust) => &trust.name,
        }
    }
}

/// What the scope of one repository requires: the loaded trust entries and the rule.
#[derive(Clone, Debug)]
pub struct Requirement {
    /// The policy's name, for messages (`--key` when given on the command line).
    pub policy: String,
    pub rule: Rule,
    pub trusted: Vec<Trusted>,
}

impl Requirement {
    /// Whether the signatures verified by the entries `verified_by` (indexes into `trusted`)
    /// satisfy the rule.
    pub fn satisfied(&self, verified_by: &[usize]) -> bool {
        match self.rule {
            Rule::None => true,
            Rule::AnyOf => !verified_by.is_empty(),
            Rule::AllOf => (0..self.trusted.len()).all(|i| verified_by.contains(&i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"version": "1", "policies": [
        {"name": "team", "scopes": ["reg.io/team/*"], "require": "all-of",
         "trust": [{"cosignKey": "ci.pub"}, {"trustedCerts": ["root.pem"], "identities": ["x509.subject: C=US, ST=WA, O=Team"]}]},
        {"name": "app", "scopes": ["reg.io/team/app"], "require": "any-of", "trust": [{"notationConfig": "/etc/notation"}]},
        {"name": "deep", "scopes": ["reg.io/team/sub/*"], "require": "any-of", "trust": [{"cosignKey": "sub.pub"}]},
        {"name": "rest", "scopes": ["*"], "require": "none"}]}"#;

    #[test]
    fn the_most_specific_scope_applies() {
        let file = File::parse(POLICY.as_bytes()).unwrap();
        let name = |repo: &str| file.for_repository(repo).map(|p| p.name.as_str());
        assert_eq!(name("reg.io/team/app"), Some("app"));
        assert_eq!(name("reg.io/team/other"), Some("team"));
        assert_eq!(name("reg.io/team/sub/x"), Some("deep"));
        assert_eq!(name("reg.io/teamx/app"), Some("rest"));
        assert_eq!(name("reg.io/team"), Some("rest"));
        let without_global = POLICY.replace(
            r#"{"name": "rest", "scopes": ["*"], "require": "none"}"#,
            r#"{"name": "rest", "scopes": ["other.io/x"], "require": "none"}"#,
        );
        let file = File::parse(without_global.as_bytes()).unwrap();
        assert!(file.for_repository("reg.io/elsewhere").is_none());
    }

    #[test]
    fn malformed_policies_are_refused_with_the_reason() {
        for (bad, says) in [
            (r#"{"version": "2", "policies": []}"#, "version"),
            (
                r#"{"version": "1", "policies": [{"name": "a", "scopes": ["r/*x"], "require": "none"}]}"#,
                "not a repository",
            ),
            (
                r#"{"version": "1", "policies": [{"name": "a", "scopes": ["r/x"], "require": "any-of"}]}"#,
                "nothing is trusted",
            ),
            (
                r#"{"version": "1", "policies": [{"name": "a", "scopes": ["r/x"], "require": "none"}, {"name": "b", "scopes": ["r/x"], "require": "none"}]}"#,
                "two policies",
            ),
            (
                r#"{"version": "1", "policies": [{"name": "a", "scopes": ["r/x"], "require": "any-of", "trust": [{"cosignKey": "k", "notationConfig": "d"}]}]}"#,
                "one of",
            ),
            (
                r#"{"version": "1", "policies": [{"name": "a", "scopes": ["r/x"], "require": "sometimes"}]}"#,
                "not a nodefit trust policy",
            ),
        ] {
            let error = File::parse(bad.as_bytes()).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn rules_count_the_entries_that_verified() {
        let requirement = |rule| Requirement {
            policy: "p".into(),
            rule,
            trusted: vec![
                Trusted::Key {
                    name: "a".into(),
                    key: *crate::keys::generate().unwrap().verifying_key(),
                },
                Trusted::Key {
                    name: "b".into(),
                    key: *crate::keys::generate().unwrap().verifying_key(),
                },
            ],
        };
        assert!(requirement(Rule::AnyOf).satisfied(&[1]));
        assert!(!requirement(Rule::AnyOf).satisfied(&[]));
        assert!(!requirement(Rule::AllOf).satisfied(&[1, 1]));
        assert!(requirement(Rule::AllOf).satisfied(&[1, 0]));
        assert!(requirement(Rule::None).satisfied(&[]));
    }
}
