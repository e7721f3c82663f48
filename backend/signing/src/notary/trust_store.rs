//! notation's own configuration, so that a team's set-up works unchanged: `trustpolicy.json`
//! (or notation 1.2's `trustpolicy.oci.json`, preferred when both exist) and the trust store
//! `truststore/x509/<type>/<name>/*.{pem,crt,cer}` under notation's configuration directory
//! (trust-store-trust-policy.md). Pure: the caller reads the files and hands over their bytes.

use serde::Deserialize;

use super::{Trust, MAX_CERTIFICATE_BYTES};

/// The trust policy file names notation reads, in its order of preference.
pub const POLICY_FILES: [&str; 2] = ["trustpolicy.oci.json", "trustpolicy.json"];
/// Certificate files a named store may hold.
pub const CERTIFICATE_EXTENSIONS: [&str; 3] = ["pem", "crt", "cer"];
/// Most certificates read from one named store.
pub const MAX_STORE_CERTIFICATES: usize = 100;

/// notation's verification levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Everything enforced.
    Strict,
    /// Integrity and authenticity enforced; expiry and validity logged.
    Permissive,
    /// Integrity enforced; the rest logged.
    Audit,
    /// No signature needed.
    Skip,
}

/// One policy of the file, the one that applies to a repository.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    pub level: Level,
    /// `ca:<name>` stores (the only type nodefit verifies with).
    pub stores: Vec<String>,
    /// Empty: any identity.
    pub identities: Vec<Vec<(String, String)>>,
}

#[derive(Deserialize)]
struct File {
    version: String,
    #[serde(rename = "trustPolicies")]
    policies: Vec<FilePolicy>,
}

#[derive(Deserialize)]
struct FilePolicy {
    name: String,
    #[serde(rename = "registryScopes")]
    scopes: Vec<String>,
    #[serde(rename = "signatureVerification")]
    verification: Verification,
    #[serde(rename = "trustStores", default)]
    stores: Vec<String>,
    #[serde(rename = "trustedIdentities", default)]
    identities: Vec<String>,
}

#[derive(Deserialize)]
struct Verification {
    level: String,
    #[serde(default)]
    r#override: std::collections::BTreeMap<String, String>,
}

/// A notation trust policy document.
pub struct PolicyFile {
    policies: Vec<(Vec<String>, Policy)>,
}

