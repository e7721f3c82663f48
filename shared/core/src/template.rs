//! The part of Go's `text/template` that NFD `varsTemplate`s use.
//!
//! NFD expands `varsTemplate` with Go text/template plus Sprig. nodefit implements the subset
//! real specs use — literal text, `{{.Field}}` chains, `$` variables, `range` (with `$i, $e :=`
//! and `else`), `if`/`else`, `index`, `len`, comments and `{{-`/`-}}` trimming — and refuses
//! everything else with [`TemplateError::Unsupported`] rather than answering differently from
//! NFD. Execution follows `missingkey=error`: a missing map key is an error.
//!
//! Go's templates have no limits; here execution is metered (a [`Meter`] per node's evaluation)
//! so that nested `range`s cannot run for hours or write gigabytes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::budget::{self, Interrupt, Limit};
use crate::features::Text;

/// Template input: NFD passes maps of lists of matched elements. Strings are inline up to 24
/// bytes (`Text`): a template's data is built per node and per matcher, and nearly every key
/// (`Name`, `Value`, attribute names) and value fits, so building it does not allocate per
/// element.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Str(Text),
    List(Vec<Data>),
    Map(Map),
}

/// A template map, its entries sorted by key (Go's templates walk maps in key order). A sorted
/// vector rather than a B-tree: these maps are small (an element's `Name` and `Value`, an
/// instance's attributes) and built and dropped for every matched element of every node, where
/// a B-tree's node is ten times their size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map(Vec<(Text, Data)>);

impl Map {
    pub fn get(&self, key: &str) -> Option<&Data> {
        self.position(key).map(|i| &self.0[i].1)
    }

    pub fn remove(&mut self, key: &str) -> Option<Data> {
        self.position(key).map(|i| self.0.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Text, &Data)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()
    }
}

/// Of entries with the same key, the last is kept, as in a map assignment.
impl FromIterator<(Text, Data)> for Map {
    fn from_iter<I: IntoIterator<Item = (Text, Data)>>(entries: I) -> Map {
        let mut entries: Vec<(Text, Data)> = entries.into_iter().collect();
        // Stable, so that the last of equal keys stays last; it takes the place of the first.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        Map(entries)
    }
}

impl<const N: usize> From<[(Text, Data); N]> for Map {
    fn from(entries: [(Text, Data); N]) -> Map {
        entries.into_iter().collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template syntax error: {0}")]
    Syntax(String),
    #[error("unsupported template construct {0} (nodefit evaluates only literal text, fields, $variables, range, if, index and len)")]
    Unsupported(String),
    #[error("template execution failed: {0}")]
    Exec(String),
    #[error("template execution stopped: {}", .0.exceeded())]
    OverBudget(&'static Limit),
    #[error("{}", budget::INTERRUPTED)]
    Interrupted,
}

#[derive(Clone, Debug)]
pub struct Template {
    nodes: Vec<Item>,
}

#[derive(Clone, Debug)]
enum Item {
    Text(String),
    Print(Command),
    Range {
        key_var: Option<String>,
        elem_var: Option<String>,
        command: Command,
        body: Vec<Item>,
        otherwise: Vec<Item>,
    },
    If {
        command: Command,
        body: Vec<Item>,
        otherwise: Vec<Item>,
    },
}

#[derive(Clone, Debug)]
enum Command {
    Operand(Operand),
    Index(Operand, Vec<Operand>),
    Len(Operand),
}

#[derive(Clone, Debug)]
enum Operand {
    /// `.a.b` (empty path: `.`).
    Dot(Vec<String>),
    /// `$x.a.b` (`$` itself has name "").
    Var(String, Vec<String>),
    Str(String),
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        if src.len() > budget::TEMPLATE_BYTES.value {
            return Err(TemplateError::OverBudget(&budget::TEMPLATE_BYTES));
        }
        let tokens = lex(src)?;
        let mut pos = 0;
        let (nodes, end) = parse_items(&tokens, &mut pos)?;
        if let Some(end) = end {
            return Err(TemplateError::Syntax(format!("unexpected {{{{{end}}}}}")));
        }
        Ok(Template { nodes })
    }

    /// The paths the template reads from its data's root (`.pci.device`, `$.cpu.model`): fields
    /// of `.` outside any `range` (inside one, `.` is the element), and of `$` anywhere. Lint
    /// checks them against what the rule's matchers hand the template.
    pub fn root_paths(&self) -> Vec<&[String]> {
        let mut out = Vec::new();
        root_paths(&self.nodes, true, &mut out);
        out
    }

    /// Runs the template on `data`, spending from `meter`.
    pub fn execute(&self, data: &Data, meter: &mut Meter) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut vars = vec![(String::new(), Cow::Borrowed(data))];
        exec_items(&self.nodes, data, &mut vars, &mut out, meter)?;
        Ok(out)
    }
}

