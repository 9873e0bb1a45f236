//! Tokens of DynamoDB's expression language, as DynamoDB's ANTLR lexer cuts them (the grammar
//! is mirrored in the DAX client's `Tokens.g4`):
//!
//! * whitespace `[ \t\n\r]` separates tokens and is otherwise ignored;
//! * operators `= <> < <= > >= + -` and punctuation `( ) , . [ ]`;
//! * keywords `IN BETWEEN NOT AND OR SET ADD DELETE REMOVE`, any letter case, in every kind of
//!   expression (so `set` is never a name);
//! * `INDEX`: `0` or `[1-9][0-9]*` (so `01` is two tokens);
//! * `ID`: `[a-zA-Z][a-zA-Z_0-9]*`; `#[a-zA-Z_0-9]+` name and `:[a-zA-Z_0-9]+` value
//!   placeholders;
//! * anything else is a one-character `Unknown` token, which no grammar rule accepts.
//!
//! Longest match wins; on a tie a keyword beats `ID`. Offsets are byte offsets into the source.

use super::PLACEHOLDER_BYTES_MAX;
use super::error::{ExprError, ExprKind, Invalid};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    In,
    Between,
    Not,
    And,
    Or,
    Set,
    Add,
    Delete,
    Remove,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    LParen,
    RParen,
    Comma,
    Dot,
    LBracket,
    RBracket,
    Kw(Keyword),
    Index,
    Id,
    NameRef,
    ValueRef,
    Unknown,
    Eof,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

fn id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn keyword(text: &str) -> Option<Keyword> {
    const KEYWORDS: [(&str, Keyword); 9] = [
        ("IN", Keyword::In),
        ("BETWEEN", Keyword::Between),
        ("NOT", Keyword::Not),
        ("AND", Keyword::And),
        ("OR", Keyword::Or),
        ("SET", Keyword::Set),
        ("ADD", Keyword::Add),
        ("DELETE", Keyword::Delete),
        ("REMOVE", Keyword::Remove),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(text))
        .map(|&(_, kw)| kw)
}

/// Cuts `src` into tokens, ending with one `Eof` token at `src.len()`.
pub(crate) fn lex(src: &str, kind: ExprKind) -> Result<Vec<Token>, ExprError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let b = bytes[at];
        let start = at;
        let single = |tok| (tok, start + 1);
        let (tok, end) = match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                at += 1;
                continue;
            }
            b'=' => single(Tok::Eq),
            b'<' => match bytes.get(at + 1) {
                Some(b'>') => (Tok::Ne, at + 2),
                Some(b'=') => (Tok::Le, at + 2),
                _ => single(Tok::Lt),
            },
            b'>' => match bytes.get(at + 1) {
                Some(b'=') => (Tok::Ge, at + 2),
                _ => single(Tok::Gt),
            },
            b'+' => single(Tok::Plus),
            b'-' => single(Tok::Minus),
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b',' => single(Tok::Comma),
            b'.' => single(Tok::Dot),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b'0' => single(Tok::Index),
            b'1'..=b'9' => {
                let mut end = at + 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                (Tok::Index, end)
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                let mut end = at + 1;
                while end < bytes.len() && id_char(bytes[end]) {
                    end += 1;
                }
                match keyword(&src[at..end]) {
                    Some(kw) => (Tok::Kw(kw), end),
                    None => (Tok::Id, end),
                }
            }
            b'#' | b':' if bytes.get(at + 1).is_some_and(|&c| id_char(c)) => {
                let mut end = at + 1;
                while end < bytes.len() && id_char(bytes[end]) {
                    end += 1;
                }
                if end - at > PLACEHOLDER_BYTES_MAX {
                    return Err(ExprError::invalid(
                        kind,
                        Invalid::PlaceholderTooLong {
                            token: src[at..end].to_owned(),
                        },
                    ));
                }
                let tok = if b == b'#' {
                    Tok::NameRef
                } else {
                    Tok::ValueRef
                };
                (tok, end)
            }
            _ => {
                // One whole character, never part of a UTF-8 sequence.
                let len = src[at..].chars().next().map_or(1, char::len_utf8);
                (Tok::Unknown, at + len)
            }
        };
        out.push(Token { tok, start, end });
        at = end;
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}
