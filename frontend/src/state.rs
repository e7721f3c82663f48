//! The app's state: one `Copy` bundle of signals passed to every page, and what pages do with
//! it together (save the editor's text, load snapshots).

use std::collections::BTreeMap;

use leptos::prelude::*;
use nodefit_api::auth::Me;
use nodefit_api::snapshots::{SnapshotSummary, SnapshotWithFeatures};
use nodefit_api::specs::{CreateSpec, Spec, UpdateSpec};
use nodefit_api::Page;
use nodefit_core::features::Features;

use crate::api;
use crate::codemirror::Editor;
use crate::problem::Problem;
use crate::vocab::SnapshotIndex;

/// The pages, in tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Editor,
    Snapshots,
    Test,
    Fleet,
    Publish,
    Versions,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Editor,
        Tab::Snapshots,
        Tab::Test,
        Tab::Fleet,
        Tab::Publish,
        Tab::Versions,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Tab::Editor => "editor",
            Tab::Snapshots => "snapshots",
            Tab::Test => "test",
            Tab::Fleet => "fleet",
            Tab::Publish => "publish",
            Tab::Versions => "versions",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Tab::Editor => "Editor",
            Tab::Snapshots => "Snapshots",
            Tab::Test => "Test",
            Tab::Fleet => "Fleet",
            Tab::Publish => "Publish",
            Tab::Versions => "Versions",
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

#[derive(Clone, Copy)]
pub struct AppState {
    pub me: RwSignal<Option<Me>>,
    pub tab: RwSignal<Tab>,
    /// The editor's current text (updated on every edit).
    pub text: RwSignal<String>,
    pub problems: RwSignal<Vec<Problem>>,
    /// The spec opened from the server (its last saved version); `None` for a new one.
    pub spec: RwSignal<Option<Spec>>,
    /// The name for the next save of a new spec.
    pub spec_name: RwSignal<String>,
    pub notice: RwSignal<Notice>,
    pub snapshots: RwSignal<Vec<SnapshotSummary>>,
    /// Features of stored snapshots, parsed once, by snapshot id.
    pub features: RwSignal<BTreeMap<i64, Features>>,
    pub index: RwSignal<SnapshotIndex>,
    /// CodeMirror, once the Editor tab has mounted it.
    pub editor: StoredValue<Option<Editor>, LocalStorage>,
}

impl AppState {
    #[allow(clippy::new_without_default)] // signals are created by the app, not defaulted
    pub fn new() -> AppState {
        AppState {
            me: RwSignal::new(None),
            tab: RwSignal::new(Tab::Editor),
            text: RwSignal::new(TEMPLATE.to_string()),
            problems: RwSignal::new(Vec::new()),
            spec: RwSignal::new(None),
            spec_name: RwSignal::new("my-image".to_string()),
            notice: RwSignal::new(Notice::default()),
            snapshots: RwSignal::new(Vec::new()),
            features: RwSignal::new(BTreeMap::new()),
            index: RwSignal::new(SnapshotIndex::default()),
            editor: StoredValue::new_local(None),
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

    /// Saves the editor's text: a new spec, or a new version of the open one (renamed when
    /// the name changed). Returns the spec.
    pub async fn save(self, message: &str) -> api::Result<Spec> {
        let content = self.editor_text();
        let name = self.spec_name.get_untracked();
        let message = (!message.is_empty()).then(|| message.to_string());
        let saved: Spec = match self.spec.get_untracked() {
            Some(spec) => {
                let update = UpdateSpec {
                    content,
                    name: Some(name),
                    message,
                    base_version: None,
                };
                api::call("PUT", &format!("/specs/{}", spec.id), api::json(&update)).await?
            }
            None => {
                let create = CreateSpec {
                    name,
                    content,
                    message,
                };
                api::call("POST", "/specs", api::json(&create)).await?
            }
        };
        self.spec.set(Some(saved.clone()));
        Ok(saved)
    }

    /// Reloads the snapshot list, then the features of up to [`INDEX_LIMIT`] of them for
    /// autocomplete and the builder's value pickers.
    pub async fn refresh_snapshots(self) -> api::Result<()> {
        let page: Page<SnapshotSummary> =
            api::call("GET", "/snapshots?limit=200", api::Body::None).await?;
        self.snapshots.set(page.items.clone());
        let mut index = SnapshotIndex::default();
        for s in page.items.iter().take(INDEX_LIMIT) {
            if let Ok(features) = self.snapshot_features(s.id).await {
                index.add(&features);
            }
        }
        self.index.set(index);
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
}

/// How many snapshots' features are loaded for suggestions.
pub const INDEX_LIMIT: usize = 50;
