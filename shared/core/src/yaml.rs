//! YAML reading the way NFD reads a compatibility spec, with a source span on every node.
//!
//! NFD decodes specs with `sigs.k8s.io/yaml`, which runs go-yaml v2 (YAML 1.1 scalar resolution)
//! and then Go's `encoding/json`. No Rust crate resolves scalars like go-yaml v2 does, so this
//! module takes events (with spans) from `saphyr-parser` and does the resolution itself
//! ([`resolve_plain`]). The result is a tree that keeps what was written (text, quoting style,
//! position) next to what NFD makes of it ([`Resolved`]); `decode` turns it into the spec model.
//!
//! Budgets, so that no input can exhaust memory or the stack: nesting depth
//! ([`budget::YAML_DEPTH`]), and alias expansion, in nodes ([`budget::YAML_ALIAS_NODES`]) and in
//! scalar bytes copied ([`budget::YAML_ALIAS_BYTES`]): an alias bomb is an error, as in go-yaml,
//! whether it multiplies nodes or one large scalar.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};

use crate::budget::{self, Limit};
use crate::source::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The scalar's content after YAML unescaping and folding.
    pub text: String,
    pub style: Style,
    pub resolved: Resolved,
}

/// What go-yaml v2 makes of a scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
    /// The `<<` merge key.
    Merge,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub message: String,
    pub span: Span,
    /// The budget the document went over, when that is the error.
    pub budget: Option<&'static Limit>,
}

impl YamlError {
    fn syntax(message: impl Into<String>, span: Span) -> YamlError {
        YamlError {
            message: message.into(),
            span,
            budget: None,
        }
    }

    fn over(limit: &'static Limit, span: Span) -> YamlError {
        YamlError {
            message: limit.exceeded(),
            span,
            budget: Some(limit),
        }
    }
}

impl Scalar {
    /// The string Go ends up with when this scalar is decoded into a Go `string`
    /// (sigs.k8s.io/yaml converts numbers and booleans; null leaves the zero value "").
    pub fn go_string(&self) -> Cow<'_, str> {
        match self.resolved {
            Resolved::Null => Cow::Borrowed(""),
            Resolved::Bool(true) => Cow::Borrowed("true"),
            Resolved::Bool(false) => Cow::Borrowed("false"),
            Resolved::Int(i) => Cow::Owned(i.to_string()),
            Resolved::Uint(u) => Cow::Owned(u.to_string()),
            Resolved::Float(f) => Cow::Owned(go_format_float32(f)),
            Resolved::Str | Resolved::Merge => Cow::Borrowed(&self.text),
        }
    }

    /// The string a map key becomes (sigs.k8s.io/yaml's key conversion), or `None` for a null key,
    /// which it refuses.
    pub fn go_key(&self) -> Option<Cow<'_, str>> {
        match self.resolved {
            Resolved::Null => None,
            Resolved::Float(f) if f.is_nan() => Some(Cow::Borrowed(".nan")),
            Resolved::Float(f) if f.is_infinite() => {
                Some(Cow::Borrowed(if f > 0.0 { ".inf" } else { "-.inf" }))
            }
            _ => Some(self.go_string()),
        }
    }
}

impl Node {
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.resolved == Resolved::Null)
    }

    /// Go-style name of the node's JSON kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "array",
            Value::Map(_) => "object",
            Value::Scalar(s) => match s.resolved {
                Resolved::Null => "null",
                Resolved::Bool(_) => "bool",
                Resolved::Int(_) | Resolved::Uint(_) | Resolved::Float(_) => "number",
                Resolved::Str | Resolved::Merge => "string",
            },
        }
    }
}

/// Parses the first YAML document of `src` (go-yaml's `Unmarshal` reads only the first one).
/// `Ok(None)` for a stream without documents or an empty document.
pub fn parse(src: &str) -> Result<Option<Node>, YamlError> {
    let mut doc = parse_document(src)?;
    Ok(doc.root.take())
}

