//! Host capture: this machine's features, discovered the way NFD's built-in feature sources
//! discover them (`nfd export features`, `nfd compat validate-node`), with NFD's feature names,
//! element keys and value formats.
//!
//! Each source module follows its NFD counterpart: what it reads, what it leaves out when a file
//! is missing, which reads are fatal. Parsing is done by pure functions over strings; the
//! filesystem is reached only through [`HostRoots`], so fixture trees stand in for the host.
//! A source that fails is reported as a [`SourceProblem`] and the others still come out.

pub mod arm64;
mod cpu;
pub mod cpuid;
mod fsutil;
mod kernel;
mod local;
mod memory;
mod network;
mod pci;
mod roots;
mod storage;
mod system;
mod usb;

use std::collections::{BTreeMap, BTreeSet};

use nodefit_core::features::{AttributeSet, Features, FlagSet, Instance, InstanceSet, Text};

pub use roots::HostRoots;

/// What a capture found, and what went wrong on the way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capture {
    pub features: Features,
    pub problems: Vec<SourceProblem>,
}

/// Something a source could not read. NFD logs these and leaves the affected feature out or
/// empty, except where [`SourceProblem::aborts_nfd`] is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceProblem {
    pub source: &'static str,
    pub message: String,
    /// NFD's `validate-node` and `export features` stop at this one with `error during discovery
    /// of source <source>: ...` (network, pci and storage when their sysfs directory cannot be
    /// listed). Capture still writes everything else.
    pub aborts_nfd: bool,
}

/// Where the cpu source reads the processor from.
#[derive(Clone, Copy)]
pub enum Processor<'a> {
    /// x86: CPUID, answered by the processor or by a recorded dump.
    X86(&'a dyn cpuid::Cpuid),
    /// arm64: HWCAPs from `<root>/proc/self/auxv` and MIDR_EL1 from sysfs (see [`arm64`]).
    Arm64,
    /// Any other architecture: `cpu.cpuid` empty and `cpu.model` left out, with a problem
    /// saying so (NFD reads HWCAPs on arm, ppc64le and s390x too; see docs/capture.md).
    Other,
}

/// Captures this machine: CPUID from the processor on x86_64, HWCAPs on aarch64.
pub fn capture(roots: &HostRoots, node_name: &str) -> Capture {
    #[cfg(target_arch = "x86_64")]
    let native = cpuid::NativeCpuid;
    #[cfg(target_arch = "x86_64")]
    let processor = Processor::X86(&native);
    #[cfg(target_arch = "aarch64")]
    let processor = Processor::Arm64;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let processor = Processor::Other;
    capture_with(roots, node_name, processor)
}

/// Captures with the processor read as `processor` says.
///
/// `node_name` becomes `system.name.nodename`; NFD takes it from `NODE_NAME` and leaves it empty
/// when unset.
pub fn capture_with(roots: &HostRoots, node_name: &str, processor: Processor) -> Capture {
    // The sources validate-node runs, in NFD's order.
    let mut out = Capture::default();
    cpu::discover(roots, processor, &mut Sink::new(&mut out, "cpu"));
    kernel::discover(roots, &mut Sink::new(&mut out, "kernel"));
    local::discover(roots, &mut Sink::new(&mut out, "local"));
    memory::discover(roots, &mut Sink::new(&mut out, "memory"));
    network::discover(roots, &mut Sink::new(&mut out, "network"));
    pci::discover(roots, &mut Sink::new(&mut out, "pci"));
    storage::discover(roots, &mut Sink::new(&mut out, "storage"));
    system::discover(roots, node_name, &mut Sink::new(&mut out, "system"));
    usb::discover(roots, &mut Sink::new(&mut out, "usb"));
    out
}

/// Where one source puts its features (named `<source>.<feature>`) and problems.
struct Sink<'a> {
    source: &'static str,
    capture: &'a mut Capture,
}

type Attributes = BTreeMap<String, String>;

impl<'a> Sink<'a> {
    fn new(capture: &'a mut Capture, source: &'static str) -> Self {
        Sink { source, capture }
    }

    fn key(&self, feature: &str) -> Text {
        Text::from(format!("{}.{feature}", self.source))
    }

    fn attributes(&mut self, feature: &str, elements: Attributes) {
        let key = self.key(feature);
        self.capture.features.attributes.insert(
            key,
            AttributeSet {
                elements: Some(
                    elements
                        .into_iter()
                        .map(|(k, v)| (k.into(), v.into()))
                        .collect(),
                ),
            },
        );
    }

    fn flags(&mut self, feature: &str, elements: BTreeSet<String>) {
        let key = self.key(feature);
        self.capture.features.flags.insert(
            key,
            FlagSet {
                elements: Some(elements.into_iter().map(Into::into).collect()),
            },
        );
    }

    fn instances(&mut self, feature: &str, elements: Vec<Attributes>) {
        let key = self.key(feature);
        let elements = elements
            .into_iter()
            .map(|attributes| Instance {
                attributes: Some(
                    attributes
                        .into_iter()
                        .map(|(k, v)| (k.into(), v.into()))
                        .collect(),
                ),
            })
            .collect();
        self.capture.features.instances.insert(
            key,
            InstanceSet {
                elements: Some(elements),
            },
        );
    }

    fn problem(&mut self, message: impl Into<String>) {
        self.push(message.into(), false);
    }

    /// A failure NFD's validate-node aborts on.
    fn fatal(&mut self, message: impl Into<String>) {
        self.push(message.into(), true);
    }

    fn push(&mut self, message: String, aborts_nfd: bool) {
        self.capture.problems.push(SourceProblem {
            source: self.source,
            message,
            aborts_nfd,
        });
    }
}
