//! x86 CPUID, decoded into the feature names NFD publishes: NFD's cpu source takes them from
//! `klauspost/cpuid/v2` (v2.3.0 at NFD `76e6cc8`), so this is a port of that library's detection: the same
//! leaves, the same bit tests, the same conditions, and its quirks (noted where they bite).
//!
//! CPUID is read through [`Cpuid`]: the processor itself ([`NativeCpuid`], via `raw-cpuid`), or a
//! recorded dump ([`CpuidDump`], the text `cpuid -r -1` prints) so that another machine's flags
//! can be reproduced and tested.

use std::collections::BTreeSet;

/// A source of CPUID answers.
pub trait Cpuid {
    /// `CPUID` with EAX = `leaf`, ECX = `subleaf`: `[eax, ebx, ecx, edx]`.
    fn cpuid(&self, leaf: u32, subleaf: u32) -> [u32; 4];
    /// The low half of XCR0 (`XGETBV` with ECX = 0): which register states the OS saves.
    fn xcr0(&self) -> u32;
}

/// The processor this program runs on.
#[cfg(target_arch = "x86_64")]
pub struct NativeCpuid;

#[cfg(target_arch = "x86_64")]
impl Cpuid for NativeCpuid {
    fn cpuid(&self, leaf: u32, subleaf: u32) -> [u32; 4] {
        use raw_cpuid::CpuIdReader;
        let r = raw_cpuid::CpuIdReaderNative.cpuid2(leaf, subleaf);
        [r.eax, r.ebx, r.ecx, r.edx]
    }

    fn xcr0(&self) -> u32 {
        const OSXSAVE: u32 = 1 << 27;
        if self.cpuid(1, 0)[2] & OSXSAVE == 0 {
            return 0;
        }
        #[target_feature(enable = "xsave")]
        unsafe fn xgetbv0() -> u64 {
            core::arch::x86_64::_xgetbv(0)
        }
        // SAFETY: XGETBV is available once the OS has set CR4.OSXSAVE, which CPUID.1:ECX[27]
        // reports, checked above.
        let xcr0 = unsafe { xgetbv0() };
        // Only the low half matters: klauspost/cpuid looks at EAX alone.
        (xcr0 & 0xffff_ffff) as u32
    }
}

/// CPUID leaves recorded on some machine. Leaves missing from the dump read as zeros, as
/// out-of-range leaves do on AMD processors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuidDump {
    leaves: std::collections::BTreeMap<(u32, u32), [u32; 4]>,
}

impl CpuidDump {
    /// Reads the raw dump of `cpuid -r -1` (Debian package `cpuid`): lines like
    /// `0x00000007 0x00: eax=0x00000000 ebx=0xf1bf07ab ecx=0x00405fc6 edx=0x00000010`. Only the
    /// first CPU of a multi-CPU dump is used.
    pub fn parse(text: &str) -> Result<CpuidDump, String> {
        let mut dump = CpuidDump::default();
        let mut cpus = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with("CPU") && line.ends_with(':') {
                cpus += 1;
                if cpus > 1 {
                    break;
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let entry = parse_dump_line(line)
                .ok_or_else(|| format!("line {}: not a `cpuid -r` line: {line:?}", n + 1))?;
            dump.leaves.insert((entry.0, entry.1), entry.2);
        }
        if dump.leaves.is_empty() {
            return Err("no CPUID leaves found (expected the output of `cpuid -r -1`)".into());
        }
        Ok(dump)
    }
}

fn parse_dump_line(line: &str) -> Option<(u32, u32, [u32; 4])> {
    let hex = |s: &str| u32::from_str_radix(s.strip_prefix("0x")?, 16).ok();
    let (leaf, rest) = line.split_once(' ')?;
    let (subleaf, regs) = rest.trim_start().split_once(':')?;
    let mut values = [0u32; 4];
    let mut seen = 0;
    for (i, name) in ["eax=", "ebx=", "ecx=", "edx="].iter().enumerate() {
        let field = regs.split_whitespace().find_map(|f| f.strip_prefix(name))?;
        values[i] = hex(field)?;
        seen += 1;
    }
    (seen == 4).then_some(())?;
    Some((hex(leaf)?, hex(subleaf.trim())?, values))
}

impl Cpuid for CpuidDump {
    fn cpuid(&self, leaf: u32, subleaf: u32) -> [u32; 4] {
        self.leaves
            .get(&(leaf, subleaf))
            .copied()
            .unwrap_or_default()
    }

