//! The editor's spec: opening, starting, saving and discarding, drafts kept on every edit, the
//! URL kept in step, and logging out. Nothing here writes to the server unless the user said
//! so (Save, or a dialog they confirmed), and nothing replaces unsaved text without asking.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nodefit_api::specs::{CreateSpec, Spec, UpdateSpec, Version};

use super::{AppState, Tab, TEMPLATE};
use crate::api;
use crate::drafts::{self, Draft, Slot};
use crate::problem::Problem;
use crate::route::{Open, Route};

impl AppState {
    /// Which draft the editor's text is.
    pub fn slot(&self) -> Slot {
        self.spec
            .with_untracked(|s| s.as_ref().map_or(Slot::New, |s| Slot::Spec(s.id)))
    }

    /// Puts `text` in the editor (one undoable change), or, before the editor is mounted,
    /// where it will start from.
    fn put_text(&self, text: &str) {
        if self.editor.with_value(Option::is_some) {
            self.with_editor(|e| e.set_text(text));
        } else {
            self.text.set(text.to_string());
            self.keep_draft();
            self.run_live();
        }
    }

    /// Called on every edit: the text and its problems, a new revision, the draft kept, the
    /// results brought up to date.
    pub fn edited(
        &self,
        text: String,
        problems: Vec<Problem>,
        spec: Option<nodefit_core::spec::Spec>,
    ) {
        self.text.set(text);
        self.problems.set(problems);
        self.revision.update(|r| *r += 1);
        let revision = self.revision.get_untracked();
        self.decoded
            .set_value(spec.map(|spec| (revision, std::rc::Rc::new(spec))));
        // After CodeMirror has its diagnostics (this runs inside its change hook), and still
        // before the browser paints: lint is never waiting for the rest. The draft is written
        // in the task after, once the results are on screen: it is for a reload later, and
        // writing it (and listing the drafts again) cost each keystroke's results milliseconds.
        let app = *self;
        queue_microtask(move || app.run_live());
        set_timeout(move || app.keep_draft(), std::time::Duration::ZERO);
    }

    /// Keeps the text as the current slot's draft, or forgets the draft when the text is the
    /// saved one.
    fn keep_draft(&self) {
        let Some(user) = self.user() else { return };
        let slot = self.slot();
        if !self.has_unsaved_work() {
            drafts::remove(&user, slot);
        } else {
            let draft = Draft {
                text: self.text.get_untracked(),
                name: self.spec_name.get_untracked(),
                base_version: self.spec.with_untracked(|s| s.as_ref().map(|s| s.version)),
            };
            if let Err(e) = drafts::store(&user, slot, &draft) {
                self.error(e.message());
            }
        }
        let slots = drafts::slots(&user);
        if self.drafts.with_untracked(|d| *d != slots) {
            self.drafts.set(slots);
        }
    }

    /// Whether `text` differs from the stored text the editor started from.
    pub fn dirty_untracked_for(&self, text: &str) -> bool {
        self.spec.with_untracked(|s| {
            s.as_ref()
                .is_none_or(|s| s.content.as_deref() != Some(text))
        })
    }

    /// Whether the current text is the user's, unsaved: a new spec other than the template,
    /// or changes to a stored one.
    pub fn has_unsaved_work(&self) -> bool {
        let text = self.text.get_untracked();
        match self.spec.get_untracked() {
            Some(s) => s.content.as_deref() != Some(&text),
            None => text != TEMPLATE,
        }
    }

    /// Whether leaving the page would lose text: unsaved, and not kept as a draft (over the
    /// draft budgets, or storage refused).
    pub fn unsaved_and_not_kept(&self) -> bool {
        if !self.has_unsaved_work() {
            return false;
        }
        let kept = self.user().and_then(|u| drafts::load(&u, self.slot()));
        kept.is_none_or(|d| d.text != self.text.get_untracked())
    }

    /// The URL for the tab and the open spec; replaces the history entry (Back still leaves
    /// the page as before), so reloading shows the same spec.
    pub fn sync_url(&self) {
        let open = match self.spec.get_untracked() {
            Some(s) => Open::Spec {
                id: s.id,
                version: Some(s.version),
            },
            None => Open::New,
        };
        let fragment = Route {
            tab: self.tab.get_untracked(),
            open,
        }
        .to_fragment();
        if let Some(w) = web_sys::window() {
            if let Ok(history) = w.history() {
                let _ = history.replace_state_with_url(
                    &wasm_bindgen::JsValue::NULL,
                    "",
                    Some(&fragment),
                );
            }
        }
    }

