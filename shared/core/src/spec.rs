//! The image compatibility spec (v1alpha1) as NFD's Go types hold it after decoding, with the
//! source span of every part so that evaluation errors and lint point at what the author wrote.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::goregex::{self, PatternError, Regex};
use crate::source::Span;
use crate::{gostr, version};

pub const SPEC_VERSION: &str = "v1alpha1";

#[derive(Clone, Debug, Default)]
pub struct Spec {
    pub version: String,
    pub compatibilities: Vec<Compatibility>,
    /// Span of the `version` value; `None` when the key is absent.
    pub version_span: Option<Span>,
    pub compatibilities_span: Option<Span>,
}

#[derive(Clone, Debug, Default)]
pub struct Compatibility {
    pub rules: Vec<Rule>,
    pub weight: i64,
    pub tag: String,
    pub description: String,
    pub span: Span,
    pub rules_span: Option<Span>,
    pub weight_span: Option<Span>,
    pub tag_span: Option<Span>,
}

#[derive(Clone, Debug, Default)]
pub struct Rule {
    pub name: String,
    pub vars: BTreeMap<String, String>,
    pub vars_template: String,
    pub vars_template_span: Span,
    pub match_features: Vec<Term>,
    pub match_any: Vec<MatchAnyElem>,
    pub span: Span,
    pub name_span: Option<Span>,
    pub match_features_span: Option<Span>,
    pub match_any_span: Option<Span>,
}

#[derive(Clone, Debug, Default)]
pub struct MatchAnyElem {
    pub match_features: Vec<Term>,
    pub span: Span,
}

/// One `matchFeatures` entry.
#[derive(Clone, Debug, Default)]
pub struct Term {
    /// As written; the report repeats this spelling.
    pub feature: String,
    /// Lower-cased, as NFD looks it up.
    pub lookup: String,
    /// `None` when absent or null (which NFD treats differently from `{}`).
    pub match_expressions: Option<Vec<NamedExpr>>,
    pub match_name: Option<Expr>,
    pub span: Span,
    pub feature_span: Span,
}

/// One `matchExpressions` entry: element name and expression. A null expression (`foo: ~`)
/// decodes to a nil pointer in Go, which NFD dereferences when it evaluates it.
#[derive(Clone, Debug)]
pub struct NamedExpr {
    pub name: String,
    pub expr: Option<Expr>,
    pub name_span: Span,
}

/// A match expression. The derived forms (regexes, integers, versions) are computed once here,
/// but their errors surface only where NFD would raise them: when evaluated against a value.
#[derive(Clone, Debug)]
pub struct Expr {
    pub op: String,
    pub value: Vec<String>,
    pub value_type: String,
    pub span: Span,
    pub spans: ExprSpans,
    pub(crate) parsed: Parsed,
}

/// Where each part of an expression was written (`None`: not written).
#[derive(Clone, Debug, Default)]
pub struct ExprSpans {
    pub op: Option<Span>,
    pub value: Option<Span>,
    /// Whether `value` was written as a list (a scalar there is a decode error instead).
    pub value_is_list: bool,
    pub items: Vec<Span>,
    pub value_type: Option<Span>,
}

#[derive(Clone, Debug)]
pub(crate) struct Parsed {
    pub op: Option<Op>,
    /// Each `InRegexp` pattern compiled, or why Go would refuse it (empty for other ops).
    pub regexes: Vec<Result<Regex, PatternError>>,
    pub ints: Vec<Option<i64>>,
    pub versions: Vec<Option<version::Version>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// The empty op (`""`, Go's `MatchAny`): always true.
    Any,
    In,
    NotIn,
    InRegexp,
    Exists,
    DoesNotExist,
    Gt,
    Ge,
    Lt,
    Le,
    GtLt,
    GeLe,
    IsTrue,
    IsFalse,
}

impl Op {
    pub const ALL: [Op; 14] = [
        Op::Any,
        Op::In,
        Op::NotIn,
        Op::InRegexp,
        Op::Exists,
        Op::DoesNotExist,
        Op::Gt,
        Op::Ge,
        Op::Lt,
        Op::Le,
        Op::GtLt,
        Op::GeLe,
        Op::IsTrue,
        Op::IsFalse,
    ];