    /// A dump has no XCR0; Linux enables every user state the CPU supports, which leaf 0xD
    /// sub-leaf 0 lists.
    fn xcr0(&self) -> u32 {
        if self.cpuid(1, 0)[2] & (1 << 27) == 0 {
            return 0;
        }
        self.cpuid(0xd, 0)[0]
    }
}

/// What NFD's cpu source takes from klauspost/cpuid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuInfo {
    /// `cpuid.CPU.VendorID.String()`: "Intel", "AMD", ..., "VendorUnknown".
    pub vendor: &'static str,
    pub family: u32,
    pub model: u32,
    /// `cpuid.CPU.FeatureSet()`.
    pub features: BTreeSet<&'static str>,
    /// The hypervisor's vendor name, or its raw id string when unknown (leaf 0x4000_0000).
    pub hypervisor: Hypervisor,
    /// `cpuid.CPU.X64Level()`: the x86-64 micro-architecture level, 0 to 4.
    pub x64_level: u8,
    /// `cpuid.CPU.AVX10Level`.
    pub avx10_level: u8,
    /// Sum of the SGX EPC section sizes, in bytes (0 without SGX).
    pub sgx_epc_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hypervisor {
    Known(&'static str),
    Unknown(Vec<u8>),
}

impl CpuInfo {
    pub fn has(&self, feature: &str) -> bool {
        self.features.contains(feature)
    }
}

/// Vendor id strings (leaf 0 and leaf 0x4000_0000) and klauspost/cpuid's names for them.
const VENDORS: [(&[u8], &str); 24] = [
    (b"AMDisbetter!", "AMD"),
    (b"AuthenticAMD", "AMD"),
    (b"CentaurHauls", "VIA"),
    (b"GenuineIntel", "Intel"),
    (b"TransmetaCPU", "Transmeta"),
    (b"GenuineTMx86", "Transmeta"),
    (b"Geode by NSC", "NSC"),
    (b"VIA VIA VIA ", "VIA"),
    (b"KVMKVMKVM", "KVM"),
    (b"Linux KVM Hv", "KVM"),
    (b"TCGTCGTCGTCG", "QEMU"),
    (b"Microsoft Hv", "MSVM"),
    (b"VMwareVMware", "VMware"),
    (b"XenVMMXenVMM", "XenHVM"),
    (b"bhyve bhyve ", "Bhyve"),
    (b"HygonGenuine", "Hygon"),
    (b"Vortex86 SoC", "SiS"),
    (b"SiS SiS SiS ", "SiS"),
    (b"RiseRiseRise", "SiS"),
    (b"Genuine  RDC", "RDC"),
    (b"QNXQVMBSQG", "QNX"),
    (b"ACRNACRNACRN", "ACRN"),
    (b"SRESRESRESRE", "SRE"),
    (b"Apple VZ", "Apple"),
];

fn vendor_name(id: &[u8]) -> Option<&'static str> {
    VENDORS.iter().find(|(s, _)| *s == id).map(|(_, n)| *n)
}

/// klauspost's `valAsString`: the registers' bytes, little-endian, up to the first NUL.
fn register_string(values: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 * values.len());
    for v in values {
        for b in v.to_le_bytes() {
            if b == 0 {
                return out;
            }
            out.push(b);
        }
    }
    out
}

/// Decodes the CPU the way klauspost/cpuid's `Detect` does.
pub fn detect(c: &dyn Cpuid) -> CpuInfo {
    let d = Detector { c };
    let features = d.support();
    let vendor = d.vendor().unwrap_or("VendorUnknown");
    let (family, model) = d.family_model();
    let hv = register_string(&{
        let [_, b, c, dx] = c.cpuid(0x4000_0000, 0);
        [b, c, dx]
    });
    let hypervisor = vendor_name(&hv).map_or(Hypervisor::Unknown(hv), Hypervisor::Known);
    let x64_level = x64_level(&features);
    let avx10_level = if d.max_function() >= 0x24 && features.contains("AVX10") {
        // uint8(ebx): the version is the low byte.
        (c.cpuid(0x24, 0)[1] & 0xff) as u8
    } else {
        0
    };
    let sgx_epc_bytes = if features.contains("SGX") {
        d.sgx_epc_bytes()
    } else {
        0
    };
    CpuInfo {
        vendor,
        family,
        model,
        features,
        hypervisor,
        x64_level,
        avx10_level,
        sgx_epc_bytes,
    }
}