impl PolicyFile {
    /// Reads and checks a policy document as notation does: version 1.0, unique names, a
    /// global scope (`*`) alone in its policy and in at most one policy, no repository in two
    /// policies, known levels, trust stores and identities where the level is not `skip`.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let file: File = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a trust policy: {}", nodefit_registry::json_problem(&e)))?;
        if file.version != "1.0" {
            return Err(format!(
                "trust policy version {:?}; notation and nodefit read 1.0",
                file.version
            ));
        }
        let mut policies = Vec::new();
        let mut seen_scopes = std::collections::BTreeSet::new();
        for policy in file.policies {
            let named = |what: String| format!("trust policy {:?}: {what}", policy.name);
            if policies
                .iter()
                .any(|(_, p): &(Vec<String>, Policy)| p.name == policy.name)
            {
                return Err(named("the name is used twice".into()));
            }
            if policy.scopes.is_empty() {
                return Err(named("no registryScopes".into()));
            }
            if policy.scopes.iter().any(|s| s == "*") && policy.scopes.len() > 1 {
                return Err(named("the global scope * must be its only scope".into()));
            }
            for scope in &policy.scopes {
                if scope != "*" && scope.contains('*') {
                    return Err(named(format!(
                        "scope {scope:?}: only * alone is a wildcard"
                    )));
                }
                if !seen_scopes.insert(scope.clone()) {
                    return Err(named(format!("scope {scope:?} is in two policies")));
                }
            }
            let level = match policy.verification.level.as_str() {
                "strict" => Level::Strict,
                "permissive" => Level::Permissive,
                "audit" => Level::Audit,
                "skip" => Level::Skip,
                other => return Err(named(format!("unknown verification level {other:?}"))),
            };
            if let Some(key) = policy
                .verification
                .r#override
                .keys()
                .find(|k| !["revocation"].contains(&k.as_str()))
            {
                // Overrides of authenticity, expiry and timestamps change what is enforced;
                // nodefit only honours the levels, so it refuses rather than silently differ.
                return Err(named(format!(
                    "the override of {key:?} is not supported by nodefit (revocation only, \
                     which nodefit does not check)"
                )));
            }
            if level == Level::Skip && policy.scopes.iter().any(|s| s == "*") {
                return Err(named("skip cannot apply to the global scope".into()));
            }
            let mut stores = Vec::new();
            for store in &policy.stores {
                match store.split_once(':') {
                    Some(("ca", name)) if valid_store_name(name) => stores.push(name.to_owned()),
                    Some(("signingAuthority" | "tsa", _)) => {
                        return Err(named(format!(
                            "trust store {store:?}: nodefit verifies with ca stores only"
                        )))
                    }
                    _ => return Err(named(format!("trust store {store:?} is not ca:<name>"))),
                }
            }
            let identities = policy
                .identities
                .iter()
                .filter(|i| i.as_str() != "*")
                .map(|i| parse_identity(i).map_err(&named))
                .collect::<Result<Vec<_>, _>>()?;
            let any = policy.identities.iter().any(|i| i == "*");
            if level != Level::Skip && (stores.is_empty() || (identities.is_empty() && !any)) {
                return Err(named(
                    "trustStores and trustedIdentities are required".into(),
                ));
            }
            if any && !identities.is_empty() {
                return Err(named("* must be the only trusted identity".into()));
            }
            policies.push((
                policy.scopes,
                Policy {
                    name: policy.name,
                    level,
                    stores,
                    identities,
                },
            ));
        }
        Ok(Self { policies })
    }

    /// The policy for `repository` (`registry/name`): the one that names it, else the global
    /// one. None means notation refuses the artifact.
    pub fn for_repository(&self, repository: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|(scopes, _)| scopes.iter().any(|s| s == repository))
            .or_else(|| {
                self.policies
                    .iter()
                    .find(|(scopes, _)| scopes.iter().any(|s| s == "*"))
            })
            .map(|(_, policy)| policy)
    }
}

/// A named store's name as notation accepts it (it becomes a directory name).
pub fn valid_store_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.')
}

/// `x509.subject: C=US, ST=WA, O=acme` as attributes (C, ST and O required, as notation
/// requires them); commas and backslashes may be escaped.
pub fn parse_identity(text: &str) -> Result<Vec<(String, String)>, String> {
    let Some(dn) = text.strip_prefix("x509.subject:") else {
        return Err(format!(
            "trusted identity {text:?} is neither * nor x509.subject: …"
        ));
    };
    let mut attributes = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars();
    let mut parts = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ',' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    for part in parts {
        let Some((kind, value)) = part.split_once('=') else {
            return Err(format!(
                "trusted identity {text:?}: {part:?} is not TYPE=value"
            ));
        };
        attributes.push((kind.trim().to_owned(), value.trim().to_owned()));
    }
    for required in ["C", "ST", "O"] {
        if !attributes.iter().any(|(k, _)| k == required) {
            return Err(format!(
                "trusted identity {text:?} lacks {required}, which notation requires"
            ));
        }
    }
    Ok(attributes)
}

/// The certificates of a PEM or DER file (a trust store's, or `--trusted-cert`).
pub fn certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use der::Encode;
    if bytes.starts_with(b"-----") || bytes.trim_ascii_start().starts_with(b"-----") {
        let certificates = x509_cert::Certificate::load_pem_chain(bytes)
            .map_err(|e| format!("not PEM certificates: {e}"))?;
        if certificates.is_empty() {
            return Err("no certificate in the file".into());
        }
        certificates
            .iter()
            .map(|c| c.to_der().map_err(|e| format!("cannot encode: {e}")))
            .collect()
    } else {
        use der::Decode;
        if bytes.len() > MAX_CERTIFICATE_BYTES {
            return Err(format!(
                "{} bytes; a certificate is at most {MAX_CERTIFICATE_BYTES}",
                bytes.len()
            ));
        }
        x509_cert::Certificate::from_der(bytes)
            .map(|_| vec![bytes.to_vec()])
            .map_err(|e| format!("neither PEM nor a DER certificate: {e}"))
    }
}