/// A parsed first document, plus facts lint wants to report.
#[derive(Debug, Default)]
pub struct Document {
    pub root: Option<Node>,
    /// Where a second document (or anything else after the first one) starts: NFD never
    /// reads it.
    pub extra_document: Option<Span>,
    /// Keys that appear twice in one mapping: (first occurrence, later occurrence).
    pub duplicate_keys: Vec<(Span, Span)>,
}

pub fn parse_document(src: &str) -> Result<Document, YamlError> {
    let offsets = CharOffsets::new(src);
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(src);
    let mut documents = 0;
    let mut first_ended = None;
    let mut extra_document = None;
    loop {
        let (event, yspan) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            // go-yaml stops reading after the first document: what follows it is never parsed,
            // so it cannot be a syntax error; lint calls it ignored content.
            Some(Err(_)) if first_ended.is_some() => {
                extra_document = first_ended;
                break;
            }
            Some(Err(e)) => {
                let byte = offsets.byte(e.marker().index());
                let at = Span::new(byte, byte);
                // saphyr stops flow collections at its own depth limit, just below ours.
                if e.info() == "recursion limit exceeded" {
                    return Err(YamlError::over(&budget::YAML_DEPTH, at));
                }
                return Err(YamlError::syntax(
                    format!("YAML syntax error: {}", e.info()),
                    at,
                ));
            }
        };
        let span = offsets.span(yspan);
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents == 2 {
                    extra_document = Some(span);
                    break;
                }
            }
            Event::StreamEnd => break,
            Event::DocumentEnd => first_ended = Some(Span::new(span.end, span.end)),
            Event::StreamStart | Event::Nothing => {}
            other => builder.event(other, span)?,
        }
    }
    Ok(Document {
        root: builder.root,
        extra_document,
        duplicate_keys: builder.duplicate_keys,
    })
}

/// One document of a YAML stream.
#[derive(Debug, Default)]
pub struct StreamDocument {
    /// `None` for an empty document.
    pub root: Option<Node>,
    /// From the document's first token (its `---`, or its content) to its end.
    pub span: Span,
    /// Keys that appear twice in one mapping: (first occurrence, later occurrence).
    pub duplicate_keys: Vec<(Span, Span)>,
}

/// Parses every document of a stream, as `kubectl apply -f` reads a file of Kubernetes objects
/// (each document on its own, anchors not shared between them). The alias budgets hold for the
/// whole stream; a document past `limit` is an error over that budget where it starts.
pub fn parse_stream(src: &str, limit: &'static Limit) -> Result<Vec<StreamDocument>, YamlError> {
    let offsets = CharOffsets::new(src);
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(src);
    let mut documents = Vec::new();
    let mut start = None;
    loop {
        let (event, yspan) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let byte = offsets.byte(e.marker().index());
                let at = Span::new(byte, byte);
                if e.info() == "recursion limit exceeded" {
                    return Err(YamlError::over(&budget::YAML_DEPTH, at));
                }
                return Err(YamlError::syntax(
                    format!("YAML syntax error: {}", e.info()),
                    at,
                ));
            }
        };
        let span = offsets.span(yspan);
        match event {
            Event::DocumentStart(_) => {
                if documents.len() >= limit.value {
                    return Err(YamlError::over(limit, span));
                }
                builder.anchors.clear();
                start = Some(span.start);
            }
            Event::DocumentEnd => {
                let first = start.take().unwrap_or(span.start);
                let end = builder
                    .root
                    .as_ref()
                    .map_or(span.end, |r| r.span.end.max(first));
                documents.push(StreamDocument {
                    root: builder.root.take(),
                    span: Span::new(first, end),
                    duplicate_keys: std::mem::take(&mut builder.duplicate_keys),
                });
            }
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing => {}
            other => builder.event(other, span)?,
        }
    }
    Ok(documents)
}

/// saphyr reports positions in characters; spans here are bytes.
struct CharOffsets {
    /// Byte offset of each char index, or empty when the text is ASCII (identity).
    bytes: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(src: &str) -> CharOffsets {
        let bytes = if src.is_ascii() {
            Vec::new()
        } else {
            src.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(src.len()))
                .collect()
        };
        CharOffsets {
            bytes,
            len: src.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.bytes.is_empty() {
            char_index.min(self.len)
        } else {
            self.bytes[char_index.min(self.bytes.len() - 1)]
        }
    }