fn root_paths<'t>(items: &'t [Item], dot_is_root: bool, out: &mut Vec<&'t [String]>) {
    let command = |c: &'t Command, out: &mut Vec<&'t [String]>| {
        let operands: Vec<&Operand> = match c {
            Command::Operand(o) | Command::Len(o) => vec![o],
            Command::Index(o, args) => std::iter::once(o).chain(args).collect(),
        };
        for o in operands {
            match o {
                Operand::Dot(path) if dot_is_root && !path.is_empty() => out.push(path),
                Operand::Var(name, path) if name.is_empty() && !path.is_empty() => out.push(path),
                _ => {}
            }
        }
    };
    for item in items {
        match item {
            Item::Text(_) => {}
            Item::Print(c) => command(c, out),
            Item::Range {
                command: c,
                body,
                otherwise,
                ..
            } => {
                command(c, out);
                root_paths(body, false, out);
                root_paths(otherwise, dot_is_root, out);
            }
            Item::If {
                command: c,
                body,
                otherwise,
            } => {
                command(c, out);
                root_paths(body, dot_is_root, out);
                root_paths(otherwise, dot_is_root, out);
            }
        }
    }
}

/// NFD's reading of an expanded template: `key=value` lines, trimmed, blank lines skipped.
pub fn parse_vars(expanded: &str) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut out = BTreeMap::new();
    parse_vars_into(expanded, &mut out)?;
    Ok(out)
}

