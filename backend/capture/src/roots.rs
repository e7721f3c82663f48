//! Where the host's directories are: on this machine, under a mounted or fake root, or under
//! NFD's `/host-` prefix inside a Kubernetes pod.

use std::path::{Path, PathBuf};

/// The directories capture reads, one per NFD `hostpath` directory (`SysfsDir`, `ProcDir`,
/// `EtcDir`, `BootDir`, `UsrDir`, `LibDir`), plus the root of the paths NFD reads without any
/// prefix (`/proc/modules`, `/proc/sys/kernel/osrelease`, `/proc/config.gz`, `/proc/sysinfo`,
/// `/proc/self/mountinfo`, `/lib/modules/<release>/build/.config`, and the `features.d`
/// directory of the local source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRoots {
    pub sys: PathBuf,
    /// Only `<proc>/swaps` is read here; every other /proc path is unprefixed, as in NFD.
    pub proc: PathBuf,
    /// Only `<etc>/os-release`.
    pub etc: PathBuf,
    pub boot: PathBuf,
    /// NFD's `UsrDir`: kernel configs under `src/` and `lib/`. The validate-node Job mounts only
    /// the host's `/usr/lib`, at `/host-usr/lib`.
    pub usr: PathBuf,
    /// `<lib>/modules/<release>/modules.builtin`.
    pub lib: PathBuf,
    pub unprefixed: PathBuf,
}

impl HostRoots {
    /// This machine's own directories (NFD built with `make build`).
    pub fn local() -> Self {
        Self::under(Path::new("/"))
    }

    /// Everything under `root`, unprefixed paths included: a host filesystem mounted somewhere,
    /// or a fake one in tests.
    pub fn under(root: &Path) -> Self {
        HostRoots {
            sys: root.join("sys"),
            proc: root.join("proc"),
            etc: root.join("etc"),
            boot: root.join("boot"),
            usr: root.join("usr"),
            lib: root.join("lib"),
            unprefixed: root.to_path_buf(),
        }
    }

    /// NFD's container convention: the prefix is glued to each directory name (`/host-` gives
    /// `/host-sys`, `/host-proc`, ...), and the unprefixed paths are read from `/` as NFD reads
    /// them inside its pod.
    pub fn with_prefix(prefix: &str) -> Self {
        let dir = |name: &str| PathBuf::from(format!("{prefix}{name}"));
        HostRoots {
            sys: dir("sys"),
            proc: dir("proc"),
            etc: dir("etc"),
            boot: dir("boot"),
            usr: dir("usr"),
            lib: dir("lib"),
            unprefixed: PathBuf::from("/"),
        }
    }

    /// An absolute path NFD reads literally, under [`HostRoots::unprefixed`].
    pub(super) fn literal(&self, absolute: &str) -> PathBuf {
        self.unprefixed.join(absolute.trim_start_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_glued_like_nfd_hostpath() {
        let r = HostRoots::with_prefix("/host-");
        assert_eq!(r.sys, Path::new("/host-sys"));
        assert_eq!(
            r.usr.join("lib/modules"),
            Path::new("/host-usr/lib/modules")
        );
        assert_eq!(r.literal("/proc/modules"), Path::new("/proc/modules"));
        let f = HostRoots::under(Path::new("/tmp/fake"));
        assert_eq!(
            f.literal("/proc/modules"),
            Path::new("/tmp/fake/proc/modules")
        );
        assert_eq!(HostRoots::local().etc, Path::new("/etc"));
    }
}
