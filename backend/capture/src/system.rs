//! The system source (NFD `source/system`): osrelease, name, dmiid.

use super::fsutil::{describe, read_bytes, read_trimmed};
use super::{Attributes, HostRoots, Sink};

/// The DMI ids any user may read (serial numbers and product_uuid are root-only and left out).
const DMI_IDS: [&str; 16] = [
    "bios_date",
    "bios_vendor",
    "bios_version",
    "board_asset_tag",
    "board_name",
    "board_vendor",
    "board_version",
    "chassis_asset_tag",
    "chassis_type",
    "chassis_vendor",
    "chassis_version",
    "product_family",
    "product_name",
    "product_sku",
    "product_version",
    "sys_vendor",
];

pub(super) fn discover(roots: &HostRoots, node_name: &str, out: &mut Sink) {
    out.attributes(
        "name",
        [("nodename".to_string(), node_name.to_string())].into(),
    );

    let os_release = roots.etc.join("os-release");
    match read_bytes(&os_release) {
        Ok(bytes) => out.attributes(
            "osrelease",
            parse_os_release(&String::from_utf8_lossy(&bytes)),
        ),
        Err(e) => out.problem(format!(
            "system.osrelease left out: {}",
            describe(&os_release, &e)
        )),
    }

    let dmi = roots.sys.join("devices/virtual/dmi/id");
    let ids: Attributes = DMI_IDS
        .iter()
        .filter_map(|id| Some((id.to_string(), read_trimmed(&dmi.join(id)).ok()?)))
        .collect();
    if ids.is_empty() {
        out.problem(format!(
            "system.dmiid left out: no DMI id readable in {}",
            dmi.display()
        ));
    } else {
        out.attributes("dmiid", ids);
    }
}

/// `KEY=value` lines (the key `\w+`, the value non-empty, `"` and `'` trimmed from both ends),
/// plus `VERSION_ID.major` and `VERSION_ID.minor` when VERSION_ID starts with numbers.
pub(super) fn parse_os_release(text: &str) -> Attributes {
    let mut out = Attributes::new();
    for line in scanner_lines(text) {
        let key_len = line
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let (key, rest) = line.split_at(key_len);
        let Some(value) = rest.strip_prefix('=') else {
            continue;
        };
        if key.is_empty() || value.is_empty() {
            continue;
        }
        out.insert(key.to_string(), value.trim_matches(['"', '\'']).to_string());
    }
    if let Some((major, minor)) = out.get("VERSION_ID").and_then(|v| split_version_id(v)) {
        let (major, minor) = (major.to_string(), minor.to_string());
        out.insert("VERSION_ID.major".into(), major);
        if !minor.is_empty() {
            out.insert("VERSION_ID.minor".into(), minor);
        }
    }
    out
}

/// Lines as Go's `bufio.Scanner` yields them: split at `\n`, one trailing `\r` dropped, and
/// nothing past a line longer than its 64 KiB buffer.
fn scanner_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    lines
        .into_iter()
        .take_while(|l| l.len() < 64 * 1024)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// `^(\d+)(\.(\d+))?(\..*)?$`: major, and minor (possibly empty).
fn split_version_id(v: &str) -> Option<(&str, &str)> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(v);
    if n == 0 {
        return None;
    }
    let (major, rest) = v.split_at(n);
    if rest.is_empty() {
        return Some((major, ""));
    }
    let after = rest.strip_prefix('.')?;
    let m = digits(after);
    let tail = &after[m..];
    // The minor group matches only if what follows it can still match `(\..*)?$`; otherwise the
    // whole `.rest` is taken by `(\..*)` and there is no minor.
    if m > 0 && (tail.is_empty() || tail.starts_with('.')) {
        Some((major, &after[..m]))
    } else {
        Some((major, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_os_release(text).into_iter().collect()
    }

    #[test]
    fn os_release_like_nfd() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            pairs("ID=ubuntu\r\nVERSION_ID=\"22.04\"\nNAME='X Y'\n# c\nEMPTY=\n=v\nBAD-KEY=1\n"),
            [
                s("ID", "ubuntu"),
                s("NAME", "X Y"),
                s("VERSION_ID", "22.04"),
                s("VERSION_ID.major", "22"),
                s("VERSION_ID.minor", "04"),
            ]
        );
        assert_eq!(
            pairs("VERSION_ID=2023\n"),
            [s("VERSION_ID", "2023"), s("VERSION_ID.major", "2023")]
        );
        assert_eq!(pairs("VERSION_ID=\"\"\n"), [s("VERSION_ID", "")]);
        assert_eq!(pairs("VERSION_ID=15-SP5\n"), [s("VERSION_ID", "15-SP5")]);
        assert_eq!(
            pairs("VERSION_ID=9.4.x\nA=B=C\n"),
            [
                s("A", "B=C"),
                s("VERSION_ID", "9.4.x"),
                s("VERSION_ID.major", "9"),
                s("VERSION_ID.minor", "4"),
            ]
        );
        assert_eq!(
            pairs("VERSION_ID=9.x\n"),
            [s("VERSION_ID", "9.x"), s("VERSION_ID.major", "9")]
        );
        assert_eq!(
            pairs("VERSION_ID=9.4x\n"),
            [s("VERSION_ID", "9.4x"), s("VERSION_ID.major", "9")]
        );
    }
}