/// [`parse_vars`] into any collection, in line order (in a map, later lines win, as in Go's
/// map assignment).
pub fn parse_vars_into(
    expanded: &str,
    out: &mut impl Extend<(String, String)>,
) -> Result<(), TemplateError> {
    // Split at bytes, not chars: '\n' and '=' are ASCII, never inside a UTF-8 sequence, and
    // the lines are short (a char search costs more to set up than the scan).
    fn split_at(s: &str, b: u8) -> Option<(&str, &str)> {
        s.bytes()
            .position(|c| c == b)
            .map(|i| (&s[..i], &s[i + 1..]))
    }
    let mut rest = Some(expanded);
    while let Some(text) = rest {
        let line = match split_at(text, b'\n') {
            Some((line, after)) => {
                rest = Some(after);
                line
            }
            None => {
                rest = None;
                text
            }
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = split_at(line, b'=') else {
            return Err(TemplateError::Exec(format!(
                "missing value in expanded template line {line:?}, (format must be '<key>=<value>')"
            )));
        };
        out.extend([(key.to_string(), value.to_string())]);
    }
    Ok(())
}

enum Token {
    Text(String),
    Action(String),
}

fn lex(src: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[open + 2..];
        let trim_left =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_left {
            text = text.trim_end();
        }
        if !text.is_empty() {
            tokens.push(Token::Text(text.to_string()));
        }
        let body_start = if trim_left { 2 } else { 0 };
        let body = &after[body_start..];
        let close =
            find_close(body).ok_or_else(|| TemplateError::Syntax("unclosed action".into()))?;
        let mut action = &body[..close];
        trim_next = false;
        if action.ends_with(" -") || action.ends_with("\t-") || action.ends_with("\n-") {
            action = &action[..action.len() - 1];
            trim_next = true;
        }
        tokens.push(Token::Action(action.trim().to_string()));
        rest = &body[close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        tokens.push(Token::Text(text.to_string()));
    }
    Ok(tokens)
}

/// End of an action, skipping `}}` inside string literals and comments.
fn find_close(body: &str) -> Option<usize> {
    let b = body.as_bytes();
    let mut i = 0;
    if body.trim_start().starts_with("/*") {
        let end = body.find("*/")?;
        return body[end..].find("}}").map(|j| end + j);
    }
    while i + 1 < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b[i + 1] == b'}' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses items up to an `end`/`else` action, which is returned.
fn parse_items(
    tokens: &[Token],
    pos: &mut usize,
) -> Result<(Vec<Item>, Option<String>), TemplateError> {
    let mut items = Vec::new();
    while *pos < tokens.len() {
        let token = &tokens[*pos];
        *pos += 1;
        let action = match token {
            Token::Text(t) => {
                items.push(Item::Text(t.clone()));
                continue;
            }
            Token::Action(a) => a.as_str(),
        };
        if action.starts_with("/*") {
            continue;
        }
        let (word, rest) = split_word(action);
        match word {
            "end" | "else" => return Ok((items, Some(action.to_string()))),
            "range" => {
                let (key_var, elem_var, command) = parse_range_header(rest)?;
                let (body, end) = parse_items(tokens, pos)?;
                let otherwise = parse_else(tokens, pos, end, "range")?;
                items.push(Item::Range {
                    key_var,
                    elem_var,
                    command,
                    body,
                    otherwise,
                });
            }
            "if" => {
                let command = parse_command(rest)?;
                let (body, end) = parse_items(tokens, pos)?;
                let otherwise = parse_else(tokens, pos, end, "if")?;
                items.push(Item::If {
                    command,
                    body,
                    otherwise,
                });
            }
            "with" | "define" | "template" | "block" | "break" | "continue" => {
                return Err(TemplateError::Unsupported(format!("`{{{{{word}}}}}`")))
            }
            _ => items.push(Item::Print(parse_command(action)?)),
        }
    }
    Ok((items, None))
}

fn parse_else(
    tokens: &[Token],
    pos: &mut usize,
    end: Option<String>,
    what: &str,
) -> Result<Vec<Item>, TemplateError> {
    match end.as_deref() {
        Some("end") => Ok(Vec::new()),
        Some("else") => {
            let (otherwise, end) = parse_items(tokens, pos)?;
            match end.as_deref() {
                Some("end") => Ok(otherwise),
                _ => Err(TemplateError::Syntax(format!(
                    "missing {{{{end}}}} for {what}"
                ))),
            }
        }
        Some(other) if other.starts_with("else ") => {
            Err(TemplateError::Unsupported(format!("`{{{{{other}}}}}`")))
        }
        _ => Err(TemplateError::Syntax(format!(
            "missing {{{{end}}}} for {what}"
        ))),
    }
}

fn split_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

fn parse_range_header(s: &str) -> Result<(Option<String>, Option<String>, Command), TemplateError> {
    let Some((vars, command)) = s.split_once(":=") else {
        return Ok((None, None, parse_command(s)?));
    };
    let names: Vec<&str> = vars.split(',').map(str::trim).collect();
    let var = |n: &str| {
        n.strip_prefix('$')
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .map(str::to_string)
            .ok_or_else(|| TemplateError::Syntax(format!("bad range variable {n:?}")))
    };
    let (key, elem) = match names.as_slice() {
        [e] => (None, Some(var(e)?)),
        [k, e] => (Some(var(k)?), Some(var(e)?)),
        _ => return Err(TemplateError::Syntax("too many range variables".into())),
    };
    Ok((key, elem, parse_command(command.trim())?))
}

fn parse_command(s: &str) -> Result<Command, TemplateError> {
    if s.contains('|') && !s.trim_start().starts_with(['"', '`']) {
        return Err(TemplateError::Unsupported(format!("pipeline `{s}`")));
    }
    let words = split_args(s)?;
    let Some(first) = words.first() else {
        return Err(TemplateError::Syntax("empty action".into()));
    };
    match first.as_str() {
        "index" => {
            let args = words[1..]
                .iter()
                .map(|w| parse_operand(w))
                .collect::<Result<Vec<_>, _>>()?;
            let mut args = args.into_iter();
            let target = args
                .next()
                .ok_or_else(|| TemplateError::Syntax("index needs an argument".into()))?;
            Ok(Command::Index(target, args.collect()))
        }
        "len" if words.len() == 2 => Ok(Command::Len(parse_operand(&words[1])?)),
        _ if words.len() == 1 => Ok(Command::Operand(parse_operand(first)?)),
        other => Err(TemplateError::Unsupported(format!("function `{other}`"))),
    }
}

fn split_args(s: &str) -> Result<Vec<String>, TemplateError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' || c == '`' {
            word.push(chars.next().unwrap_or(c));
            let mut closed = false;
            while let Some(d) = chars.next() {
                word.push(d);
                if d == '\\' && c == '"' {
                    if let Some(e) = chars.next() {
                        word.push(e);
                    }
                    continue;
                }
                if d == c {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err(TemplateError::Syntax("unterminated string".into()));
            }
        } else {
            if c == '(' {
                return Err(TemplateError::Unsupported("parenthesized pipeline".into()));
            }
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() {
                    break;
                }
                word.push(d);
                chars.next();
            }
        }
        out.push(word);
    }
    Ok(out)
}

fn parse_operand(w: &str) -> Result<Operand, TemplateError> {
    if let Some(body) = w.strip_prefix('"') {
        let s: String = serde_json::from_str(&format!("\"{body}"))
            .map_err(|_| TemplateError::Syntax(format!("bad string literal {w}")))?;
        return Ok(Operand::Str(s));
    }
    if let Some(body) = w.strip_prefix('`') {
        return Ok(Operand::Str(body.trim_end_matches('`').to_string()));
    }
    let fields = |path: &str| -> Result<Vec<String>, TemplateError> {
        path.split('.')
            .filter(|p| !p.is_empty())
            .map(|p| {
                if p.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    Ok(p.to_string())
                } else {
                    Err(TemplateError::Syntax(format!(
                        "bad field name {p:?} in {w}"
                    )))
                }
            })
            .collect()
    };
    if w == "." {
        return Ok(Operand::Dot(Vec::new()));
    }
    if let Some(path) = w.strip_prefix('.') {
        return Ok(Operand::Dot(fields(path)?));
    }
    if let Some(var) = w.strip_prefix('$') {
        let (name, path) = match var.find('.') {
            Some(i) => (&var[..i], &var[i..]),
            None => (var, ""),
        };
        return Ok(Operand::Var(name.to_string(), fields(path)?));
    }
    Err(TemplateError::Unsupported(format!("`{w}`")))
}

