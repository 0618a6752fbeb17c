//! `wildcard` values: `*` stands for any run of characters (none included), `\*` for a
//! star and `\\` for a backslash.

/// A parsed wildcard: the literal pieces between the stars.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wildcard {
    /// Always one more piece than there are stars.
    pieces: Vec<String>,
}

impl Wildcard {
    /// Reads a wildcard value. Positions in the messages count bytes as EventBridge's
    /// parser does, which sees the value with its opening quote (so the first byte is 1).
    pub(crate) fn parse(text: &str) -> Result<Wildcard, String> {
        let bytes = text.as_bytes();
        let mut pieces = vec![Vec::new()];
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'*' => {
                    if bytes.get(index + 1) == Some(&b'*') {
                        return Err(format!(
                            "Consecutive wildcard characters at pos {}",
                            index + 1
                        ));
                    }
                    pieces.push(Vec::new());
                }
                b'\\' => match bytes.get(index + 1) {
                    Some(&next @ (b'*' | b'\\')) => {
                        pieces.last_mut().expect("never empty").push(next);
                        index += 1;
                    }
                    _ => return Err(format!("Invalid escape character at pos {}", index + 1)),
                },
                byte => pieces.last_mut().expect("never empty").push(byte),
            }
            index += 1;
        }
        let pieces = pieces
            .into_iter()
            // Pieces split only at ASCII bytes of valid UTF-8, so each is valid UTF-8.
            .map(|piece| String::from_utf8(piece).expect("split at ASCII bytes"))
            .collect();
        Ok(Wildcard { pieces })
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("never empty");
        let Some((last, middle)) = rest.split_last() else {
            return value == first;
        };
        let Some(after_first) = value.strip_prefix(first.as_str()) else {
            return false;
        };
        if after_first.len() < last.len() || !after_first.ends_with(last.as_str()) {
            return false;
        }
        // With only `*`, taking each middle piece at its leftmost place is never worse
        // than any other choice, so one pass decides.
        let mut remaining = &after_first[..after_first.len() - last.len()];
        for piece in middle {
            match remaining.find(piece.as_str()) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, value: &str) -> bool {
        Wildcard::parse(pattern)
            .expect("valid wildcard")
            .matches(value)
    }

    #[test]
    fn stars_match_any_run() {
        assert!(matches("Simple*Service", "SimpleQueueService"));
        assert!(matches("Simple*Service", "SimpleService"));
        assert!(!matches("Simple*Service", "SimpleQueue"));
        assert!(matches("*/lib/*", "usr/lib/x"));
        assert!(matches("*/lib/*", "/lib/"));
        assert!(!matches("*/lib/*", "usr/library"));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "axxbyybc"));
        assert!(!matches("a*b*c", "acb"));
        assert!(matches("*", ""));
        assert!(!matches("ab*ba", "aba"));
        assert!(matches("ab*ba", "abba"));
        assert!(matches("no-star", "no-star"));
        assert!(!matches("no-star", "no-stars"));
    }

    #[test]
    fn escapes() {
        assert!(matches(r"a\*b", "a*b"));
        assert!(!matches(r"a\*b", "axb"));
        assert!(matches(r"a\\*", r"a\anything"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            Wildcard::parse("a**b").expect_err("refused"),
            "Consecutive wildcard characters at pos 2"
        );
        assert_eq!(
            Wildcard::parse(r"a\b").expect_err("refused"),
            "Invalid escape character at pos 2"
        );
        assert_eq!(
            Wildcard::parse("a\\").expect_err("refused"),
            "Invalid escape character at pos 2"
        );
    }
}
