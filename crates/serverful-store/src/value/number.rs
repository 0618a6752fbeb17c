//! DynamoDB numbers: 38 significant decimal digits, exponent from -130 to +125,
//! kept in a normalized form so that equal numbers have equal representations.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use bigdecimal::BigDecimal;

use crate::error::{StoreError, StoreResult};

/// The most significant digits a DynamoDB number can carry.
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;
/// The largest decimal exponent (in `d.ddd × 10^e` form) DynamoDB accepts.
pub const MAX_EXPONENT: i64 = 125;
/// The smallest decimal exponent (in `d.ddd × 10^e` form) DynamoDB accepts.
pub const MIN_EXPONENT: i64 = -130;

/// A validated DynamoDB number.
///
/// The value is `±0.d₁d₂…dₙ × 10^exponent` with `d₁ ≠ 0` and `dₙ ≠ 0`; zero has no
/// digits. Because the form is unique, derived equality is numeric equality and
/// "1.50", "1.5" and "15E-1" are the same `Number`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Decimal digits 0..=9, without leading or trailing zeros.
    digits: Vec<u8>,
    /// Position of the decimal point relative to the first digit.
    exponent: i64,
}

impl Number {
    /// Zero.
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Parses a number as DynamoDB does (Java `BigDecimal` syntax) and checks
    /// DynamoDB's precision and range limits, with DynamoDB's messages.
    pub fn parse(text: &str) -> StoreResult<Number> {
        if text.is_empty() {
            return Err(StoreError::validation(
                "The parameter cannot be converted to a numeric value",
            ));
        }
        let number = parse_unchecked(text).ok_or_else(|| {
            StoreError::validation(format!(
                "The parameter cannot be converted to a numeric value: {text}"
            ))
        })?;
        number.check_limits()?;
        Ok(number)
    }