    fn span(&self, s: YSpan) -> Span {
        Span::new(self.byte(s.start.index()), self.byte(s.end.index()))
    }
}

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<Node>,
        /// Where each key (as Go reads it) was first written: duplicates are found by lookup,
        /// not by scanning the entries, which is quadratic in a mapping's size.
        first_keys: HashMap<String, Span>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    alias_nodes: usize,
    alias_bytes: usize,
    duplicate_keys: Vec<(Span, Span)>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                // saphyr reports an empty plain scalar (`key:`) as "~" with an empty span.
                let text = if style == Style::Plain && span.start == span.end {
                    String::new()
                } else {
                    text.into_owned()
                };
                // go-yaml resolves only untagged plain scalars and those tagged with a core
                // schema type; `!!str`, `!!binary` and custom tags keep the text.
                let resolvable = tag.as_deref().is_none_or(|t| {
                    (t.handle == "!!" || t.handle.starts_with("tag:yaml.org"))
                        && matches!(
                            t.suffix.as_str(),
                            "int" | "float" | "bool" | "null" | "timestamp"
                        )
                });
                let resolved = if style == Style::Plain && resolvable {
                    resolve_plain(&text)
                } else {
                    Resolved::Str
                };
                let node = Node {
                    span,
                    value: Value::Scalar(Scalar {
                        text,
                        style,
                        resolved,
                    }),
                };
                self.complete(node, anchor)
            }
            Event::SequenceStart(anchor, _) => self.open(Frame::Seq {
                start: span,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.open(Frame::Map {
                start: span,
                anchor,
                entries: Vec::new(),
                pending_key: None,
                first_keys: HashMap::new(),
            }),
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    start,
                    anchor,
                    items,
                }) => {
                    let span = collection_span(start, span, items.last().map(|n| n.span));
                    self.complete(
                        Node {
                            span,
                            value: Value::Seq(items),
                        },
                        anchor,
                    )
                }
                _ => Err(internal(span)),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    start,
                    anchor,
                    entries,
                    ..
                }) => {
                    let last = entries.last().map(|e| e.value.span);
                    let span = collection_span(start, span, last);
                    let entries = self.merge_keys(entries)?;
                    self.complete(
                        Node {
                            span,
                            value: Value::Map(entries),
                        },
                        anchor,
                    )
                }
                _ => Err(internal(span)),
            },
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(YamlError::syntax(
                        "unknown anchor referenced by alias",
                        span,
                    ));
                };
                // Counted before copying, so that the copy never happens over budget.
                let (nodes, bytes) = size_of_tree(target);
                self.alias_nodes += nodes;
                self.alias_bytes += bytes;
                if self.alias_nodes > budget::YAML_ALIAS_NODES.value {
                    return Err(YamlError::over(&budget::YAML_ALIAS_NODES, span));
                }
                if self.alias_bytes > budget::YAML_ALIAS_BYTES.value {
                    return Err(YamlError::over(&budget::YAML_ALIAS_BYTES, span));
                }
                let node = target.clone();
                self.complete(node, 0)
            }
            _ => Ok(()),
        }
    }

    fn open(&mut self, frame: Frame) -> Result<(), YamlError> {
        if self.stack.len() >= budget::YAML_DEPTH.value {
            let span = match &frame {
                Frame::Seq { start, .. } | Frame::Map { start, .. } => *start,
            };
            return Err(YamlError::over(&budget::YAML_DEPTH, span));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                first_keys,
                ..
            }) => match pending_key.take() {
                None => {
                    if !matches!(node.value, Value::Scalar(_)) {
                        return Err(YamlError::syntax(
                            format!("invalid map key: a {} cannot be a key", node.kind_name()),
                            node.span,
                        ));
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    if let Some(name) = key.as_scalar().and_then(Scalar::go_key) {
                        match first_keys.get(name.as_ref()) {
                            Some(first) => self.duplicate_keys.push((*first, key.span)),
                            None => {
                                first_keys.insert(name.into_owned(), key.span);
                            }
                        }
                    }
                    entries.push(Entry { key, value: node })
                }
            },
        }
        Ok(())
    }

    /// Expands `<<` merge keys in place, as go-yaml v2 does: a merged mapping's keys are set at
    /// the merge key's position (later keys override earlier ones); in a sequence of mappings,
    /// earlier mappings take precedence.
    fn merge_keys(&mut self, entries: Vec<Entry>) -> Result<Vec<Entry>, YamlError> {
        let is_merge =
            |e: &Entry| matches!(&e.key.value, Value::Scalar(s) if s.resolved == Resolved::Merge);
        if !entries.iter().any(is_merge) {
            return Ok(entries);
        }
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            if !is_merge(&entry) {
                out.push(entry);
                continue;
            }
            let want_map = |span| {
                YamlError::syntax(
                    "map merge requires map or sequence of maps as the value",
                    span,
                )
            };
            match entry.value.value {
                Value::Map(merged) => out.extend(merged),
                Value::Seq(maps) => {
                    for m in maps.into_iter().rev() {
                        match m.value {
                            Value::Map(merged) => out.extend(merged),
                            _ => return Err(want_map(m.span)),
                        }
                    }
                }
                _ => return Err(want_map(entry.value.span)),
            }
        }
        Ok(out)
    }
}

