//! Splits expression text into tokens. The lexer never fails: characters that
//! start no token become one-character `Invalid` tokens, so the parser can
//! report them as DynamoDB does (`Syntax error; token: "!", near: "!!"`).

/// What a token is; its text is `source[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare name or keyword: `[A-Za-z_][A-Za-z0-9_]*`.
    Identifier,
    /// `#name`, an ExpressionAttributeNames placeholder.
    NamePlaceholder,
    /// `:value`, an ExpressionAttributeValues placeholder.
    ValuePlaceholder,
    /// A run of decimal digits (list indexes).
    Integer,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Dot,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Plus,
    Minus,
    /// A character that starts no token, or a lone `#` or `:`.
    Invalid,
    /// The end of the input; always the last token.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

fn is_name_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Tokenizes `source`; whitespace (space, tab, CR, LF) separates tokens.
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if matches!(byte, b' ' | b'\t' | b'\r' | b'\n') {
            index += 1;
            continue;
        }
        let start = index;
        let run_end = |from: usize, accept: fn(u8) -> bool| {
            let mut end = from;
            while end < bytes.len() && accept(bytes[end]) {
                end += 1;
            }
            end
        };
        let (kind, end) = match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                (TokenKind::Identifier, run_end(index, is_name_char))
            }
            b'0'..=b'9' => (TokenKind::Integer, run_end(index, |b| b.is_ascii_digit())),
            b'#' | b':' => {
                let end = run_end(index + 1, is_name_char);
                if end == index + 1 {
                    (TokenKind::Invalid, end)
                } else if byte == b'#' {
                    (TokenKind::NamePlaceholder, end)
                } else {
                    (TokenKind::ValuePlaceholder, end)
                }
            }
            b'(' => (TokenKind::LeftParen, index + 1),
            b')' => (TokenKind::RightParen, index + 1),
            b'[' => (TokenKind::LeftBracket, index + 1),
            b']' => (TokenKind::RightBracket, index + 1),
            b',' => (TokenKind::Comma, index + 1),
            b'.' => (TokenKind::Dot, index + 1),
            b'=' => (TokenKind::Equal, index + 1),
            b'+' => (TokenKind::Plus, index + 1),
            b'-' => (TokenKind::Minus, index + 1),
            b'<' => match bytes.get(index + 1) {
                Some(b'>') => (TokenKind::NotEqual, index + 2),
                Some(b'=') => (TokenKind::LessOrEqual, index + 2),
                _ => (TokenKind::Less, index + 1),
            },
            b'>' => match bytes.get(index + 1) {
                Some(b'=') => (TokenKind::GreaterOrEqual, index + 2),
                _ => (TokenKind::Greater, index + 1),
            },
            _ => {
                // One whole character, so multi-byte UTF-8 stays intact in messages.
                let width = source[index..].chars().next().map_or(1, char::len_utf8);
                (TokenKind::Invalid, index + width)
            }
        };
        tokens.push(Token { kind, start, end });
        index = end;
    }
    tokens.push(Token {
        kind: TokenKind::End,
        start: bytes.len(),
        end: bytes.len(),
    });
    tokens
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};

    use super::*;

    fn check(source: &str, expected: Expect) {
        let rendered: Vec<String> = tokenize(source)
            .iter()
            .map(|token| format!("{:?}({})", token.kind, &source[token.start..token.end]))
            .collect();
        expected.assert_eq(&rendered.join(" "));
    }

    #[test]
    fn tokens() {
        check(
            "a.b[10] <> :v AND #n>=size(x)",
            expect!["Identifier(a) Dot(.) Identifier(b) LeftBracket([) Integer(10) RightBracket(]) NotEqual(<>) ValuePlaceholder(:v) Identifier(AND) NamePlaceholder(#n) GreaterOrEqual(>=) Identifier(size) LeftParen(() Identifier(x) RightParen()) End()"],
        );
        check(
            "# : ! é",
            expect!["Invalid(#) Invalid(:) Invalid(!) Invalid(é) End()"],
        );
    }
}
