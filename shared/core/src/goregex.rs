//! Go RE2 patterns (as NFD's `InRegexp` compiles them with Go's `regexp`) run on Rust's
//! `regex` crate.
//!
//! The two dialects share their engine design but not all their syntax. This module reads a
//! pattern with Go's grammar (`regexp/syntax`, Perl flags) and writes the Rust pattern that
//! means the same, refusing what Go refuses. No crate translates between them, hence the
//! hand-written reader. Where they differ:
//! - `\d \w \s \b \B` are ASCII in Go, Unicode in Rust; Go's `\s` has no vertical tab.
//! - `\Q...\E` quotes literal text in Go only; any escaped ASCII punctuation is a literal in Go
//!   (`\<` is `<`, a word boundary in Rust); octal escapes (`\012`) exist in Go only.
//! - In a class, `-` is only a range (`&&`, `--`, `~~` are set operations in Rust), and a range
//!   must not run backwards.
//! - Go refuses repeat counts above 1000, stacked repetitions (`a**`, `a{2}+`) and repetitions
//!   of nothing; a `{` that does not start a valid count (`{01}`, `{a}`) is a literal.
//! - A repetition after a flag group (`a(?i)*`) applies to what precedes the group in Go.
//! - Rust-only syntax is refused: `(?x)`, `(?R)`, `\b{...}`, `\u`, `\U`, `\e`, `\z`-like escapes
//!   Go does not know, backreferences, look-around.
//! - `\p{name}` knows general categories (with their long names), scripts, `Any`, `Assigned`
//!   and `ASCII` in Go, compared loosely since Go 1.25 (NFD's toolchain) and from Unicode 15.0's
//!   tables; Rust also knows binary properties (`\p{Emoji}`), `sc=` forms, script
//!   abbreviations (`\p{Latn}`) and Unicode 16 scripts, which Go refuses.
//!
//! `shared/core/tests/differential.rs` compares compile results and matches with Go's own `regexp`.

use std::fmt;

/// The compiled form. `regex`'s own engine, used directly because only it tells how much
/// memory a compiled pattern holds, which the per-spec budget needs.
pub use regex_automata::meta::Regex;

use crate::budget::{self, Limit};

/// Go's largest repeat count.
const MAX_REPEAT: u32 = 1000;

/// Why a pattern has no compiled form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    pub message: String,
    /// Set when Go compiles the pattern but it goes over one of nodefit's budgets.
    pub budget: Option<&'static Limit>,
}

impl PatternError {
    fn invalid(message: impl Into<String>) -> PatternError {
        PatternError {
            message: message.into(),
            budget: None,
        }
    }

