//! Versions as NFD compares them with `type: version`: Masterminds semver v3's loose
//! `NewVersion`, then the pre-release dropped; only (major, minor, patch) is compared.

/// A parsed version, reduced to what NFD compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

/// `v?N(.N)?(.N)?(-PRE)?(+META)?`, each `N` ASCII digits within u64, `PRE`/`META` dot-separated
/// non-empty identifiers of `[0-9A-Za-z-]`; an all-digit `PRE` identifier with a leading zero is
/// refused.
pub fn parse(s: &str) -> Option<Version> {
    let rest = s.strip_prefix('v').unwrap_or(s);
    let (core, meta) = match rest.split_once('+') {
        Some((c, m)) => (c, Some(m)),
        None => (rest, None),
    };
    let (numbers, pre) = match core.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (core, None),
    };
    let mut parts = numbers.split('.');
    let mut number = |required: bool| -> Option<Option<u64>> {
        match parts.next() {
            None if !required => Some(None),
            None => None,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok().map(Some)
            }
            Some(_) => None,
        }
    };
    let major = number(true)??;
    let minor = number(false)?.unwrap_or(0);
    let patch = number(false)?.unwrap_or(0);
    if parts.next().is_some() {
        return None;
    }
    let identifiers_ok = |s: &str| {
        s.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if let Some(pre) = pre {
        if !identifiers_ok(pre) {
            return None;
        }
        let leading_zero_number = |id: &str| {
            id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit())
        };
        if pre.split('.').any(leading_zero_number) {
            return None;
        }
    }
    if let Some(meta) = meta {
        if !identifiers_ok(meta) {
            return None;
        }
    }
    Some(Version {
        major,
        minor,
        patch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<(u64, u64, u64)> {
        parse(s).map(|v| (v.major, v.minor, v.patch))
    }

    #[test]
    fn loose_versions_parse_as_nfd_sees_them() {
        assert_eq!(v("22.04"), Some((22, 4, 0)));
        assert_eq!(v("v1"), Some((1, 0, 0)));
        assert_eq!(v("6.1.0-rc7"), Some((6, 1, 0)));
        assert_eq!(v("5.15.0-91-generic"), Some((5, 15, 0)));
        assert_eq!(v("6.1.91-99.172.amzn2023.aarch64"), Some((6, 1, 91)));
        assert_eq!(v("1.2.3+meta.1"), Some((1, 2, 3)));
        assert_eq!(v("1.2.3-0"), Some((1, 2, 3)));
        for bad in [
            "",
            "1.2.3.4",
            "5.14.0-427.13.1.el9_4.x86_64",
            " 1.2",
            "-1",
            "1.2.3-01",
            "1..2",
            "1.2.",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "99999999999999999999",
            "V1.2",
        ] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
    }
}