/// Nodes and scalar bytes in a tree: what copying it costs.
fn size_of_tree(node: &Node) -> (usize, usize) {
    let add = |(n, b): (usize, usize), (m, c): (usize, usize)| (n + m, b + c);
    match &node.value {
        Value::Scalar(s) => (1, s.text.len()),
        Value::Seq(items) => items.iter().map(size_of_tree).fold((1, 0), add),
        Value::Map(entries) => entries
            .iter()
            .map(|e| add(size_of_tree(&e.key), size_of_tree(&e.value)))
            .fold((1, 0), add),
    }
}

/// A block collection's start event has an empty span; a flow collection's covers `[`/`{` and
/// its end event covers `]`/`}`. Block collections end at their last child rather than at the
/// next token, so the span does not swallow trailing lines.
fn collection_span(start: Span, end: Span, last_child: Option<Span>) -> Span {
    let flow_end = end.end > end.start;
    let end_at = if flow_end {
        end.end
    } else {
        last_child.map_or(start.end, |c| c.end)
    };
    Span::new(start.start, end_at.max(start.start))
}

fn internal(span: Span) -> YamlError {
    YamlError::syntax("unbalanced YAML events", span)
}

/// go-yaml v2's `resolve` for an untagged plain scalar (YAML 1.1 rules).
pub fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Resolved::Bool(false)
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        "<<" => return Resolved::Merge,
        _ => {}
    }
    match text.as_bytes()[0] {
        b'.' => match go_parse_float(text) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => resolve_number(text),
        _ => Resolved::Str,
    }
}

fn resolve_number(text: &str) -> Resolved {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_parse_int_base0(&plain) {
        return match i {
            GoInt::Signed(i) => Resolved::Int(i),
            GoInt::Unsigned(u) => Resolved::Uint(u),
        };
    }
    if is_yaml_style_float(&plain) {
        if let Some(f) = go_parse_float(&plain) {
            return Resolved::Float(f);
        }
    }
    let binary = |digits: &str, negative: bool| {
        if digits.is_empty() || !digits.bytes().all(|b| b == b'0' || b == b'1') {
            return None;
        }
        let v = u128::from_str_radix(digits, 2).ok()?;
        if negative {
            let v = i128::try_from(v).ok()?;
            i64::try_from(-v).ok().map(Resolved::Int)
        } else if let Ok(i) = i64::try_from(v) {
            Some(Resolved::Int(i))
        } else {
            u64::try_from(v).ok().map(Resolved::Uint)
        }
    };
    if let Some(digits) = plain.strip_prefix("0b") {
        if let Some(r) = binary(digits, false) {
            return r;
        }
    } else if let Some(digits) = plain.strip_prefix("-0b") {
        if let Some(r) = binary(digits, true) {
            return r;
        }
    }
    Resolved::Str
}