/// A [`Trust`] from a policy and the certificates of its stores.
pub fn trust(policy: &Policy, certificates: Vec<Vec<u8>>) -> Trust {
    Trust {
        name: format!(
            "notation trust policy {:?} (stores {})",
            policy.name,
            policy
                .stores
                .iter()
                .map(|s| format!("ca:{s}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        certificates,
        identities: policy.identities.clone(),
        level: policy.level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notations_example_policies_read() {
        let file = PolicyFile::parse(
            br#"{"version": "1.0", "trustPolicies": [
              {"name": "wabbit", "registryScopes": ["registry.acme-rockets.io/software/net-monitor"],
               "signatureVerification": {"level": "strict"}, "trustStores": ["ca:wabbit-networks"],
               "trustedIdentities": ["x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools"]},
              {"name": "unsigned", "registryScopes": ["registry.wabbit-networks.io/software/unsigned/net-utils"],
               "signatureVerification": {"level": "skip"}},
              {"name": "global", "registryScopes": ["*"], "signatureVerification": {"level": "audit", "override": {"revocation": "skip"}},
               "trustStores": ["ca:acme-rockets"], "trustedIdentities": ["*"]}]}"#,
        )
        .unwrap();
        let exact = file
            .for_repository("registry.acme-rockets.io/software/net-monitor")
            .unwrap();
        assert_eq!(
            (exact.name.as_str(), exact.level),
            ("wabbit", Level::Strict)
        );
        assert_eq!(
            exact.identities[0][4],
            ("OU".into(), "Security Tools".into())
        );
        assert_eq!(
            file.for_repository("registry.wabbit-networks.io/software/unsigned/net-utils")
                .unwrap()
                .level,
            Level::Skip
        );
        let global = file.for_repository("elsewhere.io/app").unwrap();
        assert_eq!(
            (global.name.as_str(), global.identities.len()),
            ("global", 0)
        );
    }

    #[test]
    fn policies_notation_refuses_are_refused() {
        for (bad, says) in [
            (r#"{"version": "2.0", "trustPolicies": []}"#, "version"),
            (
                r#"{"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["*", "r/x"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:s"], "trustedIdentities": ["*"]}]}"#,
                "only scope",
            ),
            (
                r#"{"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]}"#,
                "global scope",
            ),
            (
                r#"{"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["r/x"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:s"], "trustedIdentities": ["x509.subject: CN=me"]}]}"#,
                "lacks C",
            ),
            (
                r#"{"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["r/x"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:s"]}]}"#,
                "required",
            ),
            (
                r#"{"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["r/x"], "signatureVerification": {"level": "strict", "override": {"expiry": "log"}}, "trustStores": ["ca:s"], "trustedIdentities": ["*"]}]}"#,
                "override",
            ),
            (
                r#"{"version": "1.0", "trustPolicies": [{"name": "a", "registryScopes": ["r/x"], "signatureVerification": {"level": "strict"}, "trustStores": ["ca:../x"], "trustedIdentities": ["*"]}]}"#,
                "ca:<name>",
            ),
        ] {
            let error = PolicyFile::parse(bad.as_bytes())
                .err()
                .unwrap_or_else(|| panic!("{bad}"));
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn identities_unescape_commas() {
        let identity = parse_identity(r"x509.subject: C=US, ST=WA, O=Acme\, Inc.").unwrap();
        assert_eq!(identity[2], ("O".into(), "Acme, Inc.".into()));
    }
}
