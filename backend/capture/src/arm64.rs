//! The arm64 CPU as NFD's cpu source sees it: `cpu.cpuid` from the ELF hardware capabilities
//! (`getauxval(AT_HWCAP)` and `AT_HWCAP2`, named as the kernel's `HWCAP_*` bits) and
//! `cpu.model` from `MIDR_EL1` (klauspost/cpuid v2: read only when the kernel offers the
//! `CPUID` capability, else the vendor is `VendorUnknown` with family and id 0).
//!
//! Both are read from files rather than from this process or the processor, so that a host
//! tree from elsewhere (or a fixture) captures the same way: the auxiliary vector from
//! `/proc/self/auxv` (unprefixed, as NFD's own process reads it) and `MIDR_EL1` from sysfs
//! (`cpu0/regs/identification/midr_el1`, the value the kernel hands to userspace), with
//! `/proc/cpuinfo`'s `CPU implementer`..`CPU revision` lines when that file is missing.

use std::collections::BTreeSet;

use super::fsutil::{describe, read_bytes, read_text, read_trimmed};
use super::{Attributes, HostRoots};

/// `AT_HWCAP` and `AT_HWCAP2` in the auxiliary vector.
const AT_HWCAP: u64 = 16;
const AT_HWCAP2: u64 = 26;
/// `HWCAP_CPUID`: userspace may read the ID registers (MIDR_EL1 among them).
const HWCAP_CPUID: u64 = 1 << 11;

/// `HWCAP_*` names by bit (Linux `arch/arm64/include/uapi/asm/hwcap.h`), as NFD prints them.
const HWCAP_NAMES: [&str; 32] = [
    "FP", "ASIMD", "EVTSTRM", "AES", "PMULL", "SHA1", "SHA2", "CRC32", "ATOMICS", "FPHP",
    "ASIMDHP", "CPUID", "ASIMDRDM", "JSCVT", "FCMA", "LRCPC", "DCPOP", "SHA3", "SM3", "SM4",
    "ASIMDDP", "SHA512", "SVE", "ASIMDFHM", "DIT", "USCAT", "ILRCPC", "FLAGM", "SSBS", "SB",
    "PACA", "PACG",
];

/// `HWCAP2_*` names by bit.
const HWCAP2_NAMES: [&str; 34] = [
    "DCPODP",
    "SVE2",
    "SVEAES",
    "SVEPMULL",
    "SVEBITPERM",
    "SVESHA3",
    "SVESM4",
    "FLAGM2",
    "FRINT",
    "SVEI8MM",
    "SVEF32MM",
    "SVEF64MM",
    "SVEBF16",
    "I8MM",
    "BF16",
    "DGH",
    "RNG",
    "BTI",
    "MTE",
    "ECV",
    "AFP",
    "RPRES",
    "MTE3",
    "SME",
    "SMEI16I64",
    "SMEF64F64",
    "SMEI8I32",
    "SMEF16F32",
    "SMEB16F32",
    "SMEF32F32",
    "SMEFA64",
    "WFXT",
    "EBF16",
    "SVEEBF16",
];

/// The hardware capability words of the auxiliary vector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hwcaps {
    pub hwcap: u64,
    pub hwcap2: u64,
}

impl Hwcaps {
    /// Reads `/proc/self/auxv` (under the roots' unprefixed directory).
    pub fn read(roots: &HostRoots) -> Result<Hwcaps, String> {
        let path = roots.literal("/proc/self/auxv");
        let bytes = read_bytes(&path).map_err(|e| describe(&path, &e))?;
        Hwcaps::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// An auxiliary vector: (type, value) pairs of 64-bit little-endian words (arm64 Linux is
    /// little-endian), ending with type 0.
    pub fn parse(auxv: &[u8]) -> Result<Hwcaps, String> {
        if !auxv.len().is_multiple_of(16) {
            return Err(format!(
                "{} bytes is not a whole auxiliary vector of 64-bit pairs",
                auxv.len()
            ));
        }
        let mut caps = Hwcaps::default();
        for pair in auxv.chunks_exact(16) {
            let word = |i: usize| {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&pair[i..i + 8]);
                u64::from_le_bytes(bytes)
            };
            match word(0) {
                0 => break,
                AT_HWCAP => caps.hwcap = word(8),
                AT_HWCAP2 => caps.hwcap2 = word(8),
                _ => {}
            }
        }
        Ok(caps)
    }

    /// The `cpu.cpuid` flags: the name of every set bit that has one.
    pub fn flags(&self) -> BTreeSet<String> {
        let set = |word: u64, names: &[&str]| -> Vec<String> {
            names
                .iter()
                .enumerate()
                .filter(|(bit, _)| word & (1 << bit) != 0)
                .map(|(_, name)| (*name).to_owned())
                .collect()
        };
        let mut flags: BTreeSet<String> = set(self.hwcap, &HWCAP_NAMES).into_iter().collect();
        flags.extend(set(self.hwcap2, &HWCAP2_NAMES));
        flags
    }
}

