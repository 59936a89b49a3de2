//! Lexer and recursive-descent parser for RFC 7644 §3.4.2.2 filters and
//! §3.5.2 PATCH paths.
//!
//! Recursion happens only on `(` and `[`, each counted against
//! [`MAX_FILTER_DEPTH`], so no input can exhaust the stack. Precedence:
//! `or` < `and` < `not` / grouping / attribute expressions.

use super::{CompValue, CompareOp, Filter, FilterError, FilterErrorKind, MAX_FILTER_DEPTH, MAX_FILTER_LEN};
use crate::scim::path::{AttrPath, PatchPath};

#[derive(Clone, Debug)]
enum Tok<'a> {
    /// An attribute path or a keyword: `[A-Za-z$][A-Za-z0-9_:.$-]*`.
    Word(&'a str),
    Str(String),
    Number(serde_json::Number),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    End,
}

impl Tok<'_> {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("{w:?}"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Number(_) => "a number".to_owned(),
            Tok::LParen => "\"(\"".to_owned(),
            Tok::RParen => "\")\"".to_owned(),
            Tok::LBracket => "\"[\"".to_owned(),
            Tok::RBracket => "\"]\"".to_owned(),
            Tok::Dot => "\".\"".to_owned(),
            Tok::End => "the end of the filter".to_owned(),
        }
    }
}

/// Tokens with their byte offsets; the last one is [`Tok::End`].
fn lex(input: &str) -> Result<Vec<(usize, Tok<'_>)>, (usize, FilterErrorKind)> {
    let bytes = input.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        let tok = match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'.' => Tok::Dot,
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err((start, FilterErrorKind::UnterminatedString)),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                let literal = input.get(start..=i).ok_or((start, FilterErrorKind::UnterminatedString))?;
                let s = serde_json::from_str::<String>(literal).map_err(|_| (start, FilterErrorKind::InvalidString))?;
                i += 1;
                toks.push((start, Tok::Str(s)));
                continue;
            }
            b'-' | b'0'..=b'9' => {
                while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                let text = &input[start..i];
                let n = parse_number(text).ok_or_else(|| (start, FilterErrorKind::InvalidNumber(text.to_owned())))?;
                toks.push((start, Tok::Number(n)));
                continue;
            }
            b'$' | b'a'..=b'z' | b'A'..=b'Z' => {
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                toks.push((start, Tok::Word(&input[start..i])));
                continue;
            }
            _ => {
                let c = input[start..].chars().next().unwrap_or('\u{fffd}');
                return Err((start, FilterErrorKind::UnexpectedChar(c)));
            }
        };
        i += 1;
        toks.push((start, tok));
    }
    toks.push((input.len(), Tok::End));
    Ok(toks)
}

/// A JSON number: an integer when it is written as one and fits, otherwise
/// the nearest `f64` (`str::parse` rounds correctly, so what `Display`
/// prints parses back to the same value).
fn parse_number(text: &str) -> Option<serde_json::Number> {
    serde_json::from_str::<serde_json::Number>(text).ok()?;
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
    }
    serde_json::Number::from_f64(text.parse::<f64>().ok()?)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.' | b'$')
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus a leading `$` for `$ref`.
fn is_attr_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'$')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$'))
}

