//! Syntax: tokens → raw trees with placeholders still unresolved. This is DynamoDB's grammar
//! (the DAX client's `DynamoDbGrammar.g4` mirrors it; dynalite's PEG grammars agree):
//!
//! ```text
//! condition  := or
//! or         := and (OR or)?            and := not (AND and)?
//! not        := NOT not | primary
//! primary    := operand comparator operand | operand BETWEEN operand AND operand
//!             | operand IN '(' operand (',' operand)* ')' | function | '(' condition ')'
//! operand    := path | :value | function | '(' operand ')'
//! function   := ID '(' operand (',' operand)* ')'
//! path       := id ('.' id | '[' INDEX ']')*      id := ID | #name
//! update     := (SET set (',' set)* | REMOVE path (',' path)* | ADD path :value (',' …)*
//!               | DELETE path :value (',' …)*)+
//! set        := path '=' (operand | arith)        arith := operand ('+'|'-') operand | '(' arith ')'
//! projection := path (',' path)*
//! ```
//!
//! Precedence (high to low): comparisons / IN / BETWEEN / functions, parentheses, NOT, AND, OR.
//! Doubled parentheses around a condition, operand or arithmetic are recorded as
//! "redundant parentheses" (reported by the checks in `lower.rs` with DynamoDB's priority).
//!
//! The parser is recursive descent with backtracking where the grammar needs it (a `(` may
//! open an operand or a condition group). A syntax error names the furthest token that could
//! not be accepted, and shows the source from the token before it to the token after it, which
//! is the shape of DynamoDB's `Syntax error; token: "b", near: "a b"`. Recursion is bounded by
//! [`super::NESTING_MAX`].