    pub fn over(limit: &'static Limit) -> PatternError {
        PatternError {
            message: format!(
                "{} (Go compiles it; nodefit refuses patterns this large, see docs/nfd-compatibility.md)",
                limit.exceeded()
            ),
            budget: Some(limit),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Compiles a Go RE2 pattern; the error says why Go would refuse it, or which budget it goes
/// over ([`budget::REGEX_SOURCE`], [`budget::REGEX_PATTERN`]: Go's own limits are much higher
/// because its compiled form is smaller, but a pattern such as `[\pL]{1000}` costs tens of
/// megabytes here).
pub fn compile(pattern: &str) -> Result<Regex, PatternError> {
    if pattern.len() > budget::REGEX_SOURCE.value {
        return Err(PatternError::over(&budget::REGEX_SOURCE));
    }
    let translated = translate(pattern).map_err(PatternError::invalid)?;
    // The `regex` crate's defaults (leftmost-first, empty matches only at UTF-8 boundaries),
    // with the automaton bounded by the budget instead of its 10 MiB.
    let config = Regex::config()
        .match_kind(regex_automata::MatchKind::LeftmostFirst)
        .utf8_empty(true)
        .nfa_size_limit(Some(budget::REGEX_PATTERN.value));
    Regex::builder()
        .configure(config)
        .build(&translated)
        .map_err(|e| match (e.size_limit(), e.syntax_error()) {
            (Some(_), _) => PatternError::over(&budget::REGEX_PATTERN),
            (None, Some(syntax)) => {
                PatternError::invalid(syntax.to_string().lines().last().unwrap_or_default().trim())
            }
            (None, None) => PatternError::invalid(e.to_string()),
        })
}

/// Where a Go pattern means something else under most other engines' defaults; lint notes these.
pub fn dialect_notes(pattern: &str) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if ["\\d", "\\w", "\\s", "\\b", "\\D", "\\W", "\\S", "\\B"]
        .iter()
        .any(|p| pattern.contains(p))
    {
        notes.push("`\\d`, `\\w`, `\\s` and `\\b` are ASCII-only in Go (NFD), Unicode-aware in many other engines");
    }
    notes
}

/// What the last token was, for Go's rules on repetitions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Start of the pattern, of a group, or after `|`: nothing to repeat.
    Nothing,
    Operand,
    Repetition,
}

struct Translator {
    chars: Vec<char>,
    i: usize,
    out: String,
    last: Last,
    /// Flag groups (`(?i)`) read but not yet written: a repetition right after them applies to
    /// the operand before them, as in Go.
    pending_flags: String,
}

fn translate(pattern: &str) -> Result<String, String> {
    let mut t = Translator {
        chars: pattern.chars().collect(),
        i: 0,
        out: String::with_capacity(pattern.len() + 16),
        last: Last::Nothing,
        pending_flags: String::new(),
    };
    while t.i < t.chars.len() {
        t.token()?;
    }
    t.flush_flags();
    Ok(t.out)
}

fn literal(c: char) -> String {
    regex_syntax::escape(c.encode_utf8(&mut [0; 4]))
}

/// Go's ASCII Perl classes, as Rust class bodies.
fn perl_class(c: char) -> Option<(&'static str, bool)> {
    Some(match c {
        'd' => ("0-9", false),
        'D' => ("0-9", true),
        's' => ("\\t\\n\\f\\r ", false),
        'S' => ("\\t\\n\\f\\r ", true),
        'w' => ("0-9A-Za-z_", false),
        'W' => ("0-9A-Za-z_", true),
        _ => return None,
    })
}

const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's `unicode.Categories` keys (Go 1.25, as NFD is built).
const GO_CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Cn", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
    "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm",
    "So", "Z", "Zl", "Zp", "Zs",
];

/// Go's `unicode.CategoryAliases` (Unicode's long names and the POSIX-style ones).
const GO_CATEGORY_ALIASES: &[(&str, &str)] = &[
    ("Other", "C"),
    ("Control", "Cc"),
    ("cntrl", "Cc"),
    ("Format", "Cf"),
    ("Unassigned", "Cn"),
    ("Private_Use", "Co"),
    ("Surrogate", "Cs"),
    ("Letter", "L"),
    ("Cased_Letter", "LC"),
    ("Lowercase_Letter", "Ll"),
    ("Modifier_Letter", "Lm"),
    ("Other_Letter", "Lo"),
    ("Titlecase_Letter", "Lt"),
    ("Uppercase_Letter", "Lu"),
    ("Mark", "M"),
    ("Combining_Mark", "M"),
    ("Spacing_Mark", "Mc"),
    ("Enclosing_Mark", "Me"),
    ("Nonspacing_Mark", "Mn"),
    ("Number", "N"),
    ("Decimal_Number", "Nd"),
    ("digit", "Nd"),
    ("Letter_Number", "Nl"),
    ("Other_Number", "No"),
    ("Punctuation", "P"),
    ("punct", "P"),
    ("Connector_Punctuation", "Pc"),
    ("Dash_Punctuation", "Pd"),
    ("Close_Punctuation", "Pe"),
    ("Final_Punctuation", "Pf"),
    ("Initial_Punctuation", "Pi"),
    ("Other_Punctuation", "Po"),
    ("Open_Punctuation", "Ps"),
    ("Symbol", "S"),
    ("Currency_Symbol", "Sc"),
    ("Modifier_Symbol", "Sk"),
    ("Math_Symbol", "Sm"),
    ("Other_Symbol", "So"),
    ("Separator", "Z"),
    ("Line_Separator", "Zl"),
    ("Paragraph_Separator", "Zp"),
    ("Space_Separator", "Zs"),
];

