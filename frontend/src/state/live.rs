//! Results that follow every edit, as lint does: the Test results of the chosen snapshots are
//! recomputed on each change of the text, the tags or the choice, in the same task as the
//! change; the fleet summary (every stored snapshot, up to [`FLEET_SUMMARY_CAP`]) a moment
//! after typing pauses, since it costs more. Each result carries the revision of the text it
//! is of, so a page can mark results that no longer match the text.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{AppState, Live, Tab};
use crate::pages::node_name;
use crate::results::{self, FLEET_SUMMARY_CAP};

/// How many snapshots the Test results are of until the user chooses.
pub const LIVE_DEFAULT_CHOSEN: usize = 10;

/// How long typing must pause before the fleet summary is recomputed.
const FLEET_PAUSE: Duration = Duration::from_millis(300);

impl AppState {
    /// Re-evaluates the text on the chosen snapshots (loading features first where needed),
    /// and schedules the fleet summary.
    pub fn run_live(&self) {
        let app = *self;
        let revision = self.revision.get_untracked();
        let chosen: Vec<(i64, String)> = self.snapshots.with_untracked(|list| {
            self.chosen.with_untracked(|c| {
                list.iter()
                    .filter(|s| c.contains(&s.id))
                    .map(|s| (s.id, node_name(s)))
                    .collect()
            })
        });
        let missing: Vec<i64> = self.features.with_untracked(|f| {
            chosen
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| !f.contains_key(id))
                .collect()
        });
        if !missing.is_empty() {
            self.live.update(|l| l.loading = missing.len());
            spawn_local(async move {
                for id in missing {
                    if let Err(e) = app.snapshot_features(id).await {
                        app.error(format!("A snapshot's features could not be loaded. {e}"));
                        return;
                    }
                }
                app.run_live();
            });
            return;
        }
        let text = self.text.get_untracked();
        match results::decode(&text) {
            Err(problem) => self.live.update(|l| {
                l.problem = Some(problem);
                l.loading = 0;
            }),
            Ok(spec) => {
                let tags = self.tag_list();
                // The full report only where it is read.
                let detail = self.tab.get_untracked() == Tab::Test;
                let nodes = self.features.with_untracked(|f| {
                    chosen
                        .iter()
                        .filter_map(|(id, name)| {
                            f.get(id).map(|features| {
                                results::evaluate(
                                    &spec,
                                    &text,
                                    (*id, name),
                                    features,
                                    &tags,
                                    detail,
                                )
                            })
                        })
                        .collect()
                });
                self.live.set(Live {
                    revision,
                    nodes,
                    problem: None,
                    loading: 0,
                });
            }
        }
        set_timeout(move || app.run_fleet(revision), FLEET_PAUSE);
    }

    /// The fleet summary of `revision`, if the text has not changed since and the fleet is
    /// small enough to evaluate here.
    fn run_fleet(&self, revision: u64) {
        if self.revision.get_untracked() != revision {
            return;
        }
        let ids: Vec<i64> = self
            .snapshots
            .with_untracked(|l| l.iter().map(|s| s.id).collect());
        if ids.is_empty() || ids.len() > FLEET_SUMMARY_CAP {
            self.fleet.set(None);
            return;
        }
        let missing: Vec<i64> = self.features.with_untracked(|f| {
            ids.iter()
                .copied()
                .filter(|id| !f.contains_key(id))
                .collect()
        });
        if !missing.is_empty() {
            let app = *self;
            spawn_local(async move {
                for id in missing {
                    if app.snapshot_features(id).await.is_err() {
                        return;
                    }
                }
                app.run_fleet(revision);
            });
            return;
        }
        let Ok(spec) = results::decode(&self.text.get_untracked()) else {
            return;
        };
        let tags = self.tag_list();
        let summary = self.features.with_untracked(|f| {
            results::fleet_summary(&spec, ids.iter().filter_map(|id| f.get(id)), &tags)
        });
        self.fleet.set(Some((revision, summary)));
    }
}
