//! Go RE2 patterns (as NFD's `InRegexp` compiles them) run on Rust's `regex` crate.
//!
//! The two dialects share most syntax; where they differ, this translation makes Rust behave as
//! Go does, and refuses what Go refuses. No crate translates between them, hence this module.
//! - Perl classes `\d \w \s` and word boundaries `\b \B` are ASCII in Go, Unicode in Rust.
//! - Go's `\s` is `[\t\n\f\r ]` (no vertical tab).
//! - `\Q...\E` quotes literal text in Go; Rust has no such syntax.
//! - `&&`, `--`, `~~` are literal in Go classes but set operations in Rust.
//! - Rust-only syntax is an error in Go: `(?x)`, `(?R)`, `\<`, `\>`, `\b{...}`, `\u`, `\U`, `\e`.
//! - Go refuses repeat counts above 1000.

use regex::Regex;

/// Compiles a Go RE2 pattern; the error says why Go would refuse it.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    Regex::new(&translated).map_err(|e| match e {
        regex::Error::Syntax(msg) => msg.lines().last().unwrap_or_default().trim().to_string(),
        other => other.to_string(),
    })
}

/// Where a Go pattern means something else under Rust's defaults; lint notes these.
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

fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    let mut class_depth = 0usize;
    // Position right after a `[` or `[^` opening a class, where `]` is a literal.
    let mut class_start = false;
    while i < chars.len() {
        let c = chars[i];
        let at_class_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err("trailing backslash at end of expression".into());
                };
                i += 2;
                if next == 'Q' {
                    let mut literal = String::new();
                    while i < chars.len() {
                        if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                            i += 2;
                            break;
                        }
                        literal.push(chars[i]);
                        i += 1;
                    }
                    out.push_str(&regex::escape(&literal));
                    continue;
                }
                out.push_str(&translate_escape(next, class_depth > 0, &chars, &mut i)?);
                continue;
            }
            '[' if class_depth == 0 => {
                class_depth = 1;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = true;
            }
            '[' => {
                // `[:alpha:]` inside a class; any other `[` is literal in Go.
                if chars.get(i + 1) == Some(&':') {
                    let rest: String = chars[i..].iter().collect();
                    if let Some(end) = rest.find(":]") {
                        out.push_str(&rest[..end + 2]);
                        i += rest[..end + 2].chars().count();
                        continue;
                    }
                }
                out.push_str("\\[");
            }
            ']' if class_depth > 0 && !at_class_start => {
                class_depth = 0;
                out.push(']');
            }
            '&' | '-' | '~' if class_depth > 0 && chars.get(i + 1) == Some(&c) => {
                out.push('\\');
                out.push(c);
                out.push('\\');
                out.push(c);
                i += 2;
                continue;
            }
            '(' if class_depth == 0 && chars.get(i + 1) == Some(&'?') => {
                let flags: String = chars[i + 2..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic() || **c == '-')
                    .collect();
                let is_flag_group = matches!(chars.get(i + 2 + flags.len()), Some(')' | ':'));
                if let Some(bad) = flags
                    .chars()
                    .find(|f| is_flag_group && !matches!(f, 'i' | 'm' | 's' | 'U' | '-'))
                {
                    return Err(format!("invalid or unsupported Perl syntax: `(?{bad}`"));
                }
                out.push('(');
            }
            '{' if class_depth == 0 => {
                let rest: String = chars[i + 1..].iter().take(24).collect();
                if let Some(end) = rest.find('}') {
                    let body = &rest[..end];
                    let counts: Vec<&str> = body.split(',').collect();
                    let numeric = !body.is_empty()
                        && counts.len() <= 2
                        && counts[0].bytes().all(|b| b.is_ascii_digit())
                        && !counts[0].is_empty()
                        && counts.iter().all(|n| n.bytes().all(|b| b.is_ascii_digit()));
                    if numeric
                        && counts
                            .iter()
                            .any(|n| n.parse::<u64>().map_or(!n.is_empty(), |v| v > 1000))
                    {
                        return Err(format!("invalid repeat count: `{{{body}}}`"));
                    }
                }
                out.push('{');
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

fn translate_escape(
    next: char,
    in_class: bool,
    chars: &[char],
    i: &mut usize,
) -> Result<String, String> {
    let class = |body: &str, negated: bool| match (in_class, negated) {
        (false, false) => format!("[{body}]"),
        (false, true) => format!("[^{body}]"),
        (true, false) => body.to_string(),
        (true, true) => format!("[^{body}]"),
    };
    Ok(match next {
        'd' => class("0-9", false),
        'D' => class("0-9", true),
        'w' => class("0-9A-Za-z_", false),
        'W' => class("0-9A-Za-z_", true),
        's' => class("\\t\\n\\f\\r ", false),
        'S' => class("\\t\\n\\f\\r ", true),
        'b' if !in_class => {
            if chars.get(*i) == Some(&'{') {
                return Err("invalid escape sequence: `\\b{`".into());
            }
            "(?-u:\\b)".into()
        }
        'B' if !in_class => "(?-u:\\B)".into(),
        '<' | '>' | 'u' | 'U' | 'e' | 'C' | 'Z' | 'h' | 'H' | 'K' | 'R' | 'X' => {
            return Err(format!("invalid escape sequence: `\\{next}`"))
        }
        c if c.is_ascii_digit() && c != '0' => {
            return Err(format!(
                "invalid escape sequence: `\\{c}` (backreferences are not supported)"
            ))
        }
        c => format!("\\{c}"),
    })
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
        assert!(compile(r"(?x) a").is_err());
        assert!(compile(r"\<word").is_err());
        assert!(compile(r"a{1001}").is_err());
        assert!(compile(r"a{2,1000}").is_ok());
        assert!(compile(r"(").is_err());
        assert!(compile(r"[z-a]").is_err());
        assert!(find(r"[]a]", "]"));
        assert!(find(r"[[:alpha:]]", "q"));
        assert!(find(r"(?i)intel", "INTEL"));
        assert!(find(r"^10de$", "10de"));
        assert!(find("^(?P<x>a)$", "a"));
    }
}
