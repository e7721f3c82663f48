//! The kernel source (NFD `source/kernel`): version, config, loadedmodule, enabledmodule,
//! selinux, kvm.

use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;

use super::fsutil::{describe, read_bytes, read_text, read_trimmed};
use super::{Attributes, HostRoots, Sink};

pub(super) fn discover(roots: &HostRoots, out: &mut Sink) {
    let osrelease = roots.literal("/proc/sys/kernel/osrelease");
    let release = read_trimmed(&osrelease).map_err(|e| describe(&osrelease, &e));
    match &release {
        Ok(r) => out.attributes("version", parse_version(r)),
        Err(e) => out.problem(format!("kernel.version left out: {e}")),
    }

    match read_kconfig(roots, release.as_deref().ok()) {
        Ok(text) => out.attributes("config", parse_kconfig(&text)),
        Err(e) => out.problem(format!("kernel.config left out: {e}")),
    }

    let modules_path = roots.literal("/proc/modules");
    let loaded = read_text(&modules_path).map(|t| parse_modules(&t));
    let mut enabled = BTreeSet::new();
    match loaded {
        Ok(loaded) => {
            enabled.extend(loaded.iter().cloned());
            out.flags("loadedmodule", loaded);
        }
        Err(e) => out.problem(format!(
            "kernel.loadedmodule left out: {}",
            describe(&modules_path, &e)
        )),
    }
    match &release {
        Ok(release) => {
            let path = roots
                .lib
                .join("modules")
                .join(release)
                .join("modules.builtin");
            match read_text(&path) {
                Ok(text) => {
                    enabled.extend(parse_builtin_modules(&text));
                    out.flags("enabledmodule", enabled);
                }
                Err(e) => out.problem(format!(
                    "kernel.enabledmodule left out: {}",
                    describe(&path, &e)
                )),
            }
        }
        Err(e) => out.problem(format!("kernel.enabledmodule left out: {e}")),
    }

    match selinux_enabled(roots) {
        Ok(on) => out.attributes("selinux", enabled_attr(on)),
        Err(e) => out.problem(format!("kernel.selinux left out: {e}")),
    }
    let kvm = roots.sys.join("devices/virtual/misc/kvm");
    match fs::metadata(&kvm) {
        Ok(_) => out.attributes("kvm", enabled_attr(true)),
        Err(e) if e.kind() == ErrorKind::NotFound => out.attributes("kvm", enabled_attr(false)),
        Err(e) => out.problem(format!("kernel.kvm left out: {}", describe(&kvm, &e))),
    }
}

fn enabled_attr(on: bool) -> Attributes {
    [("enabled".to_string(), on.to_string())].into()
}

/// `full` is the release with characters outside `[-A-Za-z0-9_.]` replaced by `_` and `-_.`
/// trimmed from both ends; `major`, `minor` and `revision` are added when `full` matches
/// `^(\d+)(\.(\d+))?(\.(\d+))?(-.*)?$` (minor and revision then present even when empty).
pub(super) fn parse_version(release: &str) -> Attributes {
    let full: String = release
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let full = full
        .trim_matches(|c| matches!(c, '-' | '_' | '.'))
        .to_string();
    let mut out = Attributes::new();
    if let Some((major, minor, revision)) = version_parts(&full) {
        out.insert("major".into(), major.into());
        out.insert("minor".into(), minor.into());
        out.insert("revision".into(), revision.into());
    }
    out.insert("full".into(), full);
    out
}

fn version_parts(s: &str) -> Option<(&str, &str, &str)> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(s);
    if n == 0 {
        return None;
    }
    let (major, mut rest) = s.split_at(n);
    let mut parts = ["", ""];
    for part in &mut parts {
        if let Some(after) = rest.strip_prefix('.') {
            let n = digits(after);
            if n > 0 {
                *part = &after[..n];
                rest = &after[n..];
            }
        }
    }
    (rest.is_empty() || rest.starts_with('-')).then_some((major, parts[0], parts[1]))
}