/// `cpu.model` on arm64: vendor, family `(MIDR >> 16) & 0xff` and id `MIDR & 0xffff` as
/// klauspost/cpuid v2 computes them; `hypervisor` is always `none` there. `Err` says why MIDR
/// could not be read (the feature is then left out).
pub fn model(caps: &Hwcaps, roots: &HostRoots) -> Result<Attributes, String> {
    let midr = if caps.hwcap & HWCAP_CPUID != 0 {
        Some(midr(roots)?)
    } else {
        None
    };
    let mut m = Attributes::new();
    m.insert(
        "vendor_id".into(),
        midr.map_or("VendorUnknown", vendor).into(),
    );
    m.insert(
        "family".into(),
        midr.map_or(0, |m| (m >> 16) & 0xff).to_string(),
    );
    m.insert("id".into(), midr.map_or(0, |m| m & 0xffff).to_string());
    m.insert("hypervisor".into(), "none".into());
    Ok(m)
}

/// klauspost/cpuid v2's vendor for the MIDR implementer code.
fn vendor(midr: u64) -> &'static str {
    match (midr >> 24) & 0xff {
        0xc0 => "Ampere",
        0x41 => "ARM",
        0x42 => "Broadcom",
        0x43 => "Cavium",
        0x44 => "DEC",
        0x46 => "Fujitsu",
        0x49 => "Infineon",
        0x4d => "Motorola",
        0x4e => "NVIDIA",
        0x50 => "AMCC",
        0x51 => "Qualcomm",
        0x56 => "Marvell",
        0x69 => "Intel",
        _ => "VendorUnknown",
    }
}

/// MIDR_EL1 of cpu0: sysfs, else /proc/cpuinfo.
fn midr(roots: &HostRoots) -> Result<u64, String> {
    let path = roots
        .sys
        .join("devices/system/cpu/cpu0/regs/identification/midr_el1");
    match read_trimmed(&path) {
        Ok(text) => parse_hex(&text).ok_or_else(|| format!("{}: not a hex number", path.display())),
        Err(sysfs) => {
            let cpuinfo = roots.literal("/proc/cpuinfo");
            let text = read_text(&cpuinfo).map_err(|e| {
                format!(
                    "MIDR_EL1 unreadable: {}; {}",
                    describe(&path, &sysfs),
                    describe(&cpuinfo, &e)
                )
            })?;
            midr_from_cpuinfo(&text).ok_or_else(|| {
                format!(
                    "MIDR_EL1 unreadable: {}; {} has no CPU implementer..revision lines",
                    describe(&path, &sysfs),
                    cpuinfo.display()
                )
            })
        }
    }
}

fn parse_hex(text: &str) -> Option<u64> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    u64::from_str_radix(digits, 16).ok()
}

/// MIDR from the first processor's `CPU implementer`, `CPU variant`, `CPU part` and `CPU
/// revision` lines. Its architecture field is 0xF on every 64-bit Arm core (features are in the
/// ID registers), which the kernel's `CPU architecture: 8` line does not give.
fn midr_from_cpuinfo(text: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let value = text.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            (key.trim() == name).then(|| value.trim())
        })?;
        parse_hex(value).or_else(|| value.parse().ok())
    };
    Some(
        (field("CPU implementer")? & 0xff) << 24
            | (field("CPU variant")? & 0xf) << 20
            | 0xf << 16
            | (field("CPU part")? & 0xfff) << 4
            | (field("CPU revision")? & 0xf),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auxv(pairs: &[(u64, u64)]) -> Vec<u8> {
        pairs
            .iter()
            .chain([&(0, 0)])
            .flat_map(|(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes()))
            .collect()
    }

    #[test]
    fn hwcap_bits_are_named_as_the_kernel_numbers_them() {
        let caps = Hwcaps::parse(&auxv(&[
            (6, 4096),
            (AT_HWCAP, 0b1011),
            (AT_HWCAP2, 1 << 33),
        ]))
        .unwrap();
        assert_eq!(
            caps.flags().into_iter().collect::<Vec<_>>(),
            ["AES", "ASIMD", "FP", "SVEEBF16"]
        );
        // Bits past the named ones (future kernels) have no name yet.
        let caps = Hwcaps {
            hwcap: 0,
            hwcap2: 1 << 40,
        };
        assert!(caps.flags().is_empty());
        assert!(Hwcaps::parse(&[0; 15]).is_err());
        assert_eq!(Hwcaps::parse(&[]).unwrap(), Hwcaps::default());
    }

    #[test]
    fn cpuinfo_gives_the_same_midr_as_sysfs() {
        let cpuinfo = "processor\t: 0\nBogoMIPS\t: 2100.00\nFeatures\t: fp asimd\n\
                       CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\n\
                       CPU part\t: 0xd40\nCPU revision\t: 1\n";
        assert_eq!(midr_from_cpuinfo(cpuinfo), Some(0x411f_d401));
        assert_eq!(midr_from_cpuinfo("processor: 0\n"), None);
        assert_eq!(vendor(0x411f_d401), "ARM");
        assert_eq!(vendor(0xc00f_ac30), "Ampere");
        assert_eq!(vendor(0x7000_0000), "VendorUnknown");
    }
}