    /// Rejects numbers outside DynamoDB's range or precision.
    fn check_limits(&self) -> StoreResult<()> {
        if self.digits.is_empty() {
            return Ok(());
        }
        let scientific_exponent = self.exponent - 1;
        if scientific_exponent > MAX_EXPONENT {
            return Err(StoreError::validation(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ));
        }
        if scientific_exponent < MIN_EXPONENT {
            return Err(StoreError::validation(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ));
        }
        if self.digits.len() > MAX_SIGNIFICANT_DIGITS {
            return Err(StoreError::validation(
                "Attempting to store more than 38 significant digits in a Number",
            ));
        }
        Ok(())
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// True for numbers below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The significant digits (0..=9), most significant first; empty for zero.
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// The exponent `e` in `0.d₁d₂… × 10^e`.
    pub fn exponent(&self) -> i64 {
        self.exponent
    }

    /// Builds a number from its normalized parts; the key decoder uses this.
    pub(crate) fn from_parts(negative: bool, digits: Vec<u8>, exponent: i64) -> Number {
        normalize(negative, digits, exponent)
    }

    /// The number as an arbitrary-precision decimal, for arithmetic.
    pub fn to_big_decimal(&self) -> BigDecimal {
        if self.digits.is_empty() {
            return BigDecimal::from(0);
        }
        let mut text = String::with_capacity(self.digits.len() + 24);
        if self.negative {
            text.push('-');
        }
        text.extend(self.digits.iter().map(|digit| char::from(b'0' + digit)));
        let exponent = self.exponent - self.digits.len() as i64;
        text.push_str(&format!("E{exponent}"));
        BigDecimal::from_str(&text).expect("digits with an exponent always parse as a decimal")
    }

    /// Converts an arithmetic result back, applying DynamoDB's limits.
    pub fn from_big_decimal(value: &BigDecimal) -> StoreResult<Number> {
        let (integer, scale) = value.as_bigint_and_exponent();
        let text = integer.to_string();
        let (negative, magnitude) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let digits: Vec<u8> = magnitude.bytes().map(|byte| byte - b'0').collect();
        let exponent = digits.len() as i64 - scale;
        let number = normalize(negative, digits, exponent);
        number.check_limits()?;
        Ok(number)
    }

    /// `self + other`, within DynamoDB's limits.
    pub fn add(&self, other: &Number) -> StoreResult<Number> {
        Number::from_big_decimal(&(self.to_big_decimal() + other.to_big_decimal()))
    }

    /// `self - other`, within DynamoDB's limits.
    pub fn subtract(&self, other: &Number) -> StoreResult<Number> {
        Number::from_big_decimal(&(self.to_big_decimal() - other.to_big_decimal()))
    }

    /// The storage size DynamoDB charges: one byte per two significant digits
    /// (paired around the decimal point), plus one, plus one more for negative
    /// numbers.
    pub fn size(&self) -> usize {
        // Digits are stored in base 100 aligned on the decimal point, so an odd
        // exponent shifts the first digit into its own pair; negative numbers
        // carry a terminator byte.
        let aligned = self.digits.len() + usize::from(self.exponent.rem_euclid(2) == 1);
        aligned.div_ceil(2) + 1 + usize::from(self.negative)
    }
}

/// Parses Java `BigDecimal` syntax: `[+-] digits [. digits] [(e|E) [+-] digits]`,
/// with at least one mantissa digit. Returns `None` on anything else.
fn parse_unchecked(text: &str) -> Option<Number> {
    let bytes = text.as_bytes();
    let mut index = 0;
    let mut negative = false;
    if let Some(&sign) = bytes.first() {
        if sign == b'+' || sign == b'-' {
            negative = sign == b'-';
            index += 1;
        }
    }
    let mut digits = Vec::new();
    let mut integer_digits: i64 = 0;
    while index < bytes.len() && bytes[index].is_ascii_digit() {
        digits.push(bytes[index] - b'0');
        integer_digits += 1;
        index += 1;
    }
    if index < bytes.len() && bytes[index] == b'.' {
        index += 1;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            digits.push(bytes[index] - b'0');
            index += 1;
        }
    }
    if digits.is_empty() {
        return None;
    }
    let mut exponent: i64 = 0;
    if index < bytes.len() && (bytes[index] == b'e' || bytes[index] == b'E') {
        index += 1;
        let mut exponent_negative = false;
        if index < bytes.len() && (bytes[index] == b'+' || bytes[index] == b'-') {
            exponent_negative = bytes[index] == b'-';
            index += 1;
        }
        let start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            // Saturate: anything this large is out of range anyway, and the
            // limit check reports it as overflow or underflow.
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i64::from(bytes[index] - b'0'));
            exponent = exponent.min(1_000_000_000_000);
            index += 1;
        }
        if index == start {
            return None;
        }
        if exponent_negative {
            exponent = -exponent;
        }
    }
    if index != bytes.len() {
        return None;
    }
    Some(normalize(negative, digits, integer_digits + exponent))
}