enum GoInt {
    Signed(i64),
    Unsigned(u64),
}

/// `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)`: optional sign, then
/// `0x`/`0o`/`0b` prefixes or a leading `0` for octal.
fn go_parse_int_base0(s: &str) -> Option<GoInt> {
    let (negative, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        let v = -(i128::try_from(magnitude).ok()?);
        i64::try_from(v).ok().map(GoInt::Signed)
    } else if let Ok(i) = i64::try_from(magnitude) {
        Some(GoInt::Signed(i))
    } else if s.starts_with('+') {
        // ParseUint refuses a sign.
        None
    } else {
        u64::try_from(magnitude).ok().map(GoInt::Unsigned)
    }
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `strconv.ParseFloat(s, 64)` for the decimal forms go-yaml reaches: an optional sign, digits
/// with at most one `.`, an exponent, and Go's `_` digit separators (each between two digits).
/// Out-of-range values are an error in Go, infinity in Rust: both are refused here.
fn go_parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let separators_ok = b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    });
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    let digits_etc = plain.trim_start_matches(['+', '-']);
    if !separators_ok
        || digits_etc.is_empty()
        || !digits_etc
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let f: f64 = plain.parse().ok()?;
    f.is_finite().then_some(f)
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest decimal that round-trips as a float32,
/// in exponent form (`1.2345679e+08`) when the decimal exponent is < -4 or >= 6.
pub fn go_format_float32(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345679e8".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    // Fixed notation.
    let point = exp + 1;
    let s = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if point as usize >= digits.len() {
        format!("{}{}", digits, "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{s}")
}

/// The node as JSON, with YAML 1.1 scalars resolved (for schema validation and APIs).
/// Non-finite floats become strings, since JSON has no NaN or infinity.
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Scalar(s) => match s.resolved {
            Resolved::Null => J::Null,
            Resolved::Bool(b) => J::Bool(b),
            Resolved::Int(i) => J::from(i),
            Resolved::Uint(u) => J::from(u),
            Resolved::Float(f) => serde_json::Number::from_f64(f)
                .map_or_else(|| J::String(s.go_string().into_owned()), J::Number),
            Resolved::Str | Resolved::Merge => J::String(s.text.clone()),
        },
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .filter_map(|e| {
                    let key = e.key.as_scalar()?.go_key()?.into_owned();
                    Some((key, to_json(&e.value)))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(text: &str) -> String {
        Scalar {
            text: text.into(),
            style: Style::Plain,
            resolved: resolve_plain(text),
        }
        .go_string()
        .into_owned()
    }

    #[test]
    fn yaml11_scalars_become_the_strings_go_sees() {
        let cases = [
            ("0302", "194"),
            ("0200", "128"),
            ("0880", "880"),
            ("5.10", "5.1"),
            ("1.0", "1"),
            ("123456789.0", "1.2345679e+08"),
            ("y", "true"),
            ("Yes", "true"),
            ("on", "true"),
            ("OFF", "false"),
            ("n", "false"),
            ("~", ""),
            ("null", ""),
            ("0x10", "16"),
            ("0o17", "15"),
            ("0b101", "5"),
            ("-0b11", "-3"),
            ("1_000", "1000"),
            ("+5", "5"),
            ("10de", "10de"),
            ("8086", "8086"),
            ("1e3", "1000"),
            (".5", "0.5"),
            ("1.", "1"),
            (".inf", "+Inf"),
            ("-.inf", "-Inf"),
            (".nan", "NaN"),
            ("99999999999999999999", "1e+20"),
            ("18446744073709551615", "18446744073709551615"),
            ("1234567.0", "1.234567e+06"),
            ("100000.0", "100000"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("22.04", "22.04"),
            ("6.1", "6.1"),
            ("3.14159265358979", "3.1415927"),
            ("1.2.3", "1.2.3"),
            ("5.15.0-91-generic", "5.15.0-91-generic"),
            ("-", "-"),
            ("0x", "0x"),
            ("08", "8"),
            ("-0", "0"),
            ("2024-01-02", "2024-01-02"),
            (".0_3", "0.03"),
            ("._5", "._5"),
            ("True", "true"),
            ("tRUE", "tRUE"),
            ("Intel", "Intel"),
        ];
        for (input, want) in cases {
            assert_eq!(go(input), want, "plain scalar {input:?}");
        }
    }

    #[test]
    fn quoted_and_tagged_scalars_stay_strings() {
        let node = parse("a: ['0302', \"y\", !!str 5.10]").unwrap().unwrap();
        let Value::Map(entries) = &node.value else {
            panic!()
        };
        let Value::Seq(items) = &entries[0].value.value else {
            panic!()
        };
        let got: Vec<_> = items
            .iter()
            .map(|n| n.as_scalar().unwrap().go_string().into_owned())
            .collect();
        assert_eq!(got, ["0302", "y", "5.10"]);
    }

    #[test]
    fn spans_are_bytes_and_include_quotes() {
        let src = "é: \"héllo\"\nk: [a, 0302]\n";
        let node = parse(src).unwrap().unwrap();
        let Value::Map(entries) = &node.value else {
            panic!()
        };
        let v = &entries[0].value;
        assert_eq!(&src[v.span.start..v.span.end], "\"héllo\"");
        let seq = &entries[1].value;
        assert_eq!(&src[seq.span.start..seq.span.end], "[a, 0302]");
    }

    #[test]
    fn block_collections_end_at_their_last_child() {
        let src = "a:\n  b: c\n  d: e\n\n\nz: 1\n";
        let node = parse(src).unwrap().unwrap();
        let Value::Map(entries) = &node.value else {
            panic!()
        };
        let inner = &entries[0].value;
        assert_eq!(&src[inner.span.start..inner.span.end], "b: c\n  d: e");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut src = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='k' {
            src.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let err = parse(&src).unwrap_err();
        assert_eq!(err.budget, Some(&budget::YAML_ALIAS_NODES), "{err}");
    }

    #[test]
    fn aliases_of_a_large_scalar_are_refused_by_their_bytes() {
        let big = "x".repeat(400_000);
        let mut src = format!("a: &a {big}\nb: [");
        src.push_str(&"*a, ".repeat(20));
        src.push_str("*a]\n");
        let err = parse(&src).unwrap_err();
        assert_eq!(err.budget, Some(&budget::YAML_ALIAS_BYTES), "{err}");
        assert!(err.message.contains("4 MiB"), "{err}");
        // Where the budget ran out: the eleventh alias, after ten copies of 400,000 bytes.
        let at = src[..err.span.start].matches("*a").count();
        assert_eq!(at, 10, "{err:?}");
        // Ten copies stay within it.
        let ok = format!("a: &a {big}\nb: [{}*a]\n", "*a, ".repeat(9));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let src = "[".repeat(100_000);
        assert_eq!(parse(&src).unwrap_err().budget, Some(&budget::YAML_DEPTH));
    }

    #[test]
    fn merge_keys_follow_go_yaml() {
        let src = "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n";
        let node = parse(src).unwrap().unwrap();
        let Value::Map(entries) = &node.value else {
            panic!()
        };
        let Value::Map(m) = &entries[1].value.value else {
            panic!()
        };
        let keys: Vec<_> = m
            .iter()
            .map(|e| e.key.as_scalar().unwrap().text.clone())
            .collect();
        assert_eq!(keys, ["x", "y", "y"]);
    }

    #[test]
    fn only_the_first_document_is_read() {
        let doc = parse_document("a: 1\n---\nb: 2\n").unwrap();
        assert!(doc.extra_document.is_some());
        let root = doc.root.unwrap();
        let Value::Map(entries) = &root.value else {
            panic!()
        };
        assert_eq!(entries.len(), 1);
    }
}