    /// Op names are case-sensitive in NFD.
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Any => "",
            Op::In => "In",
            Op::NotIn => "NotIn",
            Op::InRegexp => "InRegexp",
            Op::Exists => "Exists",
            Op::DoesNotExist => "DoesNotExist",
            Op::Gt => "Gt",
            Op::Ge => "Ge",
            Op::Lt => "Lt",
            Op::Le => "Le",
            Op::GtLt => "GtLt",
            Op::GeLe => "GeLe",
            Op::IsTrue => "IsTrue",
            Op::IsFalse => "IsFalse",
        }
    }

    /// How many values the op takes: `None` for "one or more".
    pub fn value_count(self) -> Option<usize> {
        match self {
            Op::Any | Op::Exists | Op::DoesNotExist | Op::IsTrue | Op::IsFalse => Some(0),
            Op::Gt | Op::Ge | Op::Lt | Op::Le => Some(1),
            Op::GtLt | Op::GeLe => Some(2),
            Op::In | Op::NotIn | Op::InRegexp => None,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::GtLt | Op::GeLe
        )
    }
}

impl Expr {
    pub fn new(
        op: String,
        value: Vec<String>,
        value_type: String,
        span: Span,
        spans: ExprSpans,
    ) -> Expr {
        Expr::with_regex_compiler(op, value, value_type, span, spans, &mut goregex::compile)
    }

    /// Like [`Expr::new`], compiling `InRegexp` patterns with `compile` (a decoder passes a
    /// caching compiler: specs repeat patterns, and compiling dominates decoding).
    pub fn with_regex_compiler(
        op: String,
        value: Vec<String>,
        value_type: String,
        span: Span,
        spans: ExprSpans,
        compile: &mut dyn FnMut(&str) -> Result<Regex, PatternError>,
    ) -> Expr {
        let parsed_op = Op::parse(&op);
        let regexes = if parsed_op == Some(Op::InRegexp) {
            value.iter().map(|p| compile(p)).collect()
        } else {
            Vec::new()
        };
        let numeric = parsed_op.is_some_and(Op::is_numeric);
        let ints = if numeric && value_type.is_empty() {
            value.iter().map(|v| gostr::atoi(v)).collect()
        } else {
            Vec::new()
        };
        let versions = if numeric && value_type == "version" {
            value.iter().map(|v| version::parse(v)).collect()
        } else {
            Vec::new()
        };
        Expr {
            op,
            value,
            value_type,
            span,
            spans,
            parsed: Parsed {
                op: parsed_op,
                regexes,
                ints,
                versions,
            },
        }
    }

    pub fn op(&self) -> Option<Op> {
        self.parsed.op
    }

    /// The `InRegexp` patterns that do not compile: (index in `value`, reason).
    pub fn regex_errors(&self) -> impl Iterator<Item = (usize, &PatternError)> {
        self.parsed
            .regexes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e)))
    }
}

/// Go's `MatchExpression.String()`: `{op: "In", value: ["a" "b"]}`, or `{op: "Exists"}`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{op: {}", gostr::quote(&self.op))?;
        if !self.value.is_empty() {
            let values: Vec<String> = self.value.iter().map(|v| gostr::quote(v)).collect();
            write!(f, ", value: [{}]", values.join(" "))?;
        }
        write!(f, "}}")
    }
}

/// The JSON NFD's report uses: `{"op", "value"?, "type"?}`.
impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("op", &self.op)?;
        if !self.value.is_empty() {
            map.serialize_entry("value", &self.value)?;
        }
        if !self.value_type.is_empty() {
            map.serialize_entry("type", &self.value_type)?;
        }
        map.end()
    }
}

impl Term {
    /// Every expression of the term with the element it applies to (`None` for matchName).
    pub fn expressions(&self) -> impl Iterator<Item = (Option<&str>, &Expr)> {
        self.match_expressions
            .iter()
            .flatten()
            .filter_map(|ne| ne.expr.as_ref().map(|e| (Some(ne.name.as_str()), e)))
            .chain(self.match_name.iter().map(|e| (None, e)))
    }
}

impl Rule {
    /// Every term of the rule: `matchFeatures` first, then each `matchAny` element's.
    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.match_features
            .iter()
            .chain(self.match_any.iter().flat_map(|m| m.match_features.iter()))
    }
}

impl Spec {
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.compatibilities.iter().flat_map(|c| c.rules.iter())
    }
}