/// Strips leading and trailing zeros; zero loses its sign.
fn normalize(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Number {
    let leading_zeros = digits.iter().take_while(|&&digit| digit == 0).count();
    if leading_zeros == digits.len() {
        return Number::zero();
    }
    digits.drain(..leading_zeros);
    exponent -= leading_zeros as i64;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    Number {
        negative,
        digits,
        exponent,
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        fn class(number: &Number) -> i8 {
            match (number.digits.is_empty(), number.negative) {
                (true, _) => 0,
                (false, true) => -1,
                (false, false) => 1,
            }
        }
        let by_class = class(self).cmp(&class(other));
        if by_class != Ordering::Equal || self.digits.is_empty() {
            return by_class;
        }
        // Normalized digits make magnitude comparison a comparison of the
        // exponent, then of the digit strings (a prefix is the smaller one).
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The canonical plain form DynamoDB returns: no exponent, no leading or
/// trailing zeros, no `-0`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.digits.is_empty() {
            return f.write_str("0");
        }
        let mut text = String::new();
        if self.negative {
            text.push('-');
        }
        let digit_chars = self.digits.iter().map(|digit| char::from(b'0' + digit));
        let length = self.digits.len() as i64;
        if self.exponent <= 0 {
            text.push_str("0.");
            text.extend(std::iter::repeat_n('0', (-self.exponent) as usize));
            text.extend(digit_chars);
        } else if self.exponent >= length {
            text.extend(digit_chars);
            text.extend(std::iter::repeat_n('0', (self.exponent - length) as usize));
        } else {
            for (index, digit) in digit_chars.enumerate() {
                if index as i64 == self.exponent {
                    text.push('.');
                }
                text.push(digit);
            }
        }
        f.write_str(&text)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl FromStr for Number {
    type Err = StoreError;
    fn from_str(text: &str) -> StoreResult<Number> {
        Number::parse(text)
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        parse_unchecked(&value.to_string()).expect("an integer's decimal form is a valid number")
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, Expect};
    use proptest::prelude::*;

    use super::*;

    fn check(input: &str, expected: Expect) {
        let actual = match Number::parse(input) {
            Ok(number) => format!("{number} (size {})", number.size()),
            Err(error) => error.to_string(),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn canonical_forms() {
        check("1.50", expect!["1.5 (size 3)"]);
        check("-0", expect!["0 (size 1)"]);
        check("00042", expect!["42 (size 2)"]);
        check("1.5E2", expect!["150 (size 3)"]);
        check("+7", expect!["7 (size 2)"]);
        check(".5", expect!["0.5 (size 2)"]);
        check("5.", expect!["5 (size 2)"]);
        check("-0.000120", expect!["-0.00012 (size 4)"]);
        check("3.1400", expect!["3.14 (size 3)"]);
        check("1E-130", expect!["0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001 (size 2)"]);
        check("9.9999999999999999999999999999999999999E+125", expect!["999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000000000000000000000000000000000 (size 20)"]);
        check(
            "12345678901234567890123456789012345678",
            expect!["12345678901234567890123456789012345678 (size 20)"],
        );
    }

    #[test]
    fn rejected_numbers() {
        check(
            "",
            expect!["ValidationException: The parameter cannot be converted to a numeric value"],
        );
        check(
            "abc",
            expect![
                "ValidationException: The parameter cannot be converted to a numeric value: abc"
            ],
        );
        check(
            "1e",
            expect![
                "ValidationException: The parameter cannot be converted to a numeric value: 1e"
            ],
        );
        check(
            " 1",
            expect![
                "ValidationException: The parameter cannot be converted to a numeric value:  1"
            ],
        );
        check(
            "NaN",
            expect![
                "ValidationException: The parameter cannot be converted to a numeric value: NaN"
            ],
        );
        check("1E+126", expect!["ValidationException: Number overflow. Attempting to store a number with magnitude larger than supported range"]);
        check("-1E+126", expect!["ValidationException: Number overflow. Attempting to store a number with magnitude larger than supported range"]);
        check("1E-131", expect!["ValidationException: Number underflow. Attempting to store a number with magnitude smaller than supported range"]);
        check("1E99999999999999999999999", expect!["ValidationException: Number overflow. Attempting to store a number with magnitude larger than supported range"]);
        check("123456789012345678901234567890123456789", expect!["ValidationException: Attempting to store more than 38 significant digits in a Number"]);
    }

    #[test]
    fn arithmetic() {
        let a = Number::parse("0.1").expect("valid");
        let b = Number::parse("0.2").expect("valid");
        assert_eq!(a.add(&b).expect("in range").to_string(), "0.3");
        assert_eq!(a.subtract(&b).expect("in range").to_string(), "-0.1");
        let big = Number::parse("9.9999999999999999999999999999999999999E+125").expect("valid");
        expect!["ValidationException: Number overflow. Attempting to store a number with magnitude larger than supported range"]
            .assert_eq(&big.add(&big).expect_err("overflows").to_string());
    }

    fn number_text() -> impl Strategy<Value = String> {
        (any::<bool>(), "[0-9]{1,38}", -140i64..130).prop_map(|(negative, digits, exponent)| {
            format!("{}{}E{}", if negative { "-" } else { "" }, digits, exponent)
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Number::parse(&text);
        }

        #[test]
        fn order_matches_big_decimal(a in number_text(), b in number_text()) {
            if let (Ok(x), Ok(y)) = (Number::parse(&a), Number::parse(&b)) {
                prop_assert_eq!(x.cmp(&y), x.to_big_decimal().cmp(&y.to_big_decimal()));
            }
        }

        #[test]
        fn display_round_trips(a in number_text()) {
            if let Ok(x) = Number::parse(&a) {
                let again = Number::parse(&x.to_string()).expect("canonical form parses");
                prop_assert_eq!(&again, &x);
                prop_assert_eq!(Number::from_big_decimal(&x.to_big_decimal()).expect("in range"), x);
            }
        }
    }
}