/// Go's `unicode.Scripts` keys: Unicode 15.0, Go's tables since 1.21.
const GO_SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// Go's `regexp/syntax.canonicalName`: first ASCII letter upper case, the other ASCII letters
/// lower case, `_`, `-` and spaces dropped (Go 1.25 made `\p` names loose this way).
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().filter(|c| !matches!(c, '_' | '-' | ' ')) {
        if out.is_empty() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Go's `regexp/syntax.unicodeTable`: the table a `\p` name stands for, and whether the class is
/// that table's complement (`Assigned` is "not unassigned").
fn unicode_table(name: &str) -> Option<(&'static str, bool)> {
    let wanted = canonical_name(name);
    match wanted.as_str() {
        "Any" => return Some(("Any", false)),
        "Assigned" => return Some(("Cn", true)),
        "Ascii" => return Some(("ASCII", false)),
        "Lc" => return Some(("LC", false)),
        _ => {}
    }
    let exact = |names: &[&'static str]| names.iter().copied().find(|n| *n == wanted);
    // Scripts are looked up by the canonical name itself, so Go 1.25 and 1.26 refuse the ones
    // with an underscore or inner capital (`\p{Old_Italic}`, `\p{SignWriting}`); Go 1.27 fixed
    // that, NFD is not built with it yet.
    exact(GO_CATEGORIES)
        .or_else(|| exact(GO_SCRIPTS))
        .or_else(|| {
            GO_CATEGORY_ALIASES
                .iter()
                .find(|(alias, _)| canonical_name(alias) == wanted)
                .map(|(_, category)| *category)
        })
        .map(|table| (table, false))
}

/// Go reads flags in order (`(?i-i)` ends with `i` off, `(?ii)` is `i`); Rust refuses repeated
/// flags, so write each once with its final state.
fn canonical_flags(body: &str) -> String {
    let (mut on, mut off) = (String::new(), String::new());
    let mut negated = false;
    for c in body.chars() {
        if c == '-' {
            negated = true;
            continue;
        }
        on.retain(|f| f != c);
        off.retain(|f| f != c);
        if negated {
            off.push(c)
        } else {
            on.push(c)
        }
    }
    if off.is_empty() {
        on
    } else {
        format!("{on}-{off}")
    }
}

impl Translator {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn rest(&self) -> String {
        self.chars[self.i..].iter().collect()
    }

    fn flush_flags(&mut self) {
        let flags = std::mem::take(&mut self.pending_flags);
        self.out.push_str(&flags);
    }

    fn operand(&mut self, text: &str) {
        self.flush_flags();
        self.out.push_str(text);
        self.last = Last::Operand;
    }

    fn token(&mut self) -> Result<(), String> {
        let c = self.chars[self.i];
        match c {
            '\\' => self.escape(),
            '[' => {
                let class = self.class()?;
                self.operand(&class);
                Ok(())
            }
            '(' => self.group(),
            ')' => {
                self.i += 1;
                self.operand(")");
                Ok(())
            }
            '|' => {
                self.i += 1;
                self.flush_flags();
                self.out.push('|');
                self.last = Last::Nothing;
                Ok(())
            }
            '*' | '+' | '?' => {
                self.i += 1;
                self.repetition(c.to_string(), c.to_string())
            }
            '{' => match self.repeat_count() {
                Some((text, len)) => {
                    self.i += len;
                    self.repetition(text.clone(), text)
                }
                None => {
                    self.i += 1;
                    self.operand("\\{");
                    Ok(())
                }
            },
            '.' | '^' | '$' => {
                self.i += 1;
                self.operand(&c.to_string());
                Ok(())
            }
            c => {
                self.i += 1;
                self.operand(&literal(c));
                Ok(())
            }
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` with Go's number rules (digits, no leading zero): the text and
    /// its length in characters; `None` when `{` is a literal. Sizes are checked afterwards, as
    /// Go parses first and then refuses counts above 1000.
    fn repeat_count(&self) -> Option<(String, usize)> {
        let rest = self.rest();
        let end = rest.find('}')?;
        let body = &rest[1..end];
        let number = |s: &str| {
            !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && !(s.len() > 1 && s.starts_with('0'))
        };
        let valid = match body.split_once(',') {
            None => number(body),
            Some((a, "")) => number(a),
            Some((a, b)) => number(a) && number(b),
        };
        valid.then(|| (rest[..=end].to_string(), rest[..=end].chars().count()))
    }

    fn repetition(&mut self, op: String, shown: String) -> Result<(), String> {
        if op.starts_with('{') {
            let counts: Vec<u32> = op
                .trim_matches(['{', '}'])
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap_or(u32::MAX))
                .collect();
            if counts.iter().any(|&n| n > MAX_REPEAT)
                || (counts.len() == 2 && counts[0] > counts[1])
            {
                return Err(format!("invalid repeat count: `{shown}`"));
            }
        }
        match self.last {
            Last::Nothing => {
                return Err(format!(
                    "missing argument to repetition operator: `{shown}`"
                ))
            }
            Last::Repetition => {
                return Err(format!("invalid nested repetition operator: `{shown}`"))
            }
            Last::Operand => {}
        }
        // Before any pending flag group: Go repeats the operand that precedes it.
        self.out.push_str(&op);
        if self.peek(0) == Some('?') {
            self.i += 1;
            self.out.push('?');
        }
        self.last = Last::Repetition;
        Ok(())
    }

    fn group(&mut self) -> Result<(), String> {
        if self.peek(1) != Some('?') {
            self.flush_flags();
            self.i += 1;
            self.out.push('(');
            self.last = Last::Nothing;
            return Ok(());
        }
        let rest = self.rest();
        // Named groups: `(?P<name>` and, since Go 1.22, `(?<name>`.
        for prefix in ["(?P<", "(?<"] {
            if let Some(after) = rest.strip_prefix(prefix) {
                let Some(end) = after.find('>') else {
                    return Err(format!("invalid named capture: `{rest}`"));
                };
                let name = &after[..end];
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!(
                        "invalid named capture: `{}`",
                        &rest[..prefix.len() + end + 1]
                    ));
                }
                // The name only labels the capture, which NFD never reads; Go accepts names
                // Rust refuses (duplicates, a leading digit), so the group goes unnamed.
                self.flush_flags();
                self.out.push('(');
                self.i += prefix.chars().count() + name.chars().count() + 1;
                self.last = Last::Nothing;
                return Ok(());
            }
        }
        // Flags: `(?flags)` or `(?flags:...)`, flags from `imsU`, at most one `-`, not last.
        let body: String = rest[2..]
            .chars()
            .take_while(|c| *c != ')' && *c != ':')
            .collect();
        let terminator = rest[2..].chars().nth(body.chars().count());
        let valid = !body.is_empty() || terminator == Some(':');
        let flags_ok = body
            .chars()
            .all(|c| matches!(c, 'i' | 'm' | 's' | 'U' | '-'))
            && body.matches('-').count() <= 1
            && !body.ends_with('-');
        if !valid || !flags_ok || terminator.is_none() {
            let shown: String = rest.chars().take(body.chars().count() + 3).collect();
            return Err(format!("invalid or unsupported Perl syntax: `{shown}`"));
        }
        self.i += 2 + body.chars().count() + 1;
        let flags = canonical_flags(&body);
        if terminator == Some(')') {
            // A flag group is no operand: a repetition after it applies to what came before,
            // even to a repetition (Go's `a{2}(?i){3}` is `(?:a{2}){3}`).
            self.pending_flags.push_str(&format!("(?{flags})"));
            if self.last == Last::Repetition {
                self.last = Last::Operand;
            }
        } else {
            self.flush_flags();
            self.out.push_str(&format!("(?{flags}:"));
            self.last = Last::Nothing;
        }
        Ok(())
    }

    fn escape(&mut self) -> Result<(), String> {
        let Some(next) = self.peek(1) else {
            return Err("trailing backslash at end of expression".into());
        };
        match next {
            'Q' => {
                self.i += 2;
                let mut text = String::new();
                while self.i < self.chars.len() {
                    if self.chars[self.i] == '\\' && self.peek(1) == Some('E') {
                        self.i += 2;
                        break;
                    }
                    text.push(self.chars[self.i]);
                    self.i += 1;
                }
                // Each quoted character is its own operand, as in Go.
                let mut chars = text.chars();
                if let Some(first) = chars.next() {
                    let mut all = literal(first);
                    for c in chars {
                        all.push_str(&literal(c));
                    }
                    self.operand(&all);
                }
                Ok(())
            }
            'b' | 'B' => {
                self.i += 2;
                self.operand(if next == 'b' {
                    "(?-u:\\b)"
                } else {
                    "(?-u:\\B)"
                });
                Ok(())
            }
            'A' | 'z' => {
                self.i += 2;
                self.operand(&format!("\\{next}"));
                Ok(())
            }
            c if perl_class(c).is_some() => {
                self.i += 2;
                let (body, negated) = perl_class(c).unwrap_or_default();
                self.operand(&format!("[{}{body}]", if negated { "^" } else { "" }));
                Ok(())
            }
            'p' | 'P' => {
                let class = self.unicode_class()?;
                self.operand(&class);
                Ok(())
            }
            _ => {
                let c = self.class_char()?;
                self.operand(&literal(c));
                Ok(())
            }
        }
    }

    /// `\pL`, `\p{Greek}`, `\P{...}`, `\p{^Greek}`, resolved by Go's name lookup and written
    /// with the exact table name, because Rust's lookup accepts names Go refuses (`\p{Emoji}`,
    /// `\p{sc=Greek}`).
    fn unicode_class(&mut self) -> Result<String, String> {
        let start = self.i;
        let mut negated = self.chars[self.i + 1] == 'P';
        self.i += 2;
        let name: String = match self.peek(0) {
            Some('{') => {
                let rest = self.rest();
                let Some(end) = rest.find('}') else {
                    return Err(format!("invalid character class range: `\\{rest}`"));
                };
                self.i += rest[..=end].chars().count();
                rest[1..end].to_string()
            }
            Some(c) => {
                self.i += 1;
                c.to_string()
            }
            None => return Err("invalid escape sequence: `\\p`".into()),
        };
        let written: String = self.chars[start..self.i].iter().collect();
        let name = match name.strip_prefix('^') {
            Some(inner) => {
                negated = !negated;
                inner
            }
            None => &name,
        };
        let (table, inverted) = unicode_table(name)
            .ok_or_else(|| format!("invalid character class range: `{written}`"))?;
        let negated = negated != inverted;
        // Surrogates never occur in text, and Rust refuses a class of nothing but them.
        if table == "Cs" {
            return Ok(if negated { r"\p{Any}" } else { r"[^\p{Any}]" }.to_string());
        }
        let letter = if negated { 'P' } else { 'p' };
        Ok(format!("\\{letter}{{{table}}}"))
    }

    /// One character of a literal or a class: a plain character or an escape that stands for
    /// one (punctuation, `\a\f\t\n\r\v`, `\x..`, octal).
    fn class_char(&mut self) -> Result<char, String> {
        let c = self.chars[self.i];
        if c != '\\' {
            self.i += 1;
            return Ok(c);
        }
        let Some(next) = self.peek(1) else {
            return Err("trailing backslash at end of expression".into());
        };
        self.i += 2;
        let simple = match next {
            'a' => Some('\u{7}'),
            'f' => Some('\u{c}'),
            't' => Some('\t'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            'v' => Some('\u{b}'),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Some(c),
            _ => None,
        };
        if let Some(c) = simple {
            return Ok(c);
        }
        match next {
            'x' => self.hex_escape(),
            '0'..='7' => {
                // A single non-zero digit is a backreference, which Go does not support.
                let octal_follows = self.peek(0).is_some_and(|d| ('0'..='7').contains(&d));
                if next != '0' && !octal_follows {
                    return Err(format!("invalid escape sequence: `\\{next}`"));
                }
                let mut value = next.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek(0).and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            self.i += 1;
                        }
                        None => break,
                    }
                }
                char::from_u32(value).ok_or_else(|| format!("invalid escape sequence: `\\{next}`"))
            }
            _ => Err(format!("invalid escape sequence: `\\{next}`")),
        }
    }

    /// After `\x`: `\xHH` or `\x{H...}`.
    fn hex_escape(&mut self) -> Result<char, String> {
        let bad = || "invalid escape sequence: `\\x`".to_string();
        let digits: String = if self.peek(0) == Some('{') {
            let rest = self.rest();
            let end = rest.find('}').ok_or_else(bad)?;
            let digits = rest[1..end].to_string();
            if digits.is_empty() {
                return Err(bad());
            }
            self.i += rest[..=end].chars().count();
            digits
        } else {
            let digits: String = self.chars[self.i..].iter().take(2).collect();
            if digits.chars().count() < 2 {
                return Err(bad());
            }
            self.i += 2;
            digits
        };
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|v| *v <= 0x10FFFF)
            .and_then(char::from_u32)
            .ok_or_else(bad)
    }

    /// A bracketed class with Go's rules, written as a Rust class.
    fn class(&mut self) -> Result<String, String> {
        let open = self.i;
        self.i += 1;
        let mut out = String::from("[");
        if self.peek(0) == Some('^') {
            self.i += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek(0) else {
                let text: String = self.chars[open..].iter().collect();
                return Err(format!("missing closing ]: `{text}`"));
            };
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            if c == '[' && self.peek(1) == Some(':') {
                let rest = self.rest();
                // Go looks for the closing `:]` after the opening `[:`, so `[:]` is no name.
                if let Some(end) = rest[2..].find(":]").map(|at| at + 2) {
                    let name = rest[2..end].strip_prefix('^').unwrap_or(&rest[2..end]);
                    if !POSIX_CLASSES.contains(&name) {
                        return Err(format!(
                            "invalid character class range: `{}`",
                            &rest[..end + 2]
                        ));
                    }
                    out.push_str(&rest[..end + 2]);
                    self.i += rest[..end + 2].chars().count();
                    continue;
                }
            }
            if c == '\\' {
                match self.peek(1) {
                    Some('p' | 'P') => {
                        let class = self.unicode_class()?;
                        out.push_str(&class);
                        continue;
                    }
                    Some(p) if perl_class(p).is_some() => {
                        self.i += 2;
                        let (body, negated) = perl_class(p).unwrap_or_default();
                        if negated {
                            out.push_str(&format!("[^{body}]"));
                        } else {
                            out.push_str(body);
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            let lo = self.class_char()?;
            // `a-]` is `a` and `-`; otherwise `-` after a character makes a range.
            if self.peek(0) == Some('-') && self.peek(1).is_some_and(|n| n != ']') {
                self.i += 1;
                let hi = self.class_char()?;
                if hi < lo {
                    return Err(format!("invalid character class range: `{lo}-{hi}`"));
                }
                out.push_str(&format!("{}-{}", literal(lo), literal(hi)));
            } else {
                out.push_str(&literal(lo));
            }
        }
        out.push(']');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(p: &str, s: &str) -> bool {
        compile(p).unwrap().is_match(s)
    }

    #[test]
    fn perl_classes_are_ascii_like_go() {
        assert!(find(r"^\d+$", "123"));
        assert!(!find(r"^\d$", "٣"));
        assert!(!find(r"^\w$", "é"));
        assert!(find(r"^[\w.]+$", "a.b_c"));
        assert!(!find(r"^\s$", "\u{b}"));
        assert!(find(r"^[^\d]$", "x"));
        assert!(find(r"^[\D]$", "x"));
        assert!(!find(r"^[\D]$", "5"));
        assert!(find(r"\bfoo\b", "a foo b"));
    }

    #[test]
    fn go_only_and_rust_only_syntax() {
        assert!(find(r"\Qa.b\E", "a.b"));
        assert!(!find(r"\Qa.b\E", "axb"));
        assert!(find(r"^[a&&b]+$", "a&&b"));
        assert!(find(r"\<w", "<w"));
        assert!(find(r"^\012$", "\n"));
        assert!(find(r"^a{01}$", "a{01}"));
        assert!(find(r"^x(?i)+$", "xx"));
        assert!(compile(r"(?x) a").is_err());
        assert!(compile(r"a{1001}").is_err());
        assert!(compile(r"a{2,1000}").is_ok());
        assert!(compile(r"a**").is_err());
        assert!(compile(r"a{2}+").is_err());
        assert!(compile(r"*a").is_err());
        assert!(compile(r"\1").is_err());
        assert!(compile(r"[_--]").is_err());
        assert!(compile(r"(").is_err());
        assert!(compile(r"[z-a]").is_err());
        assert!(find(r"[]a]", "]"));
        assert!(find(r"[[:alpha:]]", "q"));
        assert!(find(r"(?i)intel", "INTEL"));
        assert!(find(r"^10de$", "10de"));
        assert!(find("^(?P<x>a)$", "a"));
        assert!(find("^(?<x>a)$", "a"));
        assert!(find("^(?<x>a)(?P<x>b)$", "ab"));
        assert!(find("^(?<1>a)$", "a"));
        assert!(compile("(?<é>a)").is_err());
        assert!(find(r"a*?b", "aab"));
        assert!(find(r"(?ii)A", "a"));
        assert!(!find(r"(?i-i)A", "a"));
    }

    #[test]
    fn unicode_class_names_follow_go_1_25() {
        assert!(find(r"^\pL$", "é"));
        assert!(find(r"^\pl$", "é"));
        assert!(find(r"^\p{letter}$", "é"));
        assert!(find(r"^\p{Uppercase Letter}$", "É"));
        assert!(!find(r"^\p{Uppercase_Letter}$", "é"));
        assert!(find(r"^\p{punct}$", "!"));
        assert!(find(r"^\p{greek}$", "α"));
        assert!(find(r"^\p{kawi}$", "\u{11f00}"));
        assert!(find(r"^\p{ascii}+$", "abc"));
        assert!(!find(r"^\p{ASCII}$", "é"));
        assert!(find(r"^\p{Any}$", "\u{10ffff}"));
        assert!(find(r"^\p{Assigned}$", "a"));
        assert!(!find(r"^\p{Assigned}$", "\u{378}"));
        assert!(find(r"^\p{^Assigned}$", "\u{378}"));
        assert!(find(r"^\P{^Greek}$", "α"));
        assert!(find(r"^[\p{Nd}x]+$", "1x٣"));
        assert!(find(r"^\p{LC}$", "a"));
        assert!(!find(r"\p{Cs}", "a\u{e000}"));
        assert!(find(r"^[\P{Surrogate}]$", "a"));
        for refused in [
            r"\p{Alphabetic}",
            r"\p{Emoji}",
            r"\p{sc=Greek}",
            r"\p{Garay}",
            r"\p{Old_Italic}",
            r"\p{SignWriting}",
            r"\p{}",
            r"\p{L",
            r"\pé",
            r"\p",
            r"[\p{Latn}]",
        ] {
            assert!(
                compile(refused).is_err(),
                "{refused} must be refused as Go does"
            );
        }
    }
}
