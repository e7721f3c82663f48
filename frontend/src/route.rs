//! What the URL's fragment says: the tab, and the spec open in the editor, so that a reload, a
//! bookmark or a link shows the same thing. `#editor`, `#test/spec/12`, `#editor/spec/12@3`
//! (the version the editor's text started from), and share links of unsaved text,
//! `#editor/text/<base64url of the UTF-8 text>`, at most [`SHARE_MAX_BYTES`] of text.
//!
//! The fragment never reaches the server (browsers do not send it), so a shared text stays
//! between the people who pass the link around.

use crate::state::Tab;

/// The most text a share link carries: 16 KiB, a link of about 22,000 characters, which mail
/// and chat tools still pass on whole. Larger specs are shared by saving them and linking to
/// the spec.
pub const SHARE_MAX_BYTES: usize = 16 * 1024;

/// Where the app is, as the fragment says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub tab: Tab,
    pub open: Open,
}

/// What the editor holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Open {
    /// A spec not saved yet (or nothing said).
    New,
    /// A stored spec, from a version (`None`: the latest).
    Spec { id: i64, version: Option<i64> },
    /// Text from a share link.
    Text(String),
}

impl Route {
    /// Reads a fragment (with or without its `#`); anything unknown is the Editor tab with a
    /// new spec, so a damaged link still opens the app.
    pub fn parse(fragment: &str) -> Route {
        let fragment = fragment.trim_start_matches('#').trim_start_matches('/');
        let mut parts = fragment.splitn(3, '/');
        let tab = parts.next().and_then(Tab::from_slug);
        let open = match (parts.next(), parts.next()) {
            (Some("spec"), Some(rest)) => parse_spec(rest).unwrap_or(Open::New),
            (Some("text"), Some(encoded)) => decode_text(encoded).map_or(Open::New, Open::Text),
            _ => Open::New,
        };
        Route {
            tab: tab.unwrap_or(Tab::Editor),
            open,
        }
    }

    /// The fragment, with its `#`.
    pub fn to_fragment(&self) -> String {
        let tab = self.tab.slug();
        match &self.open {
            Open::New => format!("#{tab}"),
            Open::Spec { id, version: None } => format!("#{tab}/spec/{id}"),
            Open::Spec {
                id,
                version: Some(v),
            } => format!("#{tab}/spec/{id}@{v}"),
            Open::Text(text) => format!("#{tab}/text/{}", encode_text(text)),
        }
    }
}

fn parse_spec(rest: &str) -> Option<Open> {
    let (id, version) = match rest.split_once('@') {
        Some((id, v)) => (id, Some(v.parse::<i64>().ok().filter(|v| *v > 0)?)),
        None => (rest, None),
    };
    let id = id.parse::<i64>().ok().filter(|id| *id > 0)?;
    Some(Open::Spec { id, version })
}

/// Why a text cannot be shared as a link, said for people.
pub fn share_problem(text: &str) -> Option<String> {
    (text.len() > SHARE_MAX_BYTES).then(|| {
        format!(
            "The spec is {} and a share link holds at most {}: save it and share the link to the saved spec instead.",
            crate::size_text(text.len() as u64),
            crate::size_text(SHARE_MAX_BYTES as u64)
        )
    })
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// RFC 4648 base64url without padding: the characters a URL fragment keeps as they are.
pub fn encode_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    out
}

/// The text of a share link; `None` when it is not base64url of UTF-8 within the size limit.
pub fn decode_text(encoded: &str) -> Option<String> {
    if encoded.len() > SHARE_MAX_BYTES.div_ceil(3) * 4 || encoded.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(encoded.len() / 4 * 3 + 2);
    for chunk in encoded.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|a| a == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            bytes.push((n >> (16 - 8 * i)) as u8);
        }
    }
    if bytes.len() > SHARE_MAX_BYTES {
        return None;
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_read_back_as_written() {
        for route in [
            Route {
                tab: Tab::Editor,
                open: Open::New,
            },
            Route {
                tab: Tab::Test,
                open: Open::Spec {
                    id: 12,
                    version: None,
                },
            },
            Route {
                tab: Tab::Editor,
                open: Open::Spec {
                    id: 12,
                    version: Some(3),
                },
            },
            Route {
                tab: Tab::Editor,
                open: Open::Text("version: v1alpha1\n# ünïcode ✓\n".into()),
            },
        ] {
            assert_eq!(Route::parse(&route.to_fragment()), route);
        }
        assert_eq!(
            Route::parse("#editor/spec/12@3").open,
            Open::Spec {
                id: 12,
                version: Some(3)
            }
        );
        assert_eq!(Route::parse("#versions").tab, Tab::Versions);
        assert_eq!(Route::parse("#rules").tab, Tab::Rules);
    }

    #[test]
    fn damaged_fragments_open_a_new_spec_on_their_tab() {
        for bad in [
            "#editor/spec/x",
            "#editor/spec/1@0",
            "#fleet/spec/-4",
            "#editor/text/%%%",
        ] {
            assert_eq!(Route::parse(bad).open, Open::New, "{bad}");
        }
        assert_eq!(Route::parse("#nowhere").tab, Tab::Editor);
        assert_eq!(Route::parse("#fleet/spec/x").tab, Tab::Fleet);
        // Not UTF-8 (0xff), and one character too many for base64.
        assert_eq!(decode_text("_w"), None);
        assert_eq!(decode_text("abcde"), None);
    }

    #[test]
    fn base64url_matches_rfc_4648() {
        for (text, encoded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("\u{fffe}?>", "77--Pz4"),
        ] {
            assert_eq!(encode_text(text), encoded);
            assert_eq!(decode_text(encoded).as_deref(), Some(text));
        }
    }

    #[test]
    fn share_links_have_a_size_limit() {
        let at_limit = "#".repeat(SHARE_MAX_BYTES);
        assert_eq!(share_problem(&at_limit), None);
        assert_eq!(decode_text(&encode_text(&at_limit)), Some(at_limit.clone()));
        let over = format!("{at_limit}#");
        let problem = share_problem(&over).unwrap();
        assert!(problem.contains("at most 16 KiB"), "{problem}");
        assert_eq!(decode_text(&encode_text(&over)), None);
    }
}
