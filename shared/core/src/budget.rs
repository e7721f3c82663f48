//! The core's budgets: how much one input may make the core build, copy or compute, so that no
//! spec, snapshot or template can exhaust memory, the stack or a CPU, wherever the core runs
//! (CLI, server, browser). Each budget sits far above what real inputs need (docs/server.md
//! lists them with what real specs and nodes use); going over one is an error that names the
//! budget and where the input hit it, never an abort.
//!
//! Long work can also be stopped from outside through an [`Interrupt`]: the server raises it
//! when a request's deadline passes, its client leaves or the process shuts down.

use std::fmt;
use std::sync::Arc;

/// One budget: a stable name (used in messages and docs) and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub value: usize,
    pub unit: Unit,
    /// What the budget bounds, for messages and docs.
    pub what: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Count(&'static str),
}

/// Deepest nesting of YAML sequences and mappings.
pub const YAML_DEPTH: Limit = Limit {
    name: "yaml-depth",
    value: 256,
    unit: Unit::Count("levels"),
    what: "YAML nesting",
};
/// Nodes YAML alias expansion may create in one document.
pub const YAML_ALIAS_NODES: Limit = Limit {
    name: "yaml-alias-nodes",
    value: 200_000,
    unit: Unit::Count("nodes"),
    what: "nodes created by YAML aliases",
};
/// Scalar bytes YAML alias expansion may copy in one document: with the node budget alone, a
/// large anchored scalar referenced many times would multiply memory.
pub const YAML_ALIAS_BYTES: Limit = Limit {
    name: "yaml-alias-bytes",
    value: 4 << 20,
    unit: Unit::Bytes,
    what: "text copied by YAML aliases",
};
/// Largest `varsTemplate` (or NodeFeatureRule `labelsTemplate`) source.
pub const TEMPLATE_BYTES: Limit = Limit {
    name: "template-bytes",
    value: 64 << 10,
    unit: Unit::Bytes,
    what: "one template's source",
};
/// Template execution steps (actions, range iterations, values copied) in one node's
/// evaluation, all templates together.
pub const TEMPLATE_STEPS: Limit = Limit {
    name: "template-steps",
    value: 1_000_000,
    unit: Unit::Count("steps"),
    what: "template execution in one node's evaluation",
};
/// Text templates may write in one node's evaluation, all templates together.
pub const TEMPLATE_OUTPUT: Limit = Limit {
    name: "template-output",
    value: 1 << 20,
    unit: Unit::Bytes,
    what: "template output in one node's evaluation",
};
/// Length of one `InRegexp` pattern: the regex engine builds each pattern's syntax tree in full
/// before the compiled-size budget applies, and a Unicode class such as `\PL` is kilobytes of
/// ranges there, so a long alternation of them would cost hundreds of megabytes.
pub const REGEX_SOURCE: Limit = Limit {
    name: "regex-source",
    value: 4 << 10,
    unit: Unit::Bytes,
    what: "one InRegexp pattern's text",
};
/// Compiled size of one `InRegexp` pattern (its automaton, as the regex engine counts it).
pub const REGEX_PATTERN: Limit = Limit {
    name: "regex-pattern",
    value: 1 << 20,
    unit: Unit::Bytes,
    what: "one compiled InRegexp pattern",
};
/// Compiled size of all of a spec's distinct `InRegexp` patterns together.
pub const REGEX_SPEC: Limit = Limit {
    name: "regex-spec",
    value: 16 << 20,
    unit: Unit::Bytes,
    what: "all compiled InRegexp patterns of a spec",
};

/// Documents in one NodeFeatureRule file (a `kubectl apply -f` bundle).
pub const NFR_DOCUMENTS: Limit = Limit {
    name: "nfr-documents",
    value: 1_000,
    unit: Unit::Count("documents"),
    what: "YAML documents in one NodeFeatureRule file",
};
/// Rules of all the NodeFeatureRules evaluated together: each rule is evaluated on every node.
pub const NFR_RULES: Limit = Limit {
    name: "nfr-rules",
    value: 10_000,
    unit: Unit::Count("rules"),
    what: "rules of the NodeFeatureRules evaluated together",
};
/// Labels, annotations, extended resources, taints and vars one node's NodeFeatureRule
/// processing may produce, templates included.
pub const NFR_OUTPUTS: Limit = Limit {
    name: "nfr-outputs",
    value: 100_000,
    unit: Unit::Count("entries"),
    what: "labels, annotations, extended resources, taints and vars produced for one node",
};

/// Every budget of the core, in documentation order.
pub const ALL: &[Limit] = &[
    YAML_DEPTH,
    YAML_ALIAS_NODES,
    YAML_ALIAS_BYTES,
    TEMPLATE_BYTES,
    TEMPLATE_STEPS,
    TEMPLATE_OUTPUT,
    REGEX_SOURCE,
    REGEX_PATTERN,
    REGEX_SPEC,
    NFR_DOCUMENTS,
    NFR_RULES,
    NFR_OUTPUTS,
];

impl Limit {
    /// "over the yaml-alias-bytes budget (text copied by YAML aliases: 4 MiB)".
    pub fn exceeded(&self) -> String {
        format!("over the {} budget ({}: {self})", self.name, self.what)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unit {
            Unit::Bytes => f.write_str(&human_bytes(self.value as u64)),
            Unit::Count(unit) => write!(f, "{} {unit}", thousands(self.value as u64)),
        }
    }
}

/// Sizes as people read them: `512 bytes`, `64 KiB`, `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

/// `1000000` → `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signal from outside that long work should stop. The core polls it at points that bound
/// the work between polls (per node, per rule, every few thousand template steps) and then
/// fails with [`INTERRUPTED`]; the caller, which raised it, decides what to answer.
#[derive(Clone, Default)]
pub struct Interrupt(Option<Arc<dyn Fn() -> bool + Send + Sync>>);

/// The message of work stopped by an [`Interrupt`].
pub const INTERRUPTED: &str = "stopped before the end: the work was interrupted";

impl Interrupt {
    /// Never raised.
    pub fn none() -> Interrupt {
        Interrupt(None)
    }

    /// Raised whenever `raised` returns true.
    pub fn new(raised: impl Fn() -> bool + Send + Sync + 'static) -> Interrupt {
        Interrupt(Some(Arc::new(raised)))
    }

    pub fn is_raised(&self) -> bool {
        self.0.as_ref().is_some_and(|f| f())
    }
}

impl fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Interrupt(..)"
        } else {
            "Interrupt(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_people_write_them() {
        assert_eq!(YAML_ALIAS_BYTES.to_string(), "4 MiB");
        assert_eq!(TEMPLATE_STEPS.to_string(), "1,000,000 steps");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 20), "5 MiB");
        assert_eq!(human_bytes(100), "100 bytes");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(
            YAML_ALIAS_BYTES.exceeded(),
            "over the yaml-alias-bytes budget (text copied by YAML aliases: 4 MiB)"
        );
    }

    #[test]
    fn every_budget_has_a_distinct_name() {
        let mut names: Vec<_> = ALL.iter().map(|l| l.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}
