//! `hidden-character`: invisible and bidirectional-control characters anywhere in the file,
//! comments included, since a comment is where "Trojan Source" hides the text that reorders a
//! line.

use super::Diagnostics;
use crate::source::Span;
use crate::text::{describe, is_hidden};

/// One diagnostic per run of hidden characters, so that a file full of them stays one line
/// each, not one per character.
pub(super) fn check(src: &str, out: &mut Diagnostics) {
    let mut chars = src.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        // A byte-order mark that starts the file is an encoding marker NFD skips too.
        if !is_hidden(c) || (start == 0 && c == '\u{FEFF}') {
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut count = 1;
        while let Some(&(at, next)) = chars.peek() {
            if !is_hidden(next) {
                break;
            }
            end = at + next.len_utf8();
            count += 1;
            chars.next();
        }
        let what = if count == 1 {
            format!("hidden character {}", describe(c))
        } else {
            format!("{count} hidden characters, the first {}", describe(c))
        };
        out.push(
            "hidden-character",
            Span::new(start, end),
            format!("{what}: the text reads differently from what NFD reads"),
            Some(
                "delete it; if the character is meant, write it as an escape (\"\\u202E\") in a \
                 double-quoted string so that readers see it"
                    .into(),
            ),
            None,
        );
    }
}