/// `X64Level`: <https://en.wikipedia.org/wiki/X86-64#Microarchitecture_levels>.
fn x64_level(f: &BTreeSet<&'static str>) -> u8 {
    const V1: &[&str] = &["CMOV", "CMPXCHG8", "X87", "FXSR", "MMX", "SSE", "SSE2"];
    const V2: &[&str] = &["CX16", "LAHF", "POPCNT", "SSE3", "SSE4", "SSE42", "SSSE3"];
    const V3: &[&str] = &[
        "AVX", "AVX2", "BMI1", "BMI2", "F16C", "FMA3", "LZCNT", "MOVBE", "OSXSAVE",
    ];
    const V4: &[&str] = &["AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL"];
    if !f.contains("SYSEE") && !f.contains("SYSCALL") {
        return 0;
    }
    let all = |set: &[&str]| set.iter().all(|x| f.contains(x));
    let mut level = 0;
    for (i, set) in [V1, V2, V3, V4].into_iter().enumerate() {
        if !all(set) {
            break;
        }
        level = i as u8 + 1;
    }
    level
}

struct Detector<'a> {
    c: &'a dyn Cpuid,
}

struct Set(BTreeSet<&'static str>);

impl Set {
    fn set_if(&mut self, cond: bool, name: &'static str) {
        if cond {
            self.0.insert(name);
        }
    }
    fn has(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

/// Bit `n` of `v`.
fn bit(v: u32, n: u32) -> bool {
    v & (1 << n) != 0
}

impl Detector<'_> {
    fn leaf(&self, leaf: u32) -> [u32; 4] {
        self.c.cpuid(leaf, 0)
    }

    fn max_function(&self) -> u32 {
        self.leaf(0)[0]
    }

    fn max_extended(&self) -> u32 {
        self.leaf(0x8000_0000)[0]
    }

    fn vendor(&self) -> Option<&'static str> {
        let [_, b, c, d] = self.leaf(0);
        vendor_name(&register_string(&[b, d, c]))
    }

    fn family_model(&self) -> (u32, u32) {
        if self.max_function() < 1 {
            return (0, 0);
        }
        let eax = self.leaf(1)[0];
        let mut family = (eax >> 8) & 0xf;
        let mut ext = family == 0x6;
        if family == 0xf {
            family += (eax >> 20) & 0xff;
            ext = true;
        }
        let mut model = (eax >> 4) & 0xf;
        if ext {
            model += (eax >> 12) & 0xf0;
        }
        (family, model)
    }

    fn threads_per_core(&self) -> u32 {
        let mfi = self.max_function();
        let vendor = self.vendor();
        if mfi < 4 || (vendor != Some("Intel") && vendor != Some("AMD")) {
            return 1;
        }
        if mfi < 0xb {
            if vendor != Some("Intel") {
                return 1;
            }
            let [_, b, _, d] = self.leaf(1);
            if bit(d, 28) {
                let v = (b >> 16) & 255;
                if v > 1 {
                    let v2 = (self.leaf(4)[0] >> 26) + 1;
                    return v / v2;
                }
            }
            return 1;
        }
        let b = self.c.cpuid(0xb, 0)[1];
        if b & 0xffff == 0 {
            if vendor == Some("AMD") {
                let (family, _) = self.family_model();
                if bit(self.leaf(1)[3], 28) && family >= 23 {
                    if self.max_extended() >= 0x8000_001e {
                        return ((self.leaf(0x8000_001e)[1] >> 8) & 0xff) + 1;
                    }
                    return 2;
                }
            }
            return 1;
        }
        b & 0xffff
    }

    fn sgx_epc_bytes(&self) -> u64 {
        let mut total = 0u64;
        for subleaf in 2..10 {
            // Sub-leaves from 2 describe EPC sections: type in EAX[3:0], size in ECX and EDX.
            let [eax, _, ecx, edx] = self.c.cpuid(0x12, subleaf);
            match eax & 0xf {
                0 => break,
                1 => {
                    let size = u64::from(ecx & 0xffff_f000) + (u64::from(edx & 0x000f_ffff) << 32);
                    total = total.saturating_add(size);
                }
                _ => {}
            }
        }
        total
    }

    /// klauspost/cpuid's `support()` plus the PMU flags `addInfo` sets from leaf 0xA.
    fn support(&self) -> BTreeSet<&'static str> {
        let mut fs = Set(BTreeSet::new());
        let mfi = self.max_function();
        let vendor = self.vendor();
        if mfi < 1 {
            return fs.0;
        }
        let (family, model) = self.family_model();
        let [_, _, c, d] = self.leaf(1);
        fs.set_if(bit(d, 0), "X87");
        fs.set_if(bit(d, 8), "CMPXCHG8");
        fs.set_if(bit(d, 11), "SYSEE");
        fs.set_if(bit(d, 15), "CMOV");
        fs.set_if(bit(d, 23), "MMX");
        fs.set_if(bit(d, 24), "FXSR");
        fs.set_if(bit(d, 25), "FXSROPT");
        fs.set_if(bit(d, 25), "SSE");
        fs.set_if(bit(d, 26), "SSE2");
        fs.set_if(bit(c, 0), "SSE3");
        fs.set_if(bit(c, 5), "VMX");
        fs.set_if(bit(c, 9), "SSSE3");
        fs.set_if(bit(c, 19), "SSE4");
        fs.set_if(bit(c, 20), "SSE42");
        fs.set_if(bit(c, 25), "AESNI");
        fs.set_if(bit(c, 1), "CLMUL");
        fs.set_if(bit(c, 22), "MOVBE");
        fs.set_if(bit(c, 23), "POPCNT");
        fs.set_if(bit(c, 30), "RDRAND");
        fs.set_if(bit(c, 31), "HYPERVISOR");
        fs.set_if(bit(c, 29), "F16C");
        fs.set_if(bit(c, 13), "CX16");
        if matches!(vendor, Some("Intel") | Some("AMD")) && bit(d, 28) && mfi >= 4 {
            fs.set_if(self.threads_per_core() > 1, "HTT");
        }
        // klauspost writes `c&1<<26 != 0`; Go parses that as `(c&1)<<26 != 0`, so XSAVE and
        // OSXSAVE follow the SSE3 bit. NFD publishes what the library says.
        fs.set_if(bit(c, 0), "XSAVE");
        fs.set_if(bit(c, 0), "OSXSAVE");
        const AVX_CHECK: u32 = 1 << 26 | 1 << 27 | 1 << 28;
        if c & AVX_CHECK == AVX_CHECK && self.c.xcr0() & 0x6 == 0x6 {
            fs.0.insert("AVX");
            match vendor {
                Some("Intel") => fs.set_if(family == 6 && model < 60, "AVXSLOW"),
                Some("AMD") => fs.set_if(family < 23 || (family == 23 && model < 49), "AVXSLOW"),
                _ => {}
            }
        }
        const FMA3_CHECK: u32 = 1 << 12 | 1 << 27;
        fs.set_if(c & FMA3_CHECK == FMA3_CHECK, "FMA3");

        if mfi >= 7 {
            self.leaf7(&mut fs, c);
        }

        if mfi >= 0xd && fs.has("XSAVE") {
            let eax = self.c.cpuid(0xd, 1)[0];
            fs.set_if(bit(eax, 0), "XSAVEOPT");
            fs.set_if(bit(eax, 1), "XSAVEC");
            fs.set_if(bit(eax, 2), "XGETBV1");
            fs.set_if(bit(eax, 3), "XSAVES");
        }
        let max_ext = self.max_extended();
        if max_ext >= 0x8000_0001 {
            let [_, _, c, d] = self.leaf(0x8000_0001);
            if bit(c, 5) {
                fs.0.insert("LZCNT");
                fs.0.insert("POPCNT");
            }
            fs.set_if(bit(c, 0), "LAHF");
            fs.set_if(bit(c, 2), "SVM");
            fs.set_if(bit(c, 6), "SSE4A");
            fs.set_if(bit(c, 10), "IBS");
            fs.set_if(bit(c, 22), "TOPEXT");
            fs.set_if(bit(d, 11), "SYSCALL");
            fs.set_if(bit(d, 20), "NX");
            fs.set_if(bit(d, 22), "MMXEXT");
            fs.set_if(bit(d, 23), "MMX");
            fs.set_if(bit(d, 24), "FXSR");
            fs.set_if(bit(d, 25), "FXSROPT");
            fs.set_if(bit(d, 27), "RDTSCP");
            fs.set_if(bit(d, 30), "AMD3DNOWEXT");
            fs.set_if(bit(d, 31), "AMD3DNOW");
            // XOP and FMA4 use the AVX encoding, so they need the OS support AVX needs.
            if fs.has("AVX") {
                fs.set_if(bit(c, 11), "XOP");
                fs.set_if(bit(c, 16), "FMA4");
            }
        }
        if max_ext >= 0x8000_0007 {
            let [_, b, _, d] = self.leaf(0x8000_0007);
            fs.set_if(bit(b, 0), "MCAOVERFLOW");
            fs.set_if(bit(b, 1), "SUCCOR");
            fs.set_if(bit(b, 2), "HWA");
            fs.set_if(bit(d, 9), "CPBOOST");
        }
        if max_ext >= 0x8000_0008 {
            let b = self.leaf(0x8000_0008)[1];
            for (n, name) in [
                (28, "PSFD"),
                (27, "CPPC"),
                (24, "SPEC_CTRL_SSBD"),
                (23, "PPIN"),
                (21, "TLB_FLUSH_NESTED"),
                (20, "EFER_LMSLE_UNS"),
                (19, "IBRS_PROVIDES_SMP"),
                (18, "IBRS_PREFERRED"),
                (17, "STIBP_ALWAYSON"),
                (15, "STIBP"),
                (14, "IBRS"),
                (13, "INT_WBINVD"),
                (12, "IBPB"),
                (9, "WBNOINVD"),
                (8, "MCOMMIT"),
                (4, "RDPRU"),
                (3, "INVLPGB"),
                (1, "MSRIRC"),
                (0, "CLZERO"),
            ] {
                fs.set_if(bit(b, n), name);
            }
        }
        if fs.has("SVM") && max_ext >= 0x8000_000a {
            let edx = self.leaf(0x8000_000a)[3];
            for (n, name) in [
                (0, "SVMNP"),
                (1, "LBRVIRT"),
                (2, "SVML"),
                (3, "NRIPS"),
                (4, "TSCRATEMSR"),
                (5, "VMCBCLEAN"),
                (6, "SVMFBASID"),
                (7, "SVMDA"),
                (10, "SVMPF"),
                (12, "SVMPFT"),
            ] {
                fs.set_if(bit(edx, n), name);
            }
        }
        if max_ext >= 0x8000_001a {
            let eax = self.leaf(0x8000_001a)[0];
            fs.set_if(bit(eax, 0), "FP128");
            fs.set_if(bit(eax, 1), "MOVU");
            fs.set_if(bit(eax, 2), "FP256");
        }
        if max_ext >= 0x8000_001b && fs.has("IBS") {
            let eax = self.leaf(0x8000_001b)[0];
            for (n, name) in [
                (0, "IBSFFV"),
                (1, "IBSFETCHSAM"),
                (2, "IBSOPSAM"),
                (3, "IBSRDWROPCNT"),
                (4, "IBSOPCNT"),
                (5, "IBSBRNTRGT"),
                (6, "IBSOPCNTEXT"),
                (7, "IBSRIPINVALIDCHK"),
                (8, "IBS_OPFUSE"),
                (9, "IBS_FETCH_CTLX"),
                (10, "IBS_OPDATA4"),
                (11, "IBS_ZEN4"),
            ] {
                fs.set_if(bit(eax, n), name);
            }
        }
        if max_ext >= 0x8000_001f && vendor == Some("AMD") {
            let a = self.leaf(0x8000_001f)[0];
            for (n, name) in [
                (0, "SME"),
                (1, "SEV"),
                (2, "MSR_PAGEFLUSH"),
                (3, "SEV_ES"),
                (4, "SEV_SNP"),
                (5, "VMPL"),
                (10, "SME_COHERENT"),
                (11, "SEV_64BIT"),
                (12, "SEV_RESTRICTED"),
                (13, "SEV_ALTERNATIVE"),
                (14, "SEV_DEBUGSWAP"),
                (15, "IBS_PREVENTHOST"),
                (16, "VTE"),
                (24, "VMSA_REGPROT"),
            ] {
                fs.set_if(bit(a, n), name);
            }
        }
        if max_ext >= 0x8000_0021 && vendor == Some("AMD") {
            let [a, _, c, _] = self.leaf(0x8000_0021);
            fs.set_if(bit(a, 31), "SRSO_MSR_FIX");
            fs.set_if(bit(a, 30), "SRSO_USER_KERNEL_NO");
            fs.set_if(bit(a, 29), "SRSO_NO");
            fs.set_if(bit(a, 28), "IBPB_BRTYPE");
            fs.set_if(bit(a, 27), "SBPB");
            fs.set_if(bit(c, 1), "TSA_L1_NO");
            fs.set_if(bit(c, 2), "TSA_SQ_NO");
            fs.set_if(bit(a, 5), "TSA_VERW_CLEAR");
        }
        if vendor == Some("AMD") {
            // AMD parts before family 19h, and family 1Ah models 00-4Fh and 60-7Fh, are not
            // affected by TSA but do not set the CPUID bits.
            let not_affected = family < 0x19
                || (family == 0x1a && (model <= 0x4f || (0x60..=0x7f).contains(&model)));
            fs.set_if(not_affected, "TSA_L1_NO");
            fs.set_if(not_affected, "TSA_SQ_NO");
        }
        if mfi >= 0x20 {
            // Hyper-V hides a TDX guest's leaf 0x21 but reports it in leaf 0x4000_000C.
            fs.set_if(self.leaf(0x4000_000c)[1] == 0xbe3, "TDX_GUEST");
        }
        if mfi >= 0x21 {
            let [_, b, c, d] = self.leaf(0x21);
            fs.set_if(register_string(&[b, d, c]) == b"IntelTDX    ", "TDX_GUEST");
        }
        if mfi >= 0xa {
            let [eax, ebx, _, edx] = self.leaf(0xa);
            pmu_flags(&mut fs, eax, ebx, edx);
        }
        fs.0
    }

    /// Leaf 7: structured extended features (AVX2, AVX-512, AMX, security bits, ...).
    fn leaf7(&self, fs: &mut Set, leaf1_ecx: u32) {
        let mfi = self.max_function();
        let [_, ebx, ecx, edx] = self.c.cpuid(7, 0);
        if fs.has("AVX") && bit(ebx, 5) {
            fs.0.insert("AVX2");
        }
        if bit(ebx, 3) {
            fs.0.insert("BMI1");
            fs.set_if(bit(ebx, 8), "BMI2");
        }
        for (n, name) in [
            (2, "SGX"),
            (4, "HLE"),
            (9, "ERMS"),
            (11, "RTM"),
            (14, "MPX"),
            (18, "RDSEED"),
            (19, "ADX"),
            (29, "SHA"),
        ] {
            fs.set_if(bit(ebx, n), name);
        }
        for (n, name) in [
            (5, "WAITPKG"),
            (7, "CETSS"),
            (8, "GFNI"),
            (9, "VAES"),
            (10, "VPCLMULQDQ"),
            (13, "TME"),
            (25, "CLDEMOTE"),
            (23, "KEYLOCKER"),
            (27, "MOVDIRI"),
            (28, "MOVDIR64B"),
            (29, "ENQCMD"),
            (30, "SGXLC"),
        ] {
            fs.set_if(bit(ecx, n), name);
        }
        for (n, name) in [
            (4, "FSRM"),
            (9, "SRBDS_CTRL"),
            (10, "MD_CLEAR"),
            (11, "RTM_ALWAYS_ABORT"),
            (14, "SERIALIZE"),
            (15, "HYBRID_CPU"),
            (16, "TSXLDTRK"),
            (18, "PCONFIG"),
            (20, "CETIBT"),
            (26, "IBPB"),
            (27, "STIBP"),
            (28, "FLUSH_L1D"),
            (29, "IA32_ARCH_CAP"),
            (30, "IA32_CORE_CAP"),
            (31, "SPEC_CTRL_SSBD"),
        ] {
            fs.set_if(bit(edx, n), name);
        }

        let [eax1, _, _, edx1] = self.c.cpuid(7, 1);
        fs.set_if(fs.has("AVX") && bit(eax1, 4), "AVXVNNI");
        for (n, name) in [
            (1, "SM3_X86"),
            (2, "SM4_X86"),
            (7, "CMPCCXADD"),
            (10, "MOVSB_ZL"),
            (11, "STOSB_SHORT"),
            (12, "CMPSB_SCADBS_SHORT"),
            (22, "HRESET"),
            (23, "AVXIFMA"),
            (26, "LAM"),
        ] {
            fs.set_if(bit(eax1, n), name);
        }
        for (n, name) in [
            (4, "AVXVNNIINT8"),
            (5, "AVXNECONVERT"),
            (6, "AMXTRANSPOSE"),
            (7, "AMXTF32"),
            (8, "AMXCOMPLEX"),
            (10, "AVXVNNIINT16"),
            (14, "PREFETCHI"),
            (19, "AVX10"),
            (21, "APX_F"),
        ] {
            fs.set_if(bit(edx1, n), name);
        }

        // AVX-512 needs XGETBV and the OS saving opmask, ZMM0-15 upper halves and ZMM16-31
        // (XCR0[7:5]) besides XMM and YMM (XCR0[2:1]).
        const XSAVE_BITS: u32 = 1 << 26 | 1 << 27;
        if leaf1_ecx & XSAVE_BITS == XSAVE_BITS {
            let xcr0 = self.c.xcr0();
            if (xcr0 >> 5) & 7 == 7 && (xcr0 >> 1) & 3 == 3 {
                for (n, name) in [
                    (16, "AVX512F"),
                    (17, "AVX512DQ"),
                    (21, "AVX512IFMA"),
                    (26, "AVX512PF"),
                    (27, "AVX512ER"),
                    (28, "AVX512CD"),
                    (30, "AVX512BW"),
                    (31, "AVX512VL"),
                ] {
                    fs.set_if(bit(ebx, n), name);
                }
                for (n, name) in [
                    (1, "AVX512VBMI"),
                    (3, "AMXFP8"),
                    (6, "AVX512VBMI2"),
                    (11, "AVX512VNNI"),
                    (12, "AVX512BITALG"),
                    (14, "AVX512VPOPCNTDQ"),
                ] {
                    fs.set_if(bit(ecx, n), name);
                }
                for (n, name) in [
                    (8, "AVX512VP2INTERSECT"),
                    (22, "AMXBF16"),
                    (23, "AVX512FP16"),
                    (24, "AMXTILE"),
                    (25, "AMXINT8"),
                ] {
                    fs.set_if(bit(edx, n), name);
                }
                for (n, name) in [
                    (5, "AVX512BF16"),
                    (19, "WRMSRNS"),
                    (21, "AMXFP16"),
                    (27, "MSRLIST"),
                ] {
                    fs.set_if(bit(eax1, n), name);
                }
            }
        }

        let edx2 = self.c.cpuid(7, 2)[3];
        for (n, name) in [
            (0, "PSFD"),
            (1, "IDPRED_CTRL"),
            (2, "RRSBA_CTRL"),
            (4, "BHI_CTRL"),
            (5, "MCDT_NO"),
        ] {
            fs.set_if(bit(edx2, n), name);
        }
        if fs.has("SGX") {
            fs.set_if(bit(self.c.cpuid(0x12, 0)[0], 12), "SGXPQC");
        }
        if fs.has("KEYLOCKER") && mfi >= 0x19 {
            fs.set_if(self.c.cpuid(0x19, 0)[1] & 5 == 5, "KEYLOCKERW");
        }
        if fs.has("AVX10") && mfi >= 0x24 {
            let ebx = self.c.cpuid(0x24, 0)[1];
            fs.set_if(bit(ebx, 16), "AVX10_128");
            fs.set_if(bit(ebx, 17), "AVX10_256");
            fs.set_if(bit(ebx, 18), "AVX10_512");
        }
    }
}

