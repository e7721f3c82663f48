//! The local source (NFD `source/local`): feature files in
//! /etc/kubernetes/node-feature-discovery/features.d/, giving `local.label` and `local.feature`.

use std::fs;
use std::io::ErrorKind;
use std::time::{SystemTime, UNIX_EPOCH};

use super::fsutil::{describe, list_names, read_bytes};
use super::{Attributes, HostRoots, Sink};

/// NFD reads this path as it is, not under a host prefix.
const FEATURES_DIR: &str = "/etc/kubernetes/node-feature-discovery/features.d";
const MAX_FILE_BYTES: u64 = 65536;

pub(super) fn discover(roots: &HostRoots, out: &mut Sink) {
    let now = unix_now();
    let dir = roots.literal(FEATURES_DIR);
    let mut features = Attributes::new();
    let mut labels = Attributes::new();
    match list_names(&dir) {
        Ok(files) => {
            for name in files.into_iter().filter(|n| !n.starts_with('.')) {
                let path = dir.join(&name);
                let text = match feature_file(&path) {
                    Ok(Some(t)) => t,
                    Ok(None) => continue,
                    Err(e) => {
                        out.problem(format!("features.d/{name} skipped: {e}"));
                        continue;
                    }
                };
                let parsed = parse_feature_file(&text, now);
                for e in &parsed.errors {
                    out.problem(format!("features.d/{name}: {e}"));
                }
                features.extend(parsed.features);
                labels.extend(parsed.labels);
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => out.problem(format!(
            "local.label and local.feature left empty: {}",
            describe(&dir, &e)
        )),
    }
    out.attributes("label", labels);
    out.attributes("feature", features);
}

/// A regular file's text; `None` for anything else (a directory contributes nothing).
fn feature_file(path: &std::path::Path) -> Result<Option<String>, String> {
    let meta = fs::metadata(path).map_err(|e| describe(path, &e))?;
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file size limit exceeded: {} bytes > {MAX_FILE_BYTES} bytes",
            meta.len()
        ));
    }
    let bytes = read_bytes(path).map_err(|e| describe(path, &e))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(Debug, Default, PartialEq)]
pub(super) struct FeatureFile {
    pub features: Attributes,
    pub labels: Attributes,
    pub errors: Vec<String>,
}

/// Lines `name[=value]` (value "true" when absent) and `# +` directives: `no-label` and
/// `no-feature` apply to the next entry, `expiry-time=RFC3339` to every entry after it (an
/// entry whose expiry is past is dropped). `now` is seconds since the Unix epoch.
pub(super) fn parse_feature_file(text: &str, now: i64) -> FeatureFile {
    let mut out = FeatureFile::default();
    let mut expiry: Option<i64> = None;
    let mut skip_label = false;
    let mut skip_feature = false;
    for line in text.split('\n') {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            if let Some(directive) = line.strip_prefix("# +") {
                let (key, value) = match directive.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (directive, None),
                };
                match (key, value) {
                    ("expiry-time", Some(v)) => match parse_rfc3339(v.trim()) {
                        Some(t) => expiry = Some(t),
                        None => out
                            .errors
                            .push(format!("failed to parse expiry-date directive {line:?}")),
                    },
                    ("expiry-time", None) => out.errors.push(format!(
                        "invalid directive format in {line:?}, should be '# +expiry-time=value'"
                    )),
                    ("no-feature", _) => skip_feature = true,
                    ("no-label", _) => skip_label = true,
                    _ => out
                        .errors
                        .push(format!("unknown feature file directive {key:?}")),
                }
            }
            continue;
        }
        if expiry.is_some_and(|t| t < now) {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, v),
            None => (line, "true"),
        };
        for (skip, map) in [
            (skip_feature, &mut out.features),
            (skip_label, &mut out.labels),
        ] {
            if skip {
                map.remove(key);
            } else {
                map.insert(key.to_string(), value.to_string());
            }
        }
        skip_feature = false;
        skip_label = false;
    }
    out
}

/// Go's `time.Parse(time.RFC3339, s)` as seconds since the Unix epoch:
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
pub(super) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    let offset = match rest.as_bytes() {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let d = |i: usize| i64::from(digits[i] - b'0');
            let (h, m) = (d(0) * 10 + d(1), d(2) * 10 + d(3));
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 3600 + m * 60;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86400 + hour * 3600 + minute * 60 + second - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_like_go() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:30:15.123+02:00"),
            Some(1_709_202_615)
        );
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00-01:30"),
            Some(951_874_200)
        );
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2023-01-01 00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2023-01-01T24:00:00Z"), None);
        assert_eq!(parse_rfc3339("2023-01-01T00:00:00"), None);
        assert_eq!(parse_rfc3339("2023-01-01T00:00:00.Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339(""), None);
    }

    #[test]
    fn directives_and_expiry() {
        let text = "a\nb=2\n# +no-label\nc=3\n# +no-feature\nb\n# +bogus\n# +expiry-time=2000-01-01T00:00:00Z\nold=1\n";
        let f = parse_feature_file(text, 1_700_000_000);
        let pairs = |m: &Attributes| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(pairs(&f.features), "a=true,c=3");
        assert_eq!(pairs(&f.labels), "a=true,b=true");
        assert_eq!(f.errors, ["unknown feature file directive \"bogus\""]);
        let later = parse_feature_file("# +expiry-time=2100-01-01T00:00:00Z\nx\n", 1_700_000_000);
        assert_eq!(pairs(&later.features), "x=true");
    }
}
