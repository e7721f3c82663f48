//! Drafts: the editor's unsaved text, kept per spec in the browser's localStorage so that a
//! reload, a crash or closing the tab loses nothing, until the text is saved or the draft
//! discarded. Drafts belong to the token's name (who is logged in), and logging out removes
//! that user's drafts, so the next person at the browser never sees them.
//!
//! Budgets: a draft holds at most [`MAX_DRAFT_BYTES`] of text (a spec the server would take)
//! and a user at most [`MAX_DRAFTS`] drafts; past either, the draft is not kept and the app
//! says so.

use serde::{Deserialize, Serialize};

/// The largest draft kept: the server's limit for a spec.
pub const MAX_DRAFT_BYTES: usize = 1024 * 1024;
/// The most drafts kept per user. localStorage holds about 5 MB per site in Chromium and
/// Firefox; 20 specs of the usual few kilobytes use a small part of it.
pub const MAX_DRAFTS: usize = 20;

const PREFIX: &str = "nodefit.draft.";

/// Which editor text a draft is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A spec not saved yet.
    New,
    Spec(i64),
}

/// Unsaved text and what it started from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub text: String,
    /// The name the spec will be saved as.
    pub name: String,
    /// The stored version the text was edited from (none for a new spec).
    pub base_version: Option<i64>,
}

/// Why a draft could not be kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotKept {
    TooLarge,
    TooMany,
    /// The browser refused (storage full or disabled).
    Refused,
}

impl NotKept {
    pub fn message(&self) -> String {
        match self {
            NotKept::TooLarge => format!(
                "Unsaved changes are not kept in this browser: the text is over {}. Save it to keep it.",
                crate::size_text(MAX_DRAFT_BYTES as u64)
            ),
            NotKept::TooMany => format!(
                "Unsaved changes are not kept in this browser: {MAX_DRAFTS} specs already have unsaved changes. Save or discard some of them."
            ),
            NotKept::Refused => "Unsaved changes could not be kept: this browser's storage is full or disabled. Save to keep them.".into(),
        }
    }
}

/// The storage key of a user's draft. The user's name is percent-encoded so that no name can
/// reach into another's keys.
pub fn key(user: &str, slot: Slot) -> String {
    match slot {
        Slot::New => format!("{}new", user_prefix(user)),
        Slot::Spec(id) => format!("{}{id}", user_prefix(user)),
    }
}

fn user_prefix(user: &str) -> String {
    let mut out = String::from(PREFIX);
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push('.');
    out
}

/// The slot a key of `user` names, if it is one of theirs.
pub fn slot_of(user: &str, key: &str) -> Option<Slot> {
    match key.strip_prefix(&user_prefix(user))? {
        "new" => Some(Slot::New),
        id => id.parse().ok().map(Slot::Spec),
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn keys(storage: &web_sys::Storage) -> Vec<String> {
    let n = storage.length().unwrap_or(0);
    (0..n)
        .filter_map(|i| storage.key(i).ok().flatten())
        .collect()
}

/// The user's draft of `slot`.
pub fn load(user: &str, slot: Slot) -> Option<Draft> {
    let json = storage()?.get_item(&key(user, slot)).ok().flatten()?;
    serde_json::from_str(&json).ok()
}

/// The slots the user has drafts of.
pub fn slots(user: &str) -> Vec<Slot> {
    storage()
        .map(|s| keys(&s).iter().filter_map(|k| slot_of(user, k)).collect())
        .unwrap_or_default()
}

/// Keeps `draft` for `slot`, within the budgets.
pub fn store(user: &str, slot: Slot, draft: &Draft) -> Result<(), NotKept> {
    if draft.text.len() > MAX_DRAFT_BYTES {
        return Err(NotKept::TooLarge);
    }
    let storage = storage().ok_or(NotKept::Refused)?;
    let mine = slots(user);
    if !mine.contains(&slot) && mine.len() >= MAX_DRAFTS {
        return Err(NotKept::TooMany);
    }
    let json = serde_json::to_string(draft).map_err(|_| NotKept::Refused)?;
    storage
        .set_item(&key(user, slot), &json)
        .map_err(|_| NotKept::Refused)
}

/// Forgets the draft of `slot` (saved or discarded).
pub fn remove(user: &str, slot: Slot) {
    if let Some(s) = storage() {
        let _ = s.remove_item(&key(user, slot));
    }
}

/// Forgets every draft of `user` (logging out).
pub fn remove_all(user: &str) {
    if let Some(s) = storage() {
        for k in keys(&s) {
            if slot_of(user, &k).is_some() {
                let _ = s.remove_item(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_belong_to_one_user_and_slot() {
        assert_eq!(key("alice", Slot::New), "nodefit.draft.alice.new");
        assert_eq!(key("alice", Slot::Spec(12)), "nodefit.draft.alice.12");
        assert_eq!(
            slot_of("alice", "nodefit.draft.alice.12"),
            Some(Slot::Spec(12))
        );
        assert_eq!(slot_of("alice", "nodefit.draft.alice.new"), Some(Slot::New));
        // A name that looks like another's prefix does not reach their drafts.
        assert_eq!(key("a.b", Slot::New), "nodefit.draft.a%2Eb.new");
        assert_eq!(slot_of("a", "nodefit.draft.a%2Eb.new"), None);
        assert_eq!(slot_of("a", &key("a.b", Slot::New)), None);
        assert_eq!(slot_of("bob", "nodefit.draft.alice.12"), None);
        assert_eq!(slot_of("alice", "nodefit.token"), None);
    }
}
