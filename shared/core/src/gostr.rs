//! Small pieces of Go's standard library whose exact behaviour NFD's answers depend on:
//! `strconv.Atoi`, `strings.ToLower`, `strconv.Quote`, and `encoding/json`'s key folding.

/// `strconv.Atoi`: an optional sign, then ASCII digits only, within int64.
pub fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `strings.ToLower`: maps every rune on its own (no final-sigma context, one rune per rune).
pub fn to_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .map(|c| match c {
            // Go maps U+0130 to a plain 'i'; Rust would add a combining dot.
            '\u{130}' => 'i',
            c => {
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(l), None) => l,
                    _ => c,
                }
            }
        })
        .collect()
}

/// `encoding/json`'s case-insensitive field-name match: ASCII case folding plus the two
/// non-ASCII runes that fold to ASCII letters (KELVIN SIGN and LONG S).
pub fn json_key_matches(key: &str, field: &str) -> bool {
    let mut k = key.chars().map(fold_rune);
    let mut f = field.chars().map(fold_rune);
    loop {
        match (k.next(), f.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

fn fold_rune(c: char) -> char {
    match c {
        '\u{212A}' => 'k',
        '\u{17F}' => 's',
        c => c.to_ascii_lowercase(),
    }
}

/// `strconv.Quote`, as Go's `%q` prints strings in NFD's expression text.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() || is_unprintable_format(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_unprintable_format(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_matches_go() {
        assert_eq!(atoi("04"), Some(4));
        assert_eq!(atoi("+5"), Some(5));
        assert_eq!(atoi("-12"), Some(-12));
        assert_eq!(atoi("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "+",
            " 5",
            "5 ",
            "0x10",
            "1.0",
            "1_000",
            "9223372036854775808",
            "++1",
        ] {
            assert_eq!(atoi(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn quote_matches_go() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote("é"), "\"é\"");
        assert_eq!(quote("\u{1}"), r#""\x01""#);
    }

    #[test]
    fn json_keys_fold_like_go() {
        assert!(json_key_matches("MatchFeatures", "matchFeatures"));
        assert!(json_key_matches("ſpec", "spec"));
        assert!(!json_key_matches("matchFeature", "matchFeatures"));
    }
}
