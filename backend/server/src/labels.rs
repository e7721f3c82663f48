//! "Labels NFD would apply": a stored NodeFeatureRule file processed by the core's
//! `nfr::process` on many stored snapshots (nothing here decides a label), as the fleet matrix
//! does for specs, on every core.

use std::collections::BTreeMap;

use nodefit_api::nodefeaturerules::{
    Applied, LabelCount, LabelsMatrix, NodeLabels, Produced, ProducedTaint, Rejected, RuleResult,
};
use nodefit_core::budget::Interrupt;
use nodefit_core::nfr::process::{self, NodeResult, OutputKind, RuleStatus, Ruleset, Settings};
use nodefit_core::nfr::NodeFeatureRule;

use crate::fleet::SelectedNode;

/// What one labels request needs besides the snapshots.
pub struct LabelsJob {
    pub rule_file_id: i64,
    pub objects: Vec<NodeFeatureRule>,
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

/// Processes every node (CPU work: call from a blocking thread) and assembles the answer.
pub fn matrix(job: &LabelsJob, nodes: Vec<SelectedNode>) -> LabelsMatrix {
    let ruleset = Ruleset::new(&job.objects);
    let options = process::Options {
        explain: job.explain,
        interrupt: job.interrupt.clone(),
    };
    let results = par_map(&nodes, |node| {
        process::process(&ruleset, &node.features, &job.settings, &options)
    });
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let (mut with_errors, mut failed) = (0, 0);
    for r in &results {
        match r {
            Ok(result) => {
                with_errors += usize::from(result.has_errors());
                for l in &result.labels {
                    *counts.entry((&l.key, &l.value)).or_default() += 1;
                }
            }
            Err(_) => failed += 1,
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
    let total = results.len();
    let items = nodes
        .into_iter()
        .zip(results)
        .skip(job.offset)
        .take(job.limit)
        .map(|(node, r)| {
            let (applied, error) = match r {
                Ok(result) => (Some(applied(result)), None),
                Err(e) => (None, Some(e.to_string())),
            };
            NodeLabels {
                snapshot_id: node.id,
                node_name: node.name,
                labels: node.labels,
                applied,
                error,
            }
        })
        .collect();
    LabelsMatrix {
        rule_file_id: job.rule_file_id,
        total,
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