/// Variables in scope, innermost last. Values borrow from the template's data wherever they
/// can, so that a `range` never copies what it iterates over.
type Vars<'d> = Vec<(String, Cow<'d, Data>)>;

/// What template execution may still spend in one node's evaluation ([`budget::TEMPLATE_STEPS`],
/// [`budget::TEMPLATE_OUTPUT`]), and the [`Interrupt`] it polls.
pub struct Meter<'i> {
    steps_left: usize,
    output_left: usize,
    interrupt: &'i Interrupt,
}

/// Steps between two polls of the interrupt.
const POLL_EVERY: usize = 4096;

impl<'i> Meter<'i> {
    /// A full budget.
    pub fn new(interrupt: &'i Interrupt) -> Meter<'i> {
        Meter {
            steps_left: budget::TEMPLATE_STEPS.value,
            output_left: budget::TEMPLATE_OUTPUT.value,
            interrupt,
        }
    }

    fn step(&mut self) -> Result<(), TemplateError> {
        self.steps_left = self
            .steps_left
            .checked_sub(1)
            .ok_or(TemplateError::OverBudget(&budget::TEMPLATE_STEPS))?;
        if self.steps_left.is_multiple_of(POLL_EVERY) && self.interrupt.is_raised() {
            return Err(TemplateError::Interrupted);
        }
        Ok(())
    }

    fn wrote(&mut self, bytes: usize) -> Result<(), TemplateError> {
        self.output_left = self
            .output_left
            .checked_sub(bytes)
            .ok_or(TemplateError::OverBudget(&budget::TEMPLATE_OUTPUT))?;
        Ok(())
    }
}

fn exec_items<'d>(
    items: &[Item],
    dot: &'d Data,
    vars: &mut Vars<'d>,
    out: &mut String,
    meter: &mut Meter,
) -> Result<(), TemplateError> {
    for item in items {
        meter.step()?;
        match item {
            Item::Text(t) => {
                meter.wrote(t.len())?;
                out.push_str(t);
            }
            Item::Print(c) => {
                let before = out.len();
                print(
                    eval(c, dot, vars)?.as_ref(),
                    out,
                    before + meter.output_left,
                );
                meter.wrote(out.len() - before)?;
            }
            Item::If {
                command,
                body,
                otherwise,
            } => {
                let branch = if truthy(eval(command, dot, vars)?.as_ref()) {
                    body
                } else {
                    otherwise
                };
                exec_items(branch, dot, vars, out, meter)?;
            }
            Item::Range {
                key_var,
                elem_var,
                command,
                body,
                otherwise,
            } => {
                // Lists and maps always come from the data; what is computed (literals, `len`,
                // a missing key's zero value, range keys) is a string, which cannot be ranged
                // over. So the elements are borrowed for the body, never copied.
                let string_range =
                    || TemplateError::Exec("range can't iterate over a string".into());
                let Cow::Borrowed(value) = eval(command, dot, vars)? else {
                    return Err(string_range());
                };
                // Keys are made only for a `$key` variable: most ranges have none.
                let pairs: Box<dyn Iterator<Item = (Key<'d>, &'d Data)>> = match value {
                    Data::List(items) => {
                        Box::new(items.iter().enumerate().map(|(i, d)| (Key::Index(i), d)))
                    }
                    Data::Map(m) => Box::new(m.iter().map(|(k, v)| (Key::Name(k), v))),
                    Data::Str(_) => return Err(string_range()),
                };
                let mut empty = true;
                for (key, elem) in pairs {
                    empty = false;
                    meter.step()?;
                    let depth = vars.len();
                    if let Some(k) = key_var {
                        let key = match key {
                            Key::Index(i) => Text::from(i.to_string()),
                            Key::Name(name) => name.clone(),
                        };
                        vars.push((k.clone(), Cow::Owned(Data::Str(key))));
                    }
                    if let Some(e) = elem_var {
                        vars.push((e.clone(), Cow::Borrowed(elem)));
                    }
                    let result = exec_items(body, elem, vars, out, meter);
                    vars.truncate(depth);
                    result?;
                }
                if empty {
                    exec_items(otherwise, dot, vars, out, meter)?;
                }
            }
        }
    }
    Ok(())
}

