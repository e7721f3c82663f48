//! Image references and target platforms, as the user names them.

use std::fmt;

use super::Error;

/// Longest repository name the distribution spec allows, registry not included.
const MAX_NAME_LENGTH: usize = 255;

/// An image reference that names its registry: `host[:port]/repository[:tag][@digest]`.
///
/// NFD (through oras-go) takes the first path component as the registry, always; docker would
/// silently read `team/app` as `docker.io/team/app`. nodefit refuses references whose first
/// component is not a host name, so that no registry is dialled that the user did not name.
///
/// Parsed by hand after distribution's reference grammar: `oci_client::Reference` compiles a
/// large Unicode regex on first use, which costs 60 ms, more than a whole `discover`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::Usage(format!("invalid image reference {text:?}: {why}"));
        let Some((registry, rest)) = text.split_once('/') else {
            return Err(Error::Usage(format!(
                "image reference {text:?} must start with its registry, e.g. \
                 registry.example.com/team/app:v1 or 127.0.0.1:5000/app:v1"
            )));
        };
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(Error::Usage(format!(
                "image reference {text:?} must start with its registry (a host name with a dot \
                 or a port, or localhost), e.g. registry.example.com/{text}"
            )));
        }
        if !is_host(registry) {
            return Err(invalid("the registry is not a valid host[:port]"));
        }
        let (rest, digest) = match rest.split_once('@') {
            Some((name, digest)) => {
                let valid = match digest.split_once(':') {
                    Some(("sha256", hex)) => hex.len() == 64,
                    Some(("sha384", hex)) => hex.len() == 96,
                    Some(("sha512", hex)) => hex.len() == 128,
                    _ => false,
                } && digest.split_once(':').is_some_and(|(_, hex)| {
                    hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
                });
                if !valid {
                    return Err(invalid("the digest is not sha256:<64 hex digits>"));
                }
                (name, Some(digest.to_owned()))
            }
            None => (rest, None),
        };
        let (repository, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            let b = tag.as_bytes();
            let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
            if b.is_empty()
                || b.len() > 128
                || !word(&b[0])
                || !b.iter().all(|c| word(c) || matches!(c, b'.' | b'-'))
            {
                return Err(invalid("the tag is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
            }
        }
        if repository.len() > MAX_NAME_LENGTH {
            return Err(invalid("the repository name is longer than 255 characters"));
        }
        if !repository.split('/').all(is_path_component) {
            return Err(invalid(
                "the repository must be lower-case path components of letters and digits, \
                 separated by '.', '_', '__' or dashes",
            ));
        }
        // docker's rule for official images on Docker Hub.
        let repository = if is_docker_hub(registry) && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        Ok(Self {
            registry: registry.to_owned(),
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The registry as named in the reference (`docker.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host requests go to: the named registry, except Docker Hub's API host for its names.
    pub fn endpoint(&self) -> &str {
        if is_docker_hub(&self.registry) {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// What to ask the registry for: the digest when one is given (it wins over a tag, as in
    /// docker and oras), else the tag (`latest` when neither is given).
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The digest in the reference, if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository@digest`, for messages and for `oras`-style references.
    pub fn at_digest(&self, digest: &str) -> String {
        format!("{}/{}@{digest}", self.registry, self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn is_docker_hub(registry: &str) -> bool {
    matches!(registry, "docker.io" | "index.docker.io")
}

/// `host[:port]`: DNS labels separated by dots, an IPv4 address, or `[IPv6]`.
fn is_host(text: &str) -> bool {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|c| c.is_ascii_digit()));
    let label_ok = |label: &str| {
        let b = label.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    port_ok && (text.starts_with('[') || host.split('.').all(label_ok))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let b = component.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        if !(separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|c| c == b'-'))
        {
            return false;
        }
    }
    true
}

/// A target platform in NFD's `--platform` syntax: `os[/arch[/variant]][:osversion]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub os_version: Option<String>,
}

impl Platform {
    /// Parses like NFD's `PlatformOption.Parse`: with only an OS, the architecture is the one this
    /// binary was built for (NFD uses its Go `runtime.GOARCH`); empty variant and OS version mean
    /// "any". Values are not normalised (`aarch64` is not `arm64`), as in NFD.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let (spec, os_version) = text.split_once(':').unwrap_or((text, ""));
        let parts: Vec<&str> = spec.split('/').collect();
        let (architecture, variant) = match parts.as_slice() {
            [_] => (go_arch().to_owned(), ""),
            [_, arch] => ((*arch).to_owned(), ""),
            [_, arch, variant] => ((*arch).to_owned(), *variant),
            _ => {
                return Err(Error::Usage(format!(
                    "invalid platform {text:?}: expected os[/arch[/variant]][:osversion]"
                )))
            }
        };
        if parts[0].is_empty() {
            return Err(Error::Usage(format!(
                "invalid platform {text:?}: the OS cannot be empty"
            )));
        }
        if architecture.is_empty() {
            return Err(Error::Usage(format!(
                "invalid platform {text:?}: the architecture cannot be empty"
            )));
        }
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(Self {
            os: parts[0].to_owned(),
            architecture,
            variant: non_empty(variant),
            os_version: non_empty(os_version),
        })
    }

    /// oras-go's `platform.Match(got, want)` with `self` as `want`: OS and architecture equal,
    /// variant and OS version equal when wanted.
    pub fn matches(
        &self,
        os: &str,
        architecture: &str,
        variant: Option<&str>,
        os_version: Option<&str>,
    ) -> bool {
        self.os == os
            && self.architecture == architecture
            && self.variant.as_deref().is_none_or(|v| variant == Some(v))
            && self
                .os_version
                .as_deref()
                .is_none_or(|v| os_version == Some(v))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        if let Some(version) = &self.os_version {
            write!(f, ":{version}")?;
        }
        Ok(())
    }
}

/// Go's `runtime.GOARCH` for the architecture this binary runs on.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_must_name_their_registry() {
        let r = ImageRef::parse("127.0.0.1:5000/demo/app:v1").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.endpoint(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "demo/app");
        assert_eq!(r.manifest_reference(), "v1");
        assert_eq!(r.digest(), None);

        let digest = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("localhost/app:v1@{digest}")).unwrap();
        assert_eq!(r.manifest_reference(), digest);
        assert_eq!(r.at_digest(&digest), format!("localhost/app@{digest}"));

        let r = ImageRef::parse("docker.io/busybox").unwrap();
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.endpoint(), "registry-1.docker.io");
        assert_eq!(r.to_string(), "docker.io/library/busybox");

        let r = ImageRef::parse("[::1]:5000/a.b/c__d/e---f:V1.0-rc_1").unwrap();
        assert_eq!(r.registry(), "[::1]:5000");
        assert_eq!(r.repository(), "a.b/c__d/e---f");
        assert_eq!(r.manifest_reference(), "V1.0-rc_1");
        let r = ImageRef::parse("reg.example.com/team/app").unwrap();
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(r.to_string(), "reg.example.com/team/app");

        for bad in [
            "busybox",
            "team/app:v1",
            "",
            "127.0.0.1:5000/UPPER",
            "127.0.0.1:5000/",
            "127.0.0.1:5000/a//b",
            "127.0.0.1:5000/a/-b",
            "127.0.0.1:5000/a_-b",
            "127.0.0.1:5000/a:",
            "127.0.0.1:5000/a:.v1",
            "127.0.0.1:5000/a@sha256:abc",
            "127.0.0.1:5000/a@md5:0123456789abcdef0123456789abcdef",
            "reg-.example.com/a",
            "reg.example.com:/a",
            "reg.example.com:99999x/a",
            "[zz]:5000/a",
        ] {
            assert!(
                matches!(ImageRef::parse(bad), Err(Error::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn platforms_parse_like_nfd() {
        let p = Platform::parse("linux/arm64/v8:10.0").unwrap();
        assert_eq!(
            p,
            Platform {
                os: "linux".into(),
                architecture: "arm64".into(),
                variant: Some("v8".into()),
                os_version: Some("10.0".into()),
            }
        );
        assert_eq!(p.to_string(), "linux/arm64/v8:10.0");
        assert_eq!(Platform::parse("linux").unwrap().architecture, go_arch());
        assert_eq!(Platform::parse("linux/amd64/").unwrap().variant, None);
        for bad in ["", "/amd64", "linux/", "a/b/c/d"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn platform_matching_follows_oras() {
        let want = Platform::parse("linux/arm64").unwrap();
        assert!(want.matches("linux", "arm64", Some("v8"), None));
        assert!(want.matches("linux", "arm64", None, None));
        assert!(!want.matches("linux", "amd64", None, None));
        let want = Platform::parse("linux/arm64/v8").unwrap();
        assert!(want.matches("linux", "arm64", Some("v8"), None));
        assert!(!want.matches("linux", "arm64", None, None));
        let want = Platform::parse("windows/amd64:10.0.17763").unwrap();
        assert!(!want.matches("windows", "amd64", None, Some("10.0.20348")));
        assert!(want.matches("windows", "amd64", None, Some("10.0.17763")));
    }
}