use super::NESTING_MAX;
use super::ast::Comparator;
use super::error::{ExprError, ExprKind, Invalid};
use super::lexer::{Keyword, Tok, Token, lex};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawElem {
    /// A bare identifier (checked against the reserved words).
    Id(String),
    /// `#name`.
    Name(String),
    /// The digits of a list index.
    Index(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawPath(pub Vec<RawElem>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawOperand {
    Path(RawPath),
    /// `:value`.
    Value(String),
    Func(RawFunc),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawFunc {
    pub name: String,
    pub args: Vec<RawOperand>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawCond {
    Cmp(Comparator, RawOperand, RawOperand),
    Between(RawOperand, RawOperand, RawOperand),
    In(RawOperand, Vec<RawOperand>),
    Func(RawFunc),
    Not(Box<RawCond>),
    And(Box<RawCond>, Box<RawCond>),
    Or(Box<RawCond>, Box<RawCond>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawSetValue {
    Operand(RawOperand),
    Plus(RawOperand, RawOperand),
    Minus(RawOperand, RawOperand),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Set,
    Remove,
    Add,
    Delete,
}

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::Set => "SET",
            Section::Remove => "REMOVE",
            Section::Add => "ADD",
            Section::Delete => "DELETE",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawAction {
    Set(RawPath, RawSetValue),
    Remove(RawPath),
    Add(RawPath, String),
    Delete(RawPath, String),
}

/// A parsed tree and whether doubled parentheses were seen.
pub(crate) struct Parsed<T> {
    pub tree: T,
    pub redundant_parens: bool,
}

/// Why a parse function gave up: a backtrackable mismatch (its token index is in
/// `Parser::furthest`) or a final error.
enum Stop {
    Mismatch,
    Fatal(ExprError),
}

type P<T> = Result<T, Stop>;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    kind: ExprKind,
    furthest: usize,
    redundant: bool,
    depth: usize,
}

pub(crate) fn parse_condition(src: &str, kind: ExprKind) -> Result<Parsed<RawCond>, ExprError> {
    run(src, kind, |p| p.or().map(|(c, _)| c))
}

/// An update's sections in source order, each with its actions.
pub(crate) type RawUpdate = Vec<(Section, Vec<RawAction>)>;

pub(crate) fn parse_update(src: &str) -> Result<Parsed<RawUpdate>, ExprError> {
    run(src, ExprKind::Update, |p| p.update())
}

pub(crate) fn parse_projection(src: &str) -> Result<Parsed<Vec<RawPath>>, ExprError> {
    run(src, ExprKind::Projection, |p| p.list(|p| p.path()))
}

fn run<T>(
    src: &str,
    kind: ExprKind,
    rule: impl FnOnce(&mut Parser<'_>) -> P<T>,
) -> Result<Parsed<T>, ExprError> {
    if src.len() > super::EXPRESSION_BYTES_MAX {
        return Err(ExprError::invalid(
            kind,
            Invalid::TooLong { size: src.len() },
        ));
    }
    let toks = lex(src, kind)?;
    if toks.len() == 1 {
        return Err(ExprError::invalid(kind, Invalid::Empty));
    }
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        kind,
        furthest: 0,
        redundant: false,
        depth: 0,
    };
    let result = rule(&mut p).and_then(|tree| {
        p.expect(Tok::Eof)?;
        Ok(tree)
    });
    match result {
        Ok(tree) => Ok(Parsed {
            tree,
            redundant_parens: p.redundant,
        }),
        Err(Stop::Fatal(e)) => Err(e),
        Err(Stop::Mismatch) => Err(p.syntax_error()),
    }
}

/// `a OP b OP c` as `a OP (b OP c)` (DynamoDB's AND and OR are right-associative). Built
/// iteratively so long chains do not recurse while parsing.
fn fold_right(
    first: RawCond,
    grouped: bool,
    rest: Vec<RawCond>,
    op: fn(Box<RawCond>, Box<RawCond>) -> RawCond,
) -> (RawCond, bool) {
    let mut all = rest;
    let Some(mut acc) = all.pop() else {
        return (first, grouped);
    };
    while let Some(prev) = all.pop() {
        acc = op(Box::new(prev), Box::new(acc));
    }
    (op(Box::new(first), Box::new(acc)), false)
}

impl Parser<'_> {
    fn peek(&self) -> Tok {
        self.toks[self.pos].tok
    }

    fn peek_at(&self, ahead: usize) -> Tok {
        self.toks.get(self.pos + ahead).map_or(Tok::Eof, |t| t.tok)
    }

    fn text(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.src[t.start..t.end]
    }

    fn fail<T>(&mut self) -> P<T> {
        self.furthest = self.furthest.max(self.pos);
        Err(Stop::Mismatch)
    }

    fn expect(&mut self, tok: Tok) -> P<()> {
        if self.peek() == tok {
            self.pos += 1;
            Ok(())
        } else {
            self.fail()
        }
    }

    fn eat(&mut self, tok: Tok) -> bool {
        let hit = self.peek() == tok;
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn syntax_error(&self) -> ExprError {
        let i = self.furthest.min(self.toks.len() - 1);
        let token = match self.toks[i].tok {
            Tok::Eof => "<EOF>".to_owned(),
            _ => self.text(i).to_owned(),
        };
        let start = self.toks[i.saturating_sub(1)].start;
        let end = self.toks[(i + 1).min(self.toks.len() - 1)].end;
        ExprError::invalid(
            self.kind,
            Invalid::Syntax {
                token,
                near: self.src[start..end].to_owned(),
            },
        )
    }

    /// Runs `rule` one nesting level deeper.
    fn nested<T>(&mut self, rule: impl FnOnce(&mut Self) -> P<T>) -> P<T> {
        self.depth += 1;
        if self.depth > NESTING_MAX {
            return Err(Stop::Fatal(ExprError::invalid(
                self.kind,
                Invalid::TooDeep { levels: self.depth },
            )));
        }
        let r = rule(self);
        self.depth -= 1;
        r
    }

    /// Tries `rule`; on a mismatch restores the position and the redundancy flag.
    fn attempt<T>(&mut self, rule: impl FnOnce(&mut Self) -> P<T>) -> P<T> {
        let (pos, redundant) = (self.pos, self.redundant);
        let r = rule(self);
        if matches!(r, Err(Stop::Mismatch)) {
            self.pos = pos;
            self.redundant = redundant;
        }
        r
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> P<T>) -> P<Vec<T>> {
        let mut out = vec![item(self)?];
        while self.eat(Tok::Comma) {
            out.push(item(self)?);
        }
        Ok(out)
    }

    // ---- conditions. Each returns whether the result is a bare parenthesized group. ----

    fn or(&mut self) -> P<(RawCond, bool)> {
        let (first, grouped) = self.and()?;
        let mut rest = Vec::new();
        while self.eat(Tok::Kw(Keyword::Or)) {
            rest.push(self.and()?.0);
        }
        Ok(fold_right(first, grouped, rest, RawCond::Or))
    }

    fn and(&mut self) -> P<(RawCond, bool)> {
        let (first, grouped) = self.not()?;
        let mut rest = Vec::new();
        while self.eat(Tok::Kw(Keyword::And)) {
            rest.push(self.not()?.0);
        }
        Ok(fold_right(first, grouped, rest, RawCond::And))
    }

    fn not(&mut self) -> P<(RawCond, bool)> {
        if self.eat(Tok::Kw(Keyword::Not)) {
            let (inner, _) = self.nested(Self::not)?;
            return Ok((RawCond::Not(Box::new(inner)), false));
        }
        self.primary()
    }

    fn primary(&mut self) -> P<(RawCond, bool)> {
        let first = self.attempt(Self::operand_condition);
        match first {
            Ok(c) => Ok((c, false)),
            Err(Stop::Fatal(e)) => Err(Stop::Fatal(e)),
            Err(Stop::Mismatch) if self.peek() == Tok::LParen => {
                self.pos += 1;
                let (inner, grouped) = self.nested(Self::or)?;
                self.expect(Tok::RParen)?;
                if grouped {
                    self.redundant = true;
                }
                Ok((inner, true))
            }
            Err(Stop::Mismatch) => Err(Stop::Mismatch),
        }
    }

    fn operand_condition(&mut self) -> P<RawCond> {
        let (left, _) = self.operand()?;
        let cmp = match self.peek() {
            Tok::Eq => Some(Comparator::Eq),
            Tok::Ne => Some(Comparator::Ne),
            Tok::Lt => Some(Comparator::Lt),
            Tok::Le => Some(Comparator::Le),
            Tok::Gt => Some(Comparator::Gt),
            Tok::Ge => Some(Comparator::Ge),
            _ => None,
        };
        if let Some(cmp) = cmp {
            self.pos += 1;
            let (right, _) = self.operand()?;
            return Ok(RawCond::Cmp(cmp, left, right));
        }
        if self.eat(Tok::Kw(Keyword::Between)) {
            let (lower, _) = self.operand()?;
            self.expect(Tok::Kw(Keyword::And))?;
            let (upper, _) = self.operand()?;
            return Ok(RawCond::Between(left, lower, upper));
        }
        if self.eat(Tok::Kw(Keyword::In)) {
            self.expect(Tok::LParen)?;
            let list = self.list(|p| p.operand().map(|(o, _)| o))?;
            self.expect(Tok::RParen)?;
            return Ok(RawCond::In(left, list));
        }
        match left {
            RawOperand::Func(f) => Ok(RawCond::Func(f)),
            _ => self.fail(),
        }
    }

    /// An operand, and whether it is a bare parenthesized one.
    fn operand(&mut self) -> P<(RawOperand, bool)> {
        match self.peek() {
            Tok::LParen => {
                self.pos += 1;
                let (inner, grouped) = self.nested(Self::operand)?;
                self.expect(Tok::RParen)?;
                if grouped {
                    self.redundant = true;
                }
                Ok((inner, true))
            }
            Tok::ValueRef => {
                self.pos += 1;
                Ok((RawOperand::Value(self.text(self.pos - 1).to_owned()), false))
            }
            Tok::Id if self.peek_at(1) == Tok::LParen => {
                let name = self.text(self.pos).to_owned();
                self.pos += 2;
                let args = self.nested(|p| p.list(|p| p.operand().map(|(o, _)| o)))?;
                self.expect(Tok::RParen)?;
                Ok((RawOperand::Func(RawFunc { name, args }), false))
            }
            _ => Ok((RawOperand::Path(self.path()?), false)),
        }
    }

    fn path(&mut self) -> P<RawPath> {
        let mut elems = vec![self.path_id()?];
        loop {
            if self.eat(Tok::Dot) {
                elems.push(self.path_id()?);
            } else if self.eat(Tok::LBracket) {
                if self.peek() != Tok::Index {
                    return self.fail();
                }
                elems.push(RawElem::Index(self.text(self.pos).to_owned()));
                self.pos += 1;
                self.expect(Tok::RBracket)?;
            } else {
                return Ok(RawPath(elems));
            }
        }
    }

    fn path_id(&mut self) -> P<RawElem> {
        let elem = match self.peek() {
            Tok::Id => RawElem::Id(self.text(self.pos).to_owned()),
            Tok::NameRef => RawElem::Name(self.text(self.pos).to_owned()),
            _ => return self.fail(),
        };
        self.pos += 1;
        Ok(elem)
    }

    // ---- updates ----

    fn update(&mut self) -> P<Vec<(Section, Vec<RawAction>)>> {
        let mut sections = Vec::new();
        loop {
            let section = match self.peek() {
                Tok::Kw(Keyword::Set) => Section::Set,
                Tok::Kw(Keyword::Remove) => Section::Remove,
                Tok::Kw(Keyword::Add) => Section::Add,
                Tok::Kw(Keyword::Delete) => Section::Delete,
                _ if !sections.is_empty() => return Ok(sections),
                _ => return self.fail(),
            };
            self.pos += 1;
            let actions = self.list(|p| p.action(section))?;
            sections.push((section, actions));
        }
    }

    fn action(&mut self, section: Section) -> P<RawAction> {
        let path = self.path()?;
        match section {
            Section::Set => {
                self.expect(Tok::Eq)?;
                Ok(RawAction::Set(path, self.set_value()?))
            }
            Section::Remove => Ok(RawAction::Remove(path)),
            Section::Add | Section::Delete => {
                if self.peek() != Tok::ValueRef {
                    return self.fail();
                }
                let value = self.text(self.pos).to_owned();
                self.pos += 1;
                Ok(match section {
                    Section::Add => RawAction::Add(path, value),
                    _ => RawAction::Delete(path, value),
                })
            }
        }
    }

    fn set_value(&mut self) -> P<RawSetValue> {
        match self.attempt(Self::operand_or_arith) {
            Err(Stop::Mismatch) if self.peek() == Tok::LParen => {
                self.arith_parens().map(|(v, _)| v)
            }
            other => other,
        }
    }

    fn operand_or_arith(&mut self) -> P<RawSetValue> {
        let (left, _) = self.operand()?;
        self.arith_tail(left)
    }

    fn arith_tail(&mut self, left: RawOperand) -> P<RawSetValue> {
        let plus = match self.peek() {
            Tok::Plus => true,
            Tok::Minus => false,
            _ => return Ok(RawSetValue::Operand(left)),
        };
        self.pos += 1;
        let (right, _) = self.operand()?;
        Ok(if plus {
            RawSetValue::Plus(left, right)
        } else {
            RawSetValue::Minus(left, right)
        })
    }

    /// `'(' arith ')'`, where arith is `operand ± operand` or another parenthesized arith.
    fn arith_parens(&mut self) -> P<(RawSetValue, bool)> {
        self.expect(Tok::LParen)?;
        let inner = self.nested(|p| {
            let first = p.attempt(|p| {
                let (left, _) = p.operand()?;
                match p.arith_tail(left)? {
                    RawSetValue::Operand(_) => p.fail(),
                    v => Ok((v, false)),
                }
            });
            match first {
                Err(Stop::Mismatch) if p.peek() == Tok::LParen => p.arith_parens(),
                other => other,
            }
        })?;
        self.expect(Tok::RParen)?;
        if inner.1 {
            self.redundant = true;
        }
        Ok((inner.0, true))
    }
}