    /// Opens stored spec `id` from `version` (the latest when `None`), or the user's draft of
    /// it. The text it replaces is kept as its own draft.
    pub async fn open_spec(self, id: i64, version: Option<i64>) -> api::Result<()> {
        let latest: Spec = api::call("GET", &format!("/specs/{id}"), api::Body::None).await?;
        let draft = self.user().and_then(|u| drafts::load(&u, Slot::Spec(id)));
        let base = draft
            .as_ref()
            .and_then(|d| d.base_version)
            .or(version)
            .unwrap_or(latest.version);
        let mut spec = latest.clone();
        if base != latest.version {
            let old: Version = api::call(
                "GET",
                &format!("/specs/{id}/versions/{base}"),
                api::Body::None,
            )
            .await?;
            spec.version = old.version;
            spec.content = old.content;
        }
        let content = spec.content.clone().unwrap_or_default();
        self.spec.set(Some(spec));
        self.spec_name.set(
            draft
                .as_ref()
                .map_or_else(|| latest.name.clone(), |d| d.name.clone()),
        );
        match &draft {
            Some(d) => {
                self.put_text(&d.text);
                self.info(format!(
                    "Opened {}: your unsaved changes (from version {base}) are back. Save them, or Discard changes.",
                    latest.name
                ));
            }
            None => {
                self.put_text(&content);
                self.info(format!("Opened {} (version {base}).", latest.name));
            }
        }
        if base != latest.version {
            self.error(format!(
                "{} has newer versions: this text started from version {base}, the latest is {}. Saving asks before it replaces theirs; the Versions tab shows what changed.",
                latest.name, latest.version
            ));
        }
        self.sync_url();
        Ok(())
    }

    /// Puts text that is not a stored spec (an example, a file, a share link, an image's
    /// spec) in the editor as a new spec called `name`, asking first when it would replace a
    /// new spec's unsaved text.
    pub fn open_text(&self, name: String, text: String, from: String) {
        let app = *self;
        let open = move || {
            app.spec.set(None);
            app.spec_name.set(name.clone());
            app.put_text(&text);
            app.sync_url();
            app.info(format!(
                "{from} is in the editor as a new spec, not saved. Save it to keep it on the server."
            ));
        };
        let user = self.user();
        let new_draft = user.as_deref().and_then(|u| drafts::load(u, Slot::New));
        let current_new_unsaved = self.slot() == Slot::New && self.has_unsaved_work();
        if new_draft.is_some() || current_new_unsaved {
            self.confirm(
                "Replace the unsaved new spec?",
                "The editor has a new spec that was never saved. Opening this replaces its text (Ctrl-Z in the editor brings it back until you reload).",
                "Replace it",
                open,
            );
        } else {
            open();
        }
    }

    /// Starts a new spec from the template.
    pub fn new_spec(&self) {
        self.open_text(
            "new-spec".to_string(),
            TEMPLATE.to_string(),
            "The template".to_string(),
        );
    }

    /// Forgets the unsaved changes, after asking: back to the saved text (or the template).
    pub fn discard(&self) {
        let app = *self;
        let saved = self.spec.with_untracked(|s| {
            s.as_ref()
                .map(|s| (s.name.clone(), s.content.clone().unwrap_or_default()))
        });
        let what = match &saved {
            Some((name, _)) => format!("Your unsaved changes to {name} are discarded: the editor goes back to its saved text."),
            None => "The new spec's text is discarded: the editor goes back to the template.".into(),
        };
        self.confirm("Discard unsaved changes?", what, "Discard changes", move || {
            let (name, text) = saved
                .clone()
                .unwrap_or_else(|| ("new-spec".into(), TEMPLATE.into()));
            if let Some(user) = app.user() {
                drafts::remove(&user, app.slot());
            }
            app.spec_name.set(name);
            app.put_text(&text);
            app.info("Unsaved changes discarded (Ctrl-Z in the editor brings them back until you reload).");
        });
    }