/// Splits a word into `[uri:]name[.sub]`: the URI is everything before the
/// last `:` (schema URNs contain dots, as in `2.0`).
fn word_to_path(word: &str) -> Option<AttrPath> {
    let (uri, rest) = match word.rfind(':') {
        Some(i) => (Some(&word[..i]), &word[i + 1..]),
        None => (None, word),
    };
    if uri.is_some_and(|u| u.is_empty() || u.ends_with(':')) {
        return None;
    }
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    if !is_attr_name(name) || sub.is_some_and(|s| !is_attr_name(s)) {
        return None;
    }
    Some(AttrPath { uri: uri.map(str::to_owned), name: name.to_owned(), sub_attr: sub.map(str::to_owned) })
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<(usize, Tok<'a>)>,
    pos: usize,
    depth: usize,
}

type PResult<T> = Result<T, FilterError>;

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> PResult<Self> {
        if input.len() > MAX_FILTER_LEN && input.chars().nth(MAX_FILTER_LEN).is_some() {
            return Err(FilterError { offset: MAX_FILTER_LEN, kind: FilterErrorKind::TooLong });
        }
        let toks = lex(input).map_err(|(at, kind)| FilterError { offset: char_offset(input, at), kind })?;
        Ok(Self { input, toks, pos: 0, depth: 0 })
    }

    fn peek(&self) -> &Tok<'a> {
        self.toks.get(self.pos).map_or(&Tok::End, |(_, t)| t)
    }

    fn peek_at(&self, ahead: usize) -> &Tok<'a> {
        self.toks.get(self.pos + ahead).map_or(&Tok::End, |(_, t)| t)
    }

    fn bump(&mut self) -> Tok<'a> {
        let tok = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        tok
    }

    fn error(&self, kind: FilterErrorKind) -> FilterError {
        let at = self.toks.get(self.pos).map_or(self.input.len(), |(at, _)| *at);
        FilterError { offset: char_offset(self.input, at), kind }
    }

    fn expected(&self, expected: &'static str) -> FilterError {
        self.error(FilterErrorKind::Expected { expected, found: self.peek().describe() })
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH { Err(self.error(FilterErrorKind::TooDeep)) } else { Ok(()) }
    }

    fn close(&mut self, tok: fn(&Tok<'a>) -> bool, expected: &'static str) -> PResult<()> {
        if !tok(self.peek()) {
            return Err(self.expected(expected));
        }
        self.bump();
        self.depth -= 1;
        Ok(())
    }

    fn end(&self) -> PResult<()> {
        if matches!(self.peek(), Tok::End) { Ok(()) } else { Err(self.expected("\"and\", \"or\" or the end")) }
    }

    fn or_expr(&mut self, in_brackets: bool) -> PResult<Filter> {
        let first = self.and_expr(in_brackets)?;
        if !self.is_keyword("or") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_keyword("or") {
            self.bump();
            items.push(self.and_expr(in_brackets)?);
        }
        Ok(Filter::Or(items))
    }

    fn and_expr(&mut self, in_brackets: bool) -> PResult<Filter> {
        let first = self.term(in_brackets)?;
        if !self.is_keyword("and") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_keyword("and") {
            self.bump();
            items.push(self.term(in_brackets)?);
        }
        Ok(Filter::And(items))
    }

    fn group(&mut self, in_brackets: bool) -> PResult<Filter> {
        self.bump(); // "("
        self.enter()?;
        let inner = self.or_expr(in_brackets)?;
        self.close(|t| matches!(t, Tok::RParen), "\")\"")?;
        Ok(inner)
    }

    fn term(&mut self, in_brackets: bool) -> PResult<Filter> {
        match self.peek().clone() {
            Tok::LParen => self.group(in_brackets),
            Tok::Word(w) if w.eq_ignore_ascii_case("not") && matches!(self.peek_at(1), Tok::LParen) => {
                self.bump();
                Ok(Filter::Not(Box::new(self.group(in_brackets)?)))
            }
            Tok::Word(w) => {
                let path = self.attr_path(w)?;
                self.bump();
                self.after_path(path, in_brackets)
            }
            _ => Err(self.expected("an attribute path, \"not (\" or \"(\"")),
        }
    }

    fn attr_path(&self, word: &str) -> PResult<AttrPath> {
        word_to_path(word).ok_or_else(|| self.error(FilterErrorKind::InvalidAttrPath(word.to_owned())))
    }

    fn after_path(&mut self, path: AttrPath, in_brackets: bool) -> PResult<Filter> {
        match self.peek().clone() {
            Tok::LBracket => {
                if in_brackets {
                    return Err(self.error(FilterErrorKind::NestedValuePath));
                }
                if path.sub_attr.is_some() {
                    return Err(self.error(FilterErrorKind::InvalidAttrPath(path.to_string())));
                }
                let filter = self.brackets()?;
                Ok(Filter::ValuePath { path, filter: Box::new(filter) })
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("pr") => {
                self.bump();
                Ok(Filter::Present(path))
            }
            Tok::Word(w) => {
                let Some(op) = CompareOp::from_keyword(w) else {
                    return Err(self.expected("an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"));
                };
                self.bump();
                let value = self.comp_value()?;
                Ok(Filter::Compare { path, op, value })
            }
            _ => Err(self.expected("an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")),
        }
    }

    fn brackets(&mut self) -> PResult<Filter> {
        self.bump(); // "["
        self.enter()?;
        let filter = self.or_expr(true)?;
        self.close(|t| matches!(t, Tok::RBracket), "\"]\"")?;
        Ok(filter)
    }

    fn comp_value(&mut self) -> PResult<CompValue> {
        let value = match self.peek() {
            Tok::Str(s) => CompValue::Str(s.clone()),
            Tok::Number(n) => CompValue::Number(n.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => return Err(self.expected("a value (a string, a number, true, false or null)")),
        };
        self.bump();
        Ok(value)
    }
}

fn char_offset(input: &str, byte: usize) -> usize {
    input.get(..byte).map_or(byte, |s| s.chars().count())
}

pub(crate) fn parse_filter(input: &str) -> PResult<Filter> {
    let mut p = Parser::new(input)?;
    let filter = p.or_expr(false)?;
    p.end()?;
    Ok(filter)
}

pub(crate) fn parse_attr_path(input: &str) -> PResult<AttrPath> {
    let mut p = Parser::new(input)?;
    let Tok::Word(w) = p.peek().clone() else { return Err(p.expected("an attribute path")) };
    let path = p.attr_path(w)?;
    p.bump();
    p.end()?;
    Ok(path)
}

pub(crate) fn parse_patch_path(input: &str) -> PResult<PatchPath> {
    let mut p = Parser::new(input)?;
    let Tok::Word(w) = p.peek().clone() else { return Err(p.expected("an attribute path")) };
    let mut attr = p.attr_path(w)?;
    p.bump();
    let mut filter = None;
    if matches!(p.peek(), Tok::LBracket) {
        if attr.sub_attr.is_some() {
            return Err(p.error(FilterErrorKind::InvalidAttrPath(attr.to_string())));
        }
        filter = Some(p.brackets()?);
        if matches!(p.peek(), Tok::Dot) {
            p.bump();
            match p.peek().clone() {
                Tok::Word(sub) if is_attr_name(sub) => attr.sub_attr = Some(sub.to_owned()),
                _ => return Err(p.expected("a sub-attribute name")),
            }
            p.bump();
        }
    }
    if !matches!(p.peek(), Tok::End) {
        return Err(p.expected("the end of the path"));
    }
    Ok(PatchPath { attr, filter })
}