/// A `range` key: a list's index or a map's key.
enum Key<'d> {
    Index(usize),
    Name(&'d Text),
}

fn eval<'d>(
    command: &Command,
    dot: &'d Data,
    vars: &Vars<'d>,
) -> Result<Cow<'d, Data>, TemplateError> {
    match command {
        Command::Operand(o) => operand(o, dot, vars),
        Command::Len(o) => Ok(Cow::Owned(Data::Str(
            match operand(o, dot, vars)?.as_ref() {
                Data::Str(s) => s.len(),
                Data::List(l) => l.len(),
                Data::Map(m) => m.len(),
            }
            .to_string()
            .into(),
        ))),
        Command::Index(target, keys) => {
            let mut value = operand(target, dot, vars)?;
            for key in keys {
                let key = match operand(key, dot, vars)?.as_ref() {
                    Data::Str(key) => key.clone(),
                    _ => return Err(TemplateError::Exec("index of a non-string key".into())),
                };
                value = index(value, &key)?;
            }
            Ok(value)
        }
    }
}

/// One step of `index`, keeping a borrowed value borrowed.
fn index<'d>(value: Cow<'d, Data>, key: &str) -> Result<Cow<'d, Data>, TemplateError> {
    // `index` on a missing map key yields the zero value, even with missingkey=error.
    let zero = || Cow::Owned(Data::Str(Text::default()));
    let position = |len: usize| -> Result<usize, TemplateError> {
        let i: usize = key
            .parse()
            .map_err(|_| TemplateError::Exec(format!("cannot index slice with {key:?}")))?;
        if i >= len {
            return Err(TemplateError::Exec(format!("index out of range: {i}")));
        }
        Ok(i)
    };
    Ok(match value {
        Cow::Borrowed(Data::Map(m)) => m.get(key).map_or_else(zero, Cow::Borrowed),
        Cow::Borrowed(Data::List(l)) => Cow::Borrowed(&l[position(l.len())?]),
        Cow::Owned(Data::Map(mut m)) => m.remove(key).map_or_else(zero, Cow::Owned),
        Cow::Owned(Data::List(mut l)) => Cow::Owned(l.swap_remove(position(l.len())?)),
        Cow::Borrowed(Data::Str(_)) | Cow::Owned(Data::Str(_)) => {
            return Err(TemplateError::Exec("can't index a string".into()))
        }
    })
}