    /// Saves the editor's text: a new spec, or a new version of the open one from the version
    /// it started from (a 409 when someone saved meanwhile; `force` saves over it).
    pub async fn save(self, message: &str, force: bool) -> api::Result<Spec> {
        let content = self.editor_text();
        let name = self.spec_name.get_untracked();
        let message = (!message.is_empty()).then(|| message.to_string());
        let slot = self.slot();
        let saved: Spec = match self.spec.get_untracked() {
            Some(spec) => {
                let update = UpdateSpec {
                    content,
                    name: Some(name),
                    message,
                    base_version: (!force).then_some(spec.version),
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
        if let Some(user) = self.user() {
            drafts::remove(&user, slot);
            self.drafts.set(drafts::slots(&user));
        }
        self.spec.set(Some(saved.clone()));
        self.sync_url();
        let _ = self.refresh_specs().await;
        Ok(saved)
    }

    /// Saves after the checks people expect: a name, and a question first when lint finds
    /// errors (NFD would refuse the spec). `done` gets the saved spec.
    pub fn request_save(
        &self,
        message: String,
        done: impl Fn(Spec) + Send + Sync + 'static + Clone,
    ) {
        let app = *self;
        if self.spec_name.get_untracked().trim().is_empty() {
            self.error("Give the spec a name before saving it.");
            return;
        }
        let errors = self
            .problems
            .with_untracked(|ps| ps.iter().filter(|p| p.severity == "error").count());
        let go = move |force: bool| {
            let (message, done) = (message.clone(), done.clone());
            spawn_local(async move {
                match app.save(&message, force).await {
                    Ok(spec) => {
                        app.info(format!("Saved {} as version {}.", spec.name, spec.version));
                        done(spec);
                    }
                    Err(e) if e.code == "conflict" && e.details.is_some() => {
                        let done = done.clone();
                        let message = message.clone();
                        app.confirm(
                            "Someone saved a newer version",
                            format!("{} Saving anyway makes your text the newest version; theirs stays in the history (Versions tab).", e.message),
                            "Save anyway",
                            move || {
                                let (message, done) = (message.clone(), done.clone());
                                spawn_local(async move {
                                    match app.save(&message, true).await {
                                        Ok(spec) => {
                                            app.info(format!("Saved {} as version {}.", spec.name, spec.version));
                                            done(spec);
                                        }
                                        Err(e) => app.error(format!("Not saved. {e}")),
                                    }
                                });
                            },
                        );
                    }
                    Err(e) => app.error(format!("Not saved. {e}")),
                }
            });
        };
        if errors > 0 {
            self.confirm(
                "Save a spec with lint errors?",
                format!("The spec has {errors} lint error(s): NFD would refuse it, and it cannot be published until they are fixed. Save it anyway, as work in progress?"),
                "Save anyway",
                move || go(false),
            );
        } else {
            go(false);
        }
    }

    /// Logs out: asks first when there is unsaved work, then forgets the token and this
    /// user's drafts and starts the page afresh, so nothing of this session stays in memory.
    pub fn log_out(&self) {
        let app = *self;
        let leave = move || {
            if let Some(user) = app.user() {
                drafts::remove_all(&user);
            }
            api::store_token(None);
            if let Some(w) = web_sys::window() {
                let _ = w.location().replace("/#editor");
                let _ = w.location().reload();
            }
        };
        let kept = self.user().map(|u| drafts::slots(&u).len()).unwrap_or(0);
        if kept > 0 || self.has_unsaved_work() {
            self.confirm(
                "Log out and discard unsaved changes?",
                format!("Logging out removes your unsaved changes from this browser ({} spec(s) with unsaved changes), so the next person here cannot see them. Save what you want to keep first.", kept.max(1)),
                "Log out and discard",
                leave,
            );
        } else {
            leave();
        }
    }

    /// After login: opens what the URL names, or the new spec's draft.
    pub async fn restore(self) {
        let route = Route::parse(
            &web_sys::window()
                .and_then(|w| w.location().hash().ok())
                .unwrap_or_default(),
        );
        self.tab.set(route.tab);
        if let Some(user) = self.user() {
            self.drafts.set(drafts::slots(&user));
        }
        match route.open {
            Open::Spec { id, version } => {
                if let Err(e) = self.open_spec(id, version).await {
                    self.error(format!("The spec in the link could not be opened. {e}"));
                }
            }
            Open::Text(text) => {
                self.open_text("shared-spec".into(), text, "The shared spec".into());
            }
            Open::New => {
                if let Some(d) = self.user().and_then(|u| drafts::load(&u, Slot::New)) {
                    self.spec_name.set(d.name);
                    self.put_text(&d.text);
                    self.info("Your unsaved new spec is back.");
                }
                self.sync_url();
            }
        }
    }

    /// Selects a tab (and its URL).
    pub fn go(&self, tab: Tab) {
        if self.tab.get_untracked() != tab {
            // A message about the page being left would be read as about the new one.
            self.info("");
        }
        self.tab.set(tab);
        self.sync_url();
        // The Test tab shows the full report, which is computed only while it is shown.
        if tab == Tab::Test {
            self.run_live();
        }
    }
}
