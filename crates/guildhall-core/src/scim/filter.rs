//! SCIM filter expressions, RFC 7644 §3.4.2.2
//! (<https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2>): the AST, its
//! canonical printing and the limits on what the parser accepts.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER        ; "and" binds tighter
//! compValue = false / null / true / number / string     ; JSON (RFC 8259)
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! ```
//!
//! Keywords are case-insensitive (ABNF strings are). The parser is a
//! hand-written recursive descent (`parser.rs`): input longer than
//! [`MAX_FILTER_LEN`] characters or nested deeper than [`MAX_FILTER_DEPTH`]
//! brackets is refused before it can exhaust the stack, and `and`/`or`
//! chains are n-ary so a long flat chain stays one level deep.

pub(crate) mod parser;
#[cfg(test)]
mod tests;

use std::fmt;

use super::path::AttrPath;
use super::{ScimError, ScimType};

/// The longest filter accepted, in characters.
pub const MAX_FILTER_LEN: usize = 4096;
/// The deepest nesting of `(`, `not (` and `[` accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

/// A parsed filter.
///
/// `And` and `Or` hold at least two operands (what the parser produces);
/// operands are kept in the order and grouping they were written, minus
/// redundant parentheses, so `a and (b and c)` and `a and b and c` differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `attrPath op compValue`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`
    Present(AttrPath),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// `not ( … )`
    Not(Box<Filter>),
    /// `attrPath[valFilter]`: some value of a complex attribute matches
    /// `filter`, whose paths name sub-attributes.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// The comparison operators of RFC 7644 §3.4.2.2, Table 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison value: a JSON literal other than an object or array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompValue {
    Str(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
}

/// Why a filter (or a PATCH path) was refused. Its `Display` is meant for a
/// client: the `detail` of an `invalidFilter` error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at character {offset})")]
pub struct FilterError {
    /// Character offset in the input where the problem was found.
    pub offset: usize,
    pub kind: FilterErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterErrorKind {
    #[error("the filter is longer than {MAX_FILTER_LEN} characters")]
    TooLong,
    #[error("the filter nests deeper than {MAX_FILTER_DEPTH} levels")]
    TooDeep,
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    #[error("unterminated string")]
    UnterminatedString,
    #[error("invalid string literal")]
    InvalidString,
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    #[error("invalid attribute path {0:?}")]
    InvalidAttrPath(String),
    #[error("expected {expected}, found {found}")]
    Expected { expected: &'static str, found: String },
    #[error("a value path cannot contain another value path")]
    NestedValuePath,
}

impl Filter {
    /// Parses a filter (the `filter` query parameter or `.search` member).
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        parser::parse_filter(input)
    }

    /// `a and b`, flattening `a` when it is already an `and` chain (the shape
    /// the parser gives `a and b and c`).
    pub fn and(left: Filter, right: Filter) -> Self {
        match left {
            Filter::And(mut items) => {
                items.push(right);
                Filter::And(items)
            }
            left => Filter::And(vec![left, right]),
        }
    }

    /// `a or b`, flattening like [`Filter::and`].
    pub fn or(left: Filter, right: Filter) -> Self {
        match left {
            Filter::Or(mut items) => {
                items.push(right);
                Filter::Or(items)
            }
            left => Filter::Or(vec![left, right]),
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::new(ScimType::InvalidFilter, e.to_string())
    }
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] =
        [Self::Eq, Self::Ne, Self::Co, Self::Sw, Self::Ew, Self::Gt, Self::Ge, Self::Lt, Self::Le];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// The operator named by a keyword, in any case.
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// `gt`, `ge`, `lt`, `le`: meaningless on booleans and binary data.
    pub const fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?),
            Self::Number(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Null => f.write_str("null"),
        }
    }
}

impl From<&str> for CompValue {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

/// Canonical form: lowercase keywords, single spaces, JSON-escaped strings,
/// parentheses only where grouping differs from precedence, so that
/// `Filter::parse(&f.to_string()) == Ok(f)` for every parsed filter (as long
/// as the canonical form stays within [`MAX_FILTER_LEN`]: it may be a little
/// longer than the input, which can omit spaces around a string).
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Self::Present(path) => write!(f, "{path} pr"),
            Self::And(items) => write_chain(f, items, " and ", |i| matches!(i, Self::And(_) | Self::Or(_))),
            Self::Or(items) => write_chain(f, items, " or ", |i| matches!(i, Self::Or(_))),
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn write_chain(
    f: &mut fmt::Formatter<'_>,
    items: &[Filter],
    sep: &str,
    needs_parens: impl Fn(&Filter) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}