/// The first kernel config found along NFD's search path (kubeadm's list).
fn read_kconfig(roots: &HostRoots, release: Option<&str>) -> Result<String, String> {
    let mut paths: Vec<PathBuf> = vec![roots.literal("/proc/config.gz")];
    match release {
        Some(v) => {
            paths.extend([
                roots.usr.join(format!("src/linux-{v}/.config")),
                roots.usr.join(format!("src/linux-rt-{v}/.config")),
                roots.usr.join("src/linux/.config"),
                roots.usr.join(format!("lib/modules/{v}/config")),
                roots.usr.join(format!("lib/ostree-boot/config-{v}")),
                roots.usr.join(format!("lib/kernel/config-{v}")),
                roots.usr.join(format!("src/linux-headers-{v}/.config")),
                roots.literal(&format!("/lib/modules/{v}/build/.config")),
                roots.usr.join(format!("src/linux-rt-headers-{v}/.config")),
                roots.boot.join(format!("config-{v}")),
            ]);
        }
        None => paths.push(roots.usr.join("src/linux/.config")),
    }
    for path in &paths {
        let read = if path.extension().is_some_and(|e| e == "gz") {
            read_gzip(path)
        } else {
            read_bytes(path)
        };
        if let Ok(bytes) = read {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let tried: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Err(format!("no kernel config readable in {}", tried.join(", ")))
}

fn read_gzip(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(fs::File::open(path)?)
        .take(16 * 1024 * 1024)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Every `CONFIG_NAME=value` line, without the prefix, the value with surrounding `"` removed.
pub(super) fn parse_kconfig(text: &str) -> Attributes {
    let mut out = Attributes::new();
    for line in text.split('\n') {
        let Some(rest) = line.strip_prefix("CONFIG_") else {
            continue;
        };
        if let Some((name, value)) = rest.split_once('=') {
            out.insert(name.to_string(), value.trim_matches('"').to_string());
        }
    }
    out
}

/// First column of /proc/modules.
pub(super) fn parse_modules(text: &str) -> BTreeSet<String> {
    text.split('\n')
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Module names of modules.builtin lines (`kernel/fs/ext4/ext4.ko` gives `ext4`).
pub(super) fn parse_builtin_modules(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split('\n').filter_map(|l| {
        let base = l.trim().strip_suffix(".ko")?;
        Some(base.rsplit('/').next().unwrap_or(base).to_string())
    })
}

/// SELinux enforcing. An absent selinuxfs is "false"; an unreadable one is an error.
fn selinux_enabled(roots: &HostRoots) -> Result<bool, String> {
    let fs_dir = roots.sys.join("fs");
    fs::metadata(&fs_dir).map_err(|e| describe(&fs_dir, &e))?;
    let selinux = fs_dir.join("selinux");
    if fs::metadata(&selinux).is_err_and(|e| e.kind() == ErrorKind::NotFound) {
        return Ok(false);
    }
    let enforce = selinux.join("enforce");
    let status = read_bytes(&enforce).map_err(|e| describe(&enforce, &e))?;
    Ok(status.first() == Some(&b'1'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(release: &str) -> Vec<(String, String)> {
        parse_version(release).into_iter().collect()
    }

    #[test]
    fn versions_split_like_nfd() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            v("5.15.0-91-generic"),
            [
                s("full", "5.15.0-91-generic"),
                s("major", "5"),
                s("minor", "15"),
                s("revision", "0")
            ]
        );
        assert_eq!(
            v("6.8"),
            [
                s("full", "6.8"),
                s("major", "6"),
                s("minor", "8"),
                s("revision", "")
            ]
        );
        assert_eq!(
            v("6.0.10-100+123.x86_64")[0],
            s("full", "6.0.10-100_123.x86_64")
        );
        assert_eq!(v("_5.4.0+")[0], s("full", "5.4.0"));
        assert_eq!(v("5.4.0.1").len(), 1);
        assert_eq!(v("5.x").len(), 1);
        assert_eq!(v("").len(), 1);
    }

    #[test]
    fn kconfig_keeps_raw_values() {
        let c = parse_kconfig(
            "#\n# CONFIG_FOO is not set\nCONFIG_X86=y\nCONFIG_LSM=\"landlock,yama\"\nCONFIG_LOCALVERSION=\"\"\nCONFIG_BROKEN\nCONFIG_HZ=250\r\n",
        );
        let pairs: Vec<(&str, &str)> = c.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("HZ", "250\r"),
                ("LOCALVERSION", ""),
                ("LSM", "landlock,yama"),
                ("X86", "y")
            ]
        );
    }

    #[test]
    fn modules_and_builtins() {
        let loaded = parse_modules("vfio_pci 16384 0 - Live 0x0\n\n   \nkvm 1 0 - Live 0x0");
        assert_eq!(loaded, ["kvm".to_string(), "vfio_pci".to_string()].into());
        let builtin: Vec<String> = parse_builtin_modules(
            "kernel/fs/ext4/ext4.ko\n  kernel/crypto/crc32c_generic.ko \nmodules.order\n",
        )
        .collect();
        assert_eq!(builtin, ["ext4", "crc32c_generic"]);
    }
}
