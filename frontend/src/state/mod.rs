//! The app's state: one `Copy` bundle of signals passed to every page, and what pages do with
//! it together: the editor's spec and its drafts (`editor`), results that follow every edit
//! (`live`), and the one dialog through which every destructive action and every replacement
//! of unsaved work is confirmed (`dialog`).

mod dialog;
mod editor;
mod live;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use leptos::prelude::*;
use nodefit_api::auth::Me;
use nodefit_api::snapshots::{SnapshotSummary, SnapshotWithFeatures};
use nodefit_api::specs::Spec;
use nodefit_api::Page;
use nodefit_core::features::Features;

use crate::api;
use crate::codemirror::Editor;
use crate::drafts::Slot;
use crate::problem::Problem;
use crate::results::{FleetSummary, NodeResult};
use crate::vocab::SnapshotIndex;

pub use dialog::{Dialog, Viewed};
pub use live::LIVE_DEFAULT_CHOSEN;

/// The pages, in tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Editor,
    Snapshots,
    Test,
    Fleet,
    Rules,
    Publish,
    Versions,
    Tokens,
}

impl Tab {
    pub const ALL: [Tab; 8] = [
        Tab::Editor,
        Tab::Snapshots,
        Tab::Test,
        Tab::Fleet,
        Tab::Rules,
        Tab::Publish,
        Tab::Versions,
        Tab::Tokens,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Tab::Editor => "editor",
            Tab::Snapshots => "snapshots",
            Tab::Test => "test",
            Tab::Fleet => "fleet",
            Tab::Rules => "rules",
            Tab::Publish => "publish",
            Tab::Versions => "versions",
            Tab::Tokens => "tokens",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Tab::Editor => "Editor",
            Tab::Snapshots => "Snapshots",
            Tab::Test => "Test",
            Tab::Fleet => "Fleet",
            Tab::Rules => "Rules",
            Tab::Publish => "Publish",
            Tab::Versions => "Versions",
            Tab::Tokens => "Tokens",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.slug() == slug)
    }
}

/// A message in the status bar (announced through aria-live).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notice {
    pub error: bool,
    pub text: String,
}

/// The spec a new session starts from: valid, and short enough to read at a glance.
pub const TEMPLATE: &str = "\
version: v1alpha1
compatibilities:
- description: My image's node requirements
  rules:
  - name: cpu
    matchFeatures:
    - feature: cpu.model
      matchExpressions:
        vendor_id: {op: In, value: [Intel, AMD]}
";

/// Results of evaluating the editor's text, and which edit they are of.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    /// The editor's revision the results were computed on.
    pub revision: u64,
    pub nodes: Vec<NodeResult>,
    /// Why the current text has no results (NFD cannot read it): the results shown are then
    /// of an earlier revision, and marked so.
    pub problem: Option<String>,
    /// Chosen snapshots whose features are still loading.
    pub loading: usize,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub me: RwSignal<Option<Me>>,
    pub tab: RwSignal<Tab>,
    /// The editor's current text (updated on every edit).
    pub text: RwSignal<String>,
    /// Counts the editor's changes: results carry the revision they are of.
    pub revision: RwSignal<u64>,
    pub problems: RwSignal<Vec<Problem>>,
    /// The stored spec the editor's text belongs to, with the content of the version the
    /// text started from; `None` for a new one.
    pub spec: RwSignal<Option<Spec>>,
    /// The name for the next save.
    pub spec_name: RwSignal<String>,
    /// Every stored spec (without content), for the picker and to name publications.
    pub specs: RwSignal<Vec<Spec>>,
    /// Slots with a draft in this browser, for the picker's marks.
    pub drafts: RwSignal<Vec<Slot>>,
    pub notice: RwSignal<Notice>,
    pub snapshots: RwSignal<Vec<SnapshotSummary>>,
    /// Features of stored snapshots, parsed once, by snapshot id.
    pub features: RwSignal<BTreeMap<i64, Features>>,
    pub index: RwSignal<SnapshotIndex>,
    /// The snapshots the Test results are of, and the tags evaluated. Until the user chooses,
    /// the first [`LIVE_DEFAULT_CHOSEN`] stored snapshots are.
    pub chosen: RwSignal<BTreeSet<i64>>,
    pub chosen_by_user: RwSignal<bool>,
    pub tags: RwSignal<String>,
    pub live: RwSignal<Live>,
    /// The fleet summary beside the editor, and the revision it is of.
    pub fleet: RwSignal<Option<(u64, FleetSummary)>>,
    /// The dialog shown, if any; and a spec shown read-only, if any.
    pub dialog: RwSignal<Option<Dialog>>,
    pub viewing: RwSignal<Option<Viewed>>,
    /// Whether Tab indents in the editor (CodeMirror's tab-focus mode off).
    pub tab_indents: RwSignal<bool>,
    /// CodeMirror, once the Editor tab has mounted it.
    pub editor: StoredValue<Option<Editor>, LocalStorage>,
    /// The spec lint decoded from the text, and the revision it is of: the results evaluate it
    /// rather than decoding the same text again on every keystroke.
    pub decoded: StoredValue<Option<(u64, Rc<nodefit_core::spec::Spec>)>, LocalStorage>,
}

