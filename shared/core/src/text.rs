//! Characters that change how text reads without being seen: the bidirectional controls of
//! "Trojan Source" (CVE-2021-42574), zero-width and other format characters, line and
//! paragraph separators, and the fillers that render as blank. A name or label holding one can
//! pass for another name; spec content holding one can read differently from what NFD does.

/// Whether `c` is invisible or reorders the text around it.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        // Soft hyphen, combining grapheme joiner, Arabic letter mark.
        '\u{00AD}' | '\u{034F}' | '\u{061C}'
        // Hangul fillers and Khmer inherent vowels: letters that render as nothing.
        | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{3164}' | '\u{FFA0}'
        // Mongolian vowel separator; zero-width space, non-joiner, joiner; LRM and RLM.
        | '\u{180E}' | '\u{200B}'..='\u{200F}'
        // Line and paragraph separators; the embeddings and overrides LRE, RLE, PDF, LRO, RLO.
        | '\u{2028}'..='\u{202E}'
        // Word joiner, invisible operators, the isolates LRI, RLI, FSI, PDI, and the deprecated
        // format characters after them.
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        // Variation selectors, zero-width no-break space (a byte-order mark inside the text),
        // interlinear annotation.
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        // Shorthand format controls, musical format characters, tag characters (which spell
        // out ASCII invisibly) and the supplementary variation selectors.
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}'
    )
}

/// `U+202E RIGHT-TO-LEFT OVERRIDE`-style name of a hidden character, for messages.
pub fn describe(c: char) -> String {
    let name = match c {
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => "WORD JOINER",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        _ => return format!("U+{:04X}", c as u32),
    };
    format!("U+{:04X} {name}", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trojan_source_characters_are_hidden_and_ordinary_text_is_not() {
        for c in [
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200B}',
            '\u{200F}',
            '\u{FEFF}',
            '\u{2028}',
            '\u{E0041}',
            '\u{3164}',
        ] {
            assert!(is_hidden(c), "U+{:04X}", c as u32);
        }
        for c in "pool=gpu-a100 Ünïcødé 東京 مرحبا \u{00A0}\t".chars() {
            assert!(!is_hidden(c), "U+{:04X}", c as u32);
        }
        assert_eq!(describe('\u{202E}'), "U+202E RIGHT-TO-LEFT OVERRIDE");
        assert_eq!(describe('\u{E0041}'), "U+E0041");
    }
}
