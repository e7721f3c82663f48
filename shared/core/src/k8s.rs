//! The Kubernetes validation nfd-master applies to what NodeFeatureRules produce, from
//! `k8s.io/apimachinery`: qualified names (label, annotation and resource keys), label values,
//! DNS-1123 subdomains (name prefixes) and resource quantities. The messages are apimachinery's,
//! because nfd-master logs them as they are.

/// Longest name part of a qualified name.
pub const QUALIFIED_NAME_MAX: usize = 63;
/// Longest label value.
pub const LABEL_VALUE_MAX: usize = 63;
/// Longest DNS-1123 subdomain (a name prefix, an object name).
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/// apimachinery's `RegexError`: the message, examples, and the pattern that decides.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}'")).collect();
    format!(
        "{msg} (e.g. {}, regex used for validation is '{fmt}')",
        examples.join(",  or ")
    )
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, written out: no regex engine for three fixed
/// patterns evaluated on every label of every node.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            NAME_CHAR[usize::from(first)] == ALNUM
                && NAME_CHAR[usize::from(last)] == ALNUM
                && b.iter().all(|&c| NAME_CHAR[usize::from(c)] != 0)
        }
        _ => false,
    }
}

const ALNUM: u8 = 1;
const PUNCT: u8 = 2;
/// The bytes of a qualified name part: a table, because every label of every node is checked.
const NAME_CHAR: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] = ALNUM;
        } else if b == b'-' || b == b'_' || b == b'.' {
            t[c] = PUNCT;
        }
        c += 1;
    }
    t
};

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let lower = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            lower(first) && lower(last) && b.iter().all(|c| lower(c) || *c == b'-')
        }
        _ => false,
    }
}

/// `validation.IsDNS1123Subdomain`: the messages, empty when valid.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_SUBDOMAIN_MAX} characters"
        ));
    }
    if !value.split('.').all(is_dns1123_label) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Whether `validation.IsQualifiedName` accepts `value`, without building its messages: the
/// check every label of every node passes through.
pub fn is_qualified_name(value: &str) -> bool {
    match value.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_qualified_name_base(name),
        None => is_qualified_name_base(value),
    }
}