impl AppState {
    #[allow(clippy::new_without_default)] // signals are created by the app, not defaulted
    pub fn new() -> AppState {
        AppState {
            me: RwSignal::new(None),
            tab: RwSignal::new(Tab::Editor),
            text: RwSignal::new(TEMPLATE.to_string()),
            revision: RwSignal::new(0),
            problems: RwSignal::new(Vec::new()),
            spec: RwSignal::new(None),
            spec_name: RwSignal::new("my-image".to_string()),
            specs: RwSignal::new(Vec::new()),
            drafts: RwSignal::new(Vec::new()),
            notice: RwSignal::new(Notice::default()),
            snapshots: RwSignal::new(Vec::new()),
            features: RwSignal::new(BTreeMap::new()),
            index: RwSignal::new(SnapshotIndex::default()),
            chosen: RwSignal::new(BTreeSet::new()),
            chosen_by_user: RwSignal::new(false),
            tags: RwSignal::new(String::new()),
            live: RwSignal::new(Live::default()),
            fleet: RwSignal::new(None),
            dialog: RwSignal::new(None),
            viewing: RwSignal::new(None),
            tab_indents: RwSignal::new(false),
            editor: StoredValue::new_local(None),
            decoded: StoredValue::new_local(None),
        }
    }

    pub fn info(&self, text: impl Into<String>) {
        self.notice.set(Notice {
            error: false,
            text: text.into(),
        });
    }

    pub fn error(&self, text: impl Into<String>) {
        self.notice.set(Notice {
            error: true,
            text: text.into(),
        });
    }

    pub fn may(&self, permission: &str) -> bool {
        self.me
            .with(|me| me.as_ref().is_some_and(|m| m.may(permission)))
    }

    /// The logged-in token's name: whose drafts these are.
    pub fn user(&self) -> Option<String> {
        self.me
            .with_untracked(|m| m.as_ref().map(|m| m.name.clone()))
    }

    /// Runs `f` on the editor; before the Editor tab has mounted it there is nothing to change.
    pub fn with_editor(&self, f: impl FnOnce(&Editor)) {
        self.editor.with_value(|e| {
            if let Some(e) = e {
                f(e);
            }
        });
    }

    /// The editor's text right now. `text` follows it a microtask later (when the lint has
    /// run), so whatever must not miss the latest change (saving) asks the editor.
    pub fn editor_text(&self) -> String {
        self.editor
            .with_value(|e| e.as_ref().map(Editor::text))
            .unwrap_or_else(|| self.text.get_untracked())
    }

    /// Whether the editor holds changes the server does not have.
    pub fn dirty(&self) -> bool {
        let text = self.text.get();
        self.spec.with(|s| {
            s.as_ref()
                .is_none_or(|s| s.content.as_deref() != Some(&text))
        })
    }

    /// The tags of the Test tab, as a list.
    pub fn tag_list(&self) -> Vec<String> {
        self.tags
            .get_untracked()
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// Reloads the snapshot list, then the features of up to [`INDEX_LIMIT`] of them for
    /// autocomplete and the builder's value pickers; until the user chooses, the first
    /// [`LIVE_DEFAULT_CHOSEN`] of them are the Test results'.
    pub async fn refresh_snapshots(self) -> api::Result<()> {
        let page: Page<SnapshotSummary> =
            api::call("GET", "/snapshots?limit=200", api::Body::None).await?;
        let ids: BTreeSet<i64> = page.items.iter().map(|s| s.id).collect();
        let by_user = self.chosen_by_user.get_untracked();
        self.chosen.update(|c| {
            c.retain(|id| ids.contains(id));
            if !by_user {
                *c = page
                    .items
                    .iter()
                    .take(LIVE_DEFAULT_CHOSEN)
                    .map(|s| s.id)
                    .collect();
            }
        });
        self.snapshots.set(page.items.clone());
        let mut index = SnapshotIndex::default();
        for s in page.items.iter().take(INDEX_LIMIT) {
            if let Ok(features) = self.snapshot_features(s.id).await {
                index.add(&features);
            }
        }
        self.index.set(index);
        self.run_live();
        Ok(())
    }

    /// A stored snapshot's features (fetched once, then cached).
    pub async fn snapshot_features(self, id: i64) -> api::Result<Features> {
        if let Some(f) = self.features.with_untracked(|m| m.get(&id).cloned()) {
            return Ok(f);
        }
        let detail: SnapshotWithFeatures =
            api::call("GET", &format!("/snapshots/{id}"), api::Body::None).await?;
        let parsed = nodefit_core::snapshot::parse(detail.features.get()).map_err(|e| {
            api::ApiError::unreadable(200, format!("snapshot {id} could not be read: {e}"))
        })?;
        let features = parsed
            .nodes
            .into_iter()
            .next()
            .map(|n| n.features)
            .unwrap_or_default();
        self.features
            .update(|m| drop(m.insert(id, features.clone())));
        Ok(features)
    }

    /// Reloads the list of stored specs.
    pub async fn refresh_specs(self) -> api::Result<()> {
        let page: Page<Spec> = api::call("GET", "/specs?limit=500", api::Body::None).await?;
        self.specs.set(page.items);
        Ok(())
    }

    /// A spec's name, by id, from the list (`spec 12` when it is not there any more).
    pub fn spec_label(&self, id: i64) -> String {
        self.specs.with(|list| {
            list.iter()
                .find(|s| s.id == id)
                .map_or_else(|| format!("spec {id} (deleted)"), |s| s.name.clone())
        })
    }
}

/// How many snapshots' features are loaded for suggestions.
pub const INDEX_LIMIT: usize = 50;
