//! One rule for everything that destroys or replaces something: a dialog that says what will
//! happen, with Cancel first and the action named on its button. Snapshot delete, version
//! restore, detach, token revoke, discarding unsaved changes, replacing them, logging out with
//! drafts, saving with lint errors, saving before a publish: all go through [`AppState::confirm`].

use leptos::prelude::*;

use super::AppState;

/// A question before an action.
#[derive(Clone)]
pub struct Dialog {
    pub title: String,
    /// What will happen, in sentences.
    pub body: String,
    /// The action's button ("Delete snapshot node-1").
    pub action: String,
    /// Whether the action destroys something (its button is marked so).
    pub danger: bool,
    /// A text field to fill in first (a version's message), with its label.
    pub input: Option<(String, RwSignal<String>)>,
    pub on_confirm: Callback<()>,
}

/// A spec shown read-only (an old version, an attached artifact), with an optional action.
#[derive(Clone)]
pub struct Viewed {
    pub title: String,
    /// Where it comes from and what it is, for the line under the title.
    pub about: String,
    pub text: String,
    /// A button under it ("Restore this version") and what it does.
    pub action: Option<(String, Callback<()>)>,
}

impl AppState {
    /// Asks before `on_confirm` runs.
    pub fn confirm(
        &self,
        title: impl Into<String>,
        body: impl Into<String>,
        action: impl Into<String>,
        on_confirm: impl Fn() + Send + Sync + 'static,
    ) {
        self.dialog.set(Some(Dialog {
            title: title.into(),
            body: body.into(),
            action: action.into(),
            danger: true,
            input: None,
            on_confirm: Callback::new(move |()| on_confirm()),
        }));
    }

    /// Shows `text` read-only.
    pub fn view_text(&self, viewed: Viewed) {
        self.viewing.set(Some(viewed));
    }
}