/// Fixed-function performance counters (leaf 0xA), published as feature flags.
fn pmu_flags(fs: &mut Set, eax: u32, ebx: u32, edx: u32) {
    let version = eax & 0xff;
    let fixed = if version > 1 { edx & 0x1f } else { 0 };
    if version == 0 {
        return;
    }
    const EVENTS: [&str; 4] = [
        "PMU_FIXEDCOUNTER_INSTRUCTIONS",
        "PMU_FIXEDCOUNTER_CYCLES",
        "PMU_FIXEDCOUNTER_REFCYCLES",
        "PMU_FIXEDCOUNTER_TOPDOWN_SLOTS",
    ];
    if ebx == 0 {
        // Without an availability mask the first `fixed` counters are the architectural ones.
        match fixed {
            3 => EVENTS[..3].iter().for_each(|e| fs.set_if(true, e)),
            4 => EVENTS.iter().for_each(|e| fs.set_if(true, e)),
            _ => {}
        }
    } else {
        // EBX bit i set means event i is NOT available.
        for (i, e) in EVENTS.iter().enumerate() {
            fs.set_if(!bit(ebx, i as u32), e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(lines: &str) -> CpuidDump {
        CpuidDump::parse(lines).unwrap()
    }

    #[test]
    fn parses_cpuid_r_output_and_uses_the_first_cpu() {
        let d = dump(
            "CPU 0:\n   0x00000000 0x00: eax=0x00000010 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n\
             CPU 1:\n   0x00000000 0x00: eax=0x00000001 ebx=0x68747541 ecx=0x444d4163 edx=0x69746e65\n",
        );
        assert_eq!(d.cpuid(0, 0), [0x10, 0x756e6547, 0x6c65746e, 0x49656e69]);
        assert_eq!(d.cpuid(5, 3), [0; 4]);
        assert_eq!(detect(&d).vendor, "Intel");
        assert!(CpuidDump::parse("garbage").is_err());
        assert!(CpuidDump::parse("").is_err());
        assert!(CpuidDump::parse("0x00000000 0x00: eax=0x1 ebx=0x2 ecx=0x3").is_err());
    }

    /// A dump with leaf 1 ECX/EDX and leaf 7 EBX as given, an OS saving `xcr0_states`.
    fn cpu(ecx1: u32, edx1: u32, ebx7: u32, xcr0_states: u32) -> CpuidDump {
        dump(&format!(
            "0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n\
             0x00000001 0x00: eax=0x000806f8 ebx=0x00000000 ecx={ecx1:#010x} edx={edx1:#010x}\n\
             0x00000007 0x00: eax=0x00000000 ebx={ebx7:#010x} ecx=0x00000000 edx=0x00000000\n\
             0x0000000d 0x00: eax={xcr0_states:#010x} ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n\
             0x80000000 0x00: eax=0x80000001 ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n\
             0x80000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000001 edx=0x00000800\n"
        ))
    }

    #[test]
    fn avx_needs_the_os_to_save_ymm_and_avx512_zmm() {
        let avx = 1 << 26 | 1 << 27 | 1 << 28;
        let avx512f = 1 << 16;
        let full = detect(&cpu(avx, 0, avx512f, 0xe7));
        assert!(full.has("AVX") && full.has("AVX512F"));
        let no_zmm = detect(&cpu(avx, 0, avx512f, 0x07));
        assert!(no_zmm.has("AVX") && !no_zmm.has("AVX512F"));
        let no_ymm = detect(&cpu(avx, 0, avx512f, 0x03));
        assert!(!no_ymm.has("AVX"));
        // Family 6 model 0x8f (Sapphire Rapids): the extended model counts.
        assert_eq!((full.family, full.model), (6, 143));
    }

    #[test]
    fn xsave_follows_sse3_as_in_klauspost() {
        let only_sse3 = detect(&cpu(1, 0, 0, 0));
        assert!(only_sse3.has("XSAVE") && only_sse3.has("OSXSAVE"));
        let only_xsave = detect(&cpu(1 << 26 | 1 << 27, 0, 0, 0));
        assert!(!only_xsave.has("XSAVE") && !only_xsave.has("OSXSAVE"));
    }

    #[test]
    fn micro_architecture_levels_are_cumulative() {
        // CMOV CMPXCHG8 X87 FXSR MMX SSE SSE2 in leaf 1 EDX; SYSCALL and LAHF from 0x8000_0001.
        let v1_edx = 1 | 1 << 8 | 1 << 15 | 1 << 23 | 1 << 24 | 1 << 25 | 1 << 26;
        assert_eq!(detect(&cpu(0, v1_edx, 0, 0)).x64_level, 1);
        // SSE3 SSSE3 SSE4.1 SSE4.2 POPCNT CX16.
        let v2_ecx = 1 | 1 << 9 | 1 << 19 | 1 << 20 | 1 << 23 | 1 << 13;
        assert_eq!(detect(&cpu(v2_ecx, v1_edx, 0, 0)).x64_level, 2);
        assert_eq!(detect(&cpu(v2_ecx, 0, 0, 0)).x64_level, 0);
    }

    #[test]
    fn pmu_counters_from_leaf_0xa() {
        let mut fs = Set(BTreeSet::new());
        pmu_flags(&mut fs, 0x0000_0005, 0, 0x0000_0604);
        assert_eq!(fs.0.len(), 4);
        let mut fs = Set(BTreeSet::new());
        pmu_flags(&mut fs, 0x0000_0005, 0b1010, 0x0000_0604);
        assert_eq!(
            fs.0,
            [
                "PMU_FIXEDCOUNTER_INSTRUCTIONS",
                "PMU_FIXEDCOUNTER_REFCYCLES"
            ]
            .into()
        );
    }
}
