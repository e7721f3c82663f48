//! "Labels NFD would apply": a stored NodeFeatureRule file processed by the core's
//! `nfr::process` on many stored snapshots (nothing here decides a label), as the fleet matrix
//! does for specs, on every core.

use std::collections::BTreeMap;

use nodefit_api::nodefeaturerules::{
    Applied, LabelCount, LabelsMatrix, NodeLabels, Produced, ProducedTaint, Rejected, RuleResult,
};
use nodefit_core::budget::Interrupt;
use nodefit_core::features::Features;
use nodefit_core::nfr::process::{
    self, NodeResult, OutputKind, ProcessError, RuleStatus, Ruleset, Settings,
};

use crate::fleet::Selected;

/// What one labels request needs besides the rules and the snapshots.
pub struct LabelsJob {
    pub rule_file_id: i64,
    pub settings: Settings,
    /// Say why rules did not match (a single requested snapshot).
    pub explain: bool,
    pub limit: usize,
    pub offset: usize,
    pub interrupt: Interrupt,
}

fn produced(p: process::Produced) -> Produced {
    Produced {
        key: p.key,
        value: p.value,
        object: p.object.to_string(),
        rule: p.rule.to_string(),
    }
}

fn taint(t: process::ProducedTaint) -> ProducedTaint {
    ProducedTaint {
        key: t.key,
        value: t.value,
        effect: t.effect,
        object: t.object.to_string(),
        rule: t.rule.to_string(),
    }
}

/// The core's result in the API's words.
pub fn applied(r: NodeResult) -> Applied {
    Applied {
        labels: r.labels.into_iter().map(produced).collect(),
        annotations: r.annotations.into_iter().map(produced).collect(),
        extended_resources: r.extended_resources.into_iter().map(produced).collect(),
        taints: r.taints.into_iter().map(taint).collect(),
        taints_not_enabled: r.taints_not_enabled.into_iter().map(taint).collect(),
        rejected: r
            .rejected
            .into_iter()
            .map(|x| Rejected {
                kind: match x.kind {
                    OutputKind::Label => "label",
                    OutputKind::Annotation => "annotation",
                    OutputKind::ExtendedResource => "extendedResource",
                    OutputKind::Taint => "taint",
                }
                .into(),
                key: x.key,
                value: x.value,
                object: x.object.to_string(),
                rule: x.rule.to_string(),
                reason: x.reason,
            })
            .collect(),
        rules: r
            .rules
            .into_iter()
            .map(|x| RuleResult {
                object: x.object.to_string(),
                rule: x.rule.to_string(),
                status: match x.status {
                    RuleStatus::Matched => "matched",
                    RuleStatus::NotMatched => "notMatched",
                    RuleStatus::Error => "error",
                }
                .into(),
                why: x.why,
                error: x.error,
            })
            .collect(),
    }
}

/// Processes the selected nodes, once per group of nodes that agree on every feature the
/// rules read (`Ruleset::names_read`, which `selected` must be grouped by), and assembles the
/// answer (CPU work: call from a blocking thread). A group whose result shows a template
/// writing a dynamic value that names another feature is processed node by node instead.
pub fn matrix(job: &LabelsJob, ruleset: &Ruleset, selected: &Selected) -> LabelsMatrix {
    let names = ruleset.names_read();
    let options = process::Options {
        explain: job.explain,
        interrupt: job.interrupt.clone(),
    };
    let run = |features: &Features| process::process(ruleset, features, &job.settings, &options);
    let grouping = &selected.grouping;
    let groups: Vec<usize> = (0..grouping.len()).collect();
    let mut results = par_map(&groups, |&g| run(&grouping.features(g)));
    let exact =
        |r: &Result<NodeResult, ProcessError>| r.as_ref().map_or(true, |r| r.reads_only(&names));
    // Nodes of inexact groups get results of their own, after the groups'.
    let mut of_node: Vec<usize> = Vec::with_capacity(selected.nodes.len());
    let mut own: Vec<i64> = Vec::new();
    for (&(id, _), group) in selected.nodes.iter().zip(&grouping.assignment) {
        let group = group.expect("selected nodes are in the fleet") as usize;
        if exact(&results[group]) {
            of_node.push(group);
        } else {
            of_node.push(groups.len() + own.len());
            own.push(id);
        }
    }
    results.extend(par_map(&own, |&id| match selected.features(id) {
        Some(features) => run(&features),
        None => unreachable!("selected nodes are in the fleet while it is read"),
    }));
    let mut members = vec![0usize; results.len()];
    for &r in &of_node {
        members[r] += 1;
    }
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let (mut with_errors, mut failed) = (0, 0);
    for (r, &n) in results.iter().zip(&members).filter(|(_, &n)| n > 0) {
        match r {
            Ok(result) => {
                with_errors += usize::from(result.has_errors()) * n;
                for l in &result.labels {
                    *counts.entry((&l.key, &l.value)).or_default() += n;
                }
            }
            Err(_) => failed += n,
        }
    }
    let summary = counts
        .into_iter()
        .map(|((key, value), nodes)| LabelCount {
            key: key.to_string(),
            value: value.to_string(),
            nodes,
        })
        .collect();
    let items = selected
        .nodes
        .iter()
        .zip(&of_node)
        .skip(job.offset)
        .take(job.limit)
        .map(|(&(id, meta), &r)| {
            let (applied, error) = match &results[r] {
                Ok(result) => (Some(applied(result.clone())), None),
                Err(e) => (None, Some(e.to_string())),
            };
            NodeLabels {
                snapshot_id: id,
                node_name: meta.name.as_deref().map(str::to_owned),
                labels: (*meta.labels).clone(),
                applied,
                error,
            }
        })
        .collect();
    LabelsMatrix {
        rule_file_id: job.rule_file_id,
        total: selected.nodes.len(),
        with_errors,
        failed,
        summary,
        items,
        limit: job.limit,
        offset: job.offset,
    }
}

/// Fewer nodes than this per thread are not worth a thread (the fleet matrix's threshold).
const MIN_PER_THREAD: usize = 32;

/// `f` over every item on every core (CPU work: call from a blocking thread), results in order,
/// one chunk per thread, as the fleet matrix splits its work. Kept here rather than shared with
/// `fleet.rs`, so that the two matrices can change independently.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / MIN_PER_THREAD)
        .max(1);
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}