fn operand<'d>(
    o: &Operand,
    dot: &'d Data,
    vars: &Vars<'d>,
) -> Result<Cow<'d, Data>, TemplateError> {
    let (base, path) = match o {
        Operand::Str(s) => return Ok(Cow::Owned(Data::Str(s.as_str().into()))),
        Operand::Dot(path) => (Cow::Borrowed(dot), path),
        Operand::Var(name, path) => {
            let value = vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .ok_or_else(|| TemplateError::Syntax(format!("undefined variable ${name}")))?;
            let value = match value {
                Cow::Borrowed(d) => Cow::Borrowed(*d),
                // Only range keys are owned: short strings.
                Cow::Owned(d) => Cow::Owned(d.clone()),
            };
            (value, path)
        }
    };
    path.iter().try_fold(base, |current, field| {
        let missing = || TemplateError::Exec(format!("map has no entry for key {field:?}"));
        match current {
            Cow::Borrowed(Data::Map(m)) => {
                m.get(field.as_str()).map(Cow::Borrowed).ok_or_else(missing)
            }
            Cow::Owned(Data::Map(mut m)) => {
                m.remove(field.as_str()).map(Cow::Owned).ok_or_else(missing)
            }
            _ => Err(TemplateError::Exec(format!(
                "can't evaluate field {field} in a non-map value"
            ))),
        }
    })
}

fn truthy(d: &Data) -> bool {
    match d {
        Data::Str(s) => !s.is_empty(),
        Data::List(l) => !l.is_empty(),
        Data::Map(m) => !m.is_empty(),
    }
}

/// Go's `%v` for strings, slices and maps. Stops once `out` is longer than `cap`: the caller
/// then refuses the output, and a large value is never written out in full.
fn print(d: &Data, out: &mut String, cap: usize) {
    if out.len() > cap {
        return;
    }
    match d {
        Data::Str(s) => out.push_str(s),
        Data::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print(item, out, cap);
            }
            out.push(']');
        }
        Data::Map(m) => {
            out.push_str("map[");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{k}:");
                print(v, out, cap);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Data {
        let elem = |n: &str, v: &str| {
            Data::Map(Map::from([
                ("Name".into(), Data::Str(n.into())),
                ("Value".into(), Data::Str(v.into())),
            ]))
        };
        let inst = Data::Map(Map::from([("vendor".into(), Data::Str("10de".into()))]));
        Data::Map(Map::from([
            (
                "cpu".into(),
                Data::Map(Map::from([(
                    "model".into(),
                    Data::List(vec![elem("vendor_id", "Intel"), elem("family", "6")]),
                )])),
            ),
            (
                "pci".into(),
                Data::Map(Map::from([("device".into(), Data::List(vec![inst]))])),
            ),
        ]))
    }

    fn run(src: &str) -> Result<String, TemplateError> {
        Template::parse(src)?.execute(&data(), &mut Meter::new(&Interrupt::none()))
    }

    #[test]
    fn ranges_fields_and_index() {
        assert_eq!(
            run("{{range .cpu.model}}cpu-{{.Name}}={{.Value}}\n{{end}}").unwrap(),
            "cpu-vendor_id=Intel\ncpu-family=6\n"
        );
        assert_eq!(
            run("{{- range $i, $d := .pci.device }}\ngpu-{{ $i }}={{ index $d \"vendor\" }}\n{{- end }}").unwrap(),
            "\ngpu-0=10de"
        );
        assert_eq!(
            run("{{range .pci.device}}v={{.vendor}}{{end}}").unwrap(),
            "v=10de"
        );
        assert_eq!(
            run("{{if .cpu.model}}yes=1{{else}}no=1{{end}}").unwrap(),
            "yes=1"
        );
        assert_eq!(run("{{/* note */}}n={{len .cpu.model}}").unwrap(), "n=2");
    }

    #[test]
    fn missing_keys_are_errors() {
        assert!(matches!(
            run("{{.kernel.version}}"),
            Err(TemplateError::Exec(_))
        ));
    }

    #[test]
    fn unsupported_constructs_say_so() {
        for src in [
            "{{.cpu | lower}}",
            "{{printf \"%s\" .cpu}}",
            "{{with .cpu}}{{end}}",
            "{{upper .x}}",
        ] {
            assert!(
                matches!(Template::parse(src), Err(TemplateError::Unsupported(_))),
                "{src}"
            );
        }
        assert!(matches!(
            Template::parse("{{range .x}}"),
            Err(TemplateError::Syntax(_))
        ));
    }

    #[test]
    fn vars_lines() {
        let vars = parse_vars("  a=1 \n\nb=x=y\n").unwrap();
        assert_eq!(vars["a"], "1");
        assert_eq!(vars["b"], "x=y");
        assert!(parse_vars("novalue").is_err());
    }
}