/// Whether the part of a qualified name after its prefix (or a name without one) is valid.
pub fn is_qualified_name_base(name: &str) -> bool {
    name.len() <= QUALIFIED_NAME_MAX && is_qualified_name_part(name)
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` labels joined by dots, at most 253 bytes, in one pass.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || b.len() > DNS1123_SUBDOMAIN_MAX {
        return false;
    }
    let mut previous = b'.';
    for &c in b {
        let ok = match c {
            b'.' => alnum(previous),
            b'-' => previous != b'.',
            c => alnum(c),
        };
        if !ok {
            return false;
        }
        previous = c;
    }
    alnum(previous)
}

/// `validation.IsQualifiedName`: `name` or `prefix/name`, the prefix a DNS-1123 subdomain.
pub fn qualified_name(value: &str) -> Vec<String> {
    if is_qualified_name(value) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX {
        errs.push(format!(
            "name part must be no more than {QUALIFIED_NAME_MAX} characters"
        ));
    }
    if !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `validation.IsValidLabelValue`.
pub fn label_value(value: &str) -> Vec<String> {
    if value.len() <= LABEL_VALUE_MAX && (value.is_empty() || is_qualified_name_part(value)) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errs.push(format!("must be no more than {LABEL_VALUE_MAX} characters"));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Why `resource.ParseQuantity` refuses a string (its error values' texts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// `resource.ParseQuantity`'s acceptance, scanned as apimachinery scans it (sign, digits, an
/// optional fraction, then suffix characters and an optional signed exponent), including what
/// it lets through: `"-"`, `"."` and `"1."` are quantities (zero and one).
pub fn parse_quantity(s: &str) -> Result<(), QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Format);
    }
    let b = s.as_bytes();
    let mut pos = usize::from(matches!(b[0], b'+' | b'-'));
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    pos = digits(pos);
    if pos < b.len() && b[pos] == b'.' {
        pos = digits(pos + 1);
    }
    let suffix_start = pos;
    while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() {
        if matches!(b[pos], b'+' | b'-') {
            pos += 1;
        }
        if digits(pos) != b.len() {
            return Err(QuantityError::Format);
        }
    }
    let suffix = &s[suffix_start..];
    let known = matches!(
        suffix,
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E"
    ) || matches!(suffix, "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei");
    let exponent = suffix.len() > 1
        && suffix.starts_with(['e', 'E'])
        && crate::gostr::atoi(&suffix[1..]).is_some();
    if known || exponent {
        Ok(())
    } else {
        Err(QuantityError::Suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        for ok in [
            "a",
            "feature.node.kubernetes.io/cpu-cpuid.AVX512F",
            "compat.nodefit.io/app.gpu_1",
            "x/A-b_c.D",
        ] {
            assert!(qualified_name(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            qualified_name("/a"),
            ["prefix part must be non-empty".to_string()]
        );
        assert!(qualified_name("Example.com/a")[0].starts_with("prefix part a lowercase RFC 1123"));
        assert!(qualified_name("a/b/c")[0].starts_with("a qualified name must consist"));
        assert_eq!(qualified_name("a/").len(), 2, "empty, and not matching");
        let long = format!("a/{}", "x".repeat(64));
        assert_eq!(
            qualified_name(&long),
            ["name part must be no more than 63 characters".to_string()]
        );
        assert!(qualified_name("a/-x")[0].starts_with("name part must consist"));
        assert!(!qualified_name("a/b c").is_empty());
    }

    #[test]
    fn the_fast_check_agrees_with_the_messages() {
        for v in [
            "a",
            "a/b",
            "/a",
            "a/",
            "a/b/c",
            "Example.com/a",
            "ex-.com/a",
            "a.b-c/x_y.z",
            "x/-a",
            "",
            "é/a",
            &format!("{}/a", "a".repeat(254)),
            &format!("a/{}", "b".repeat(64)),
        ] {
            assert_eq!(
                is_qualified_name(v),
                qualified_name_slow(v).is_empty(),
                "{v:?}"
            );
        }
    }

    /// The messages' path alone, as `qualified_name` was before its fast path.
    fn qualified_name_slow(value: &str) -> Vec<String> {
        let parts: Vec<&str> = value.split('/').collect();
        let mut errs = Vec::new();
        let name = match parts.as_slice() {
            [n] => *n,
            [p, n] => {
                if p.is_empty() || !dns1123_subdomain(p).is_empty() {
                    errs.push("prefix".to_string());
                }
                n
            }
            _ => return vec!["parts".into()],
        };
        if name.is_empty() || name.len() > QUALIFIED_NAME_MAX || !is_qualified_name_part(name) {
            errs.push("name".into());
        }
        errs
    }

    #[test]
    fn label_values() {
        for ok in ["", "true", "5.15", "Intel_x-1", &"x".repeat(63)] {
            assert!(label_value(ok).is_empty(), "{ok:?}");
        }
        assert_eq!(label_value(&"x".repeat(64)).len(), 1);
        assert!(label_value("-x")[0].starts_with("a valid label must be"));
        assert!(!label_value("a b").is_empty());
        assert!(!label_value("é").is_empty());
    }

    #[test]
    fn quantities_as_apimachinery_parses_them() {
        for ok in [
            "0", "1", "+1", "-1", "1.5", "1.", ".5", "-", ".", "1Ki", "5Gi", "100m", "2k", "1E",
            "1e3", "1E-3", "1e+3", "007", "1n", "3u",
        ] {
            assert_eq!(parse_quantity(ok), Ok(()), "{ok}");
        }
        for (bad, err) in [
            ("", QuantityError::Format),
            ("abc", QuantityError::Format),
            ("1.5x", QuantityError::Format),
            ("1 ", QuantityError::Format),
            (" 1", QuantityError::Format),
            ("1K", QuantityError::Suffix),
            ("1e", QuantityError::Suffix),
            ("1mi", QuantityError::Suffix),
            ("1KiB", QuantityError::Format),
        ] {
            assert_eq!(parse_quantity(bad), Err(err), "{bad:?}");
        }
    }
}
