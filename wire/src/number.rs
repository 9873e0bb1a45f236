//! DynamoDB numbers (`N`): exact decimals with at most 38 significant digits.
//!
//! [`Number`] is the canonical, validated form of a DynamoDB number. Every way in (text via
//! [`Number::parse`], parts via [`Number::from_parts`], bytes via [`Number::decode`]) checks
//! the same rules, so a `Number` value is always one DynamoDB would store:
//!
//! * at most [`MAX_SIGNIFICANT_DIGITS`] (38) significant digits — leading and trailing zeros
//!   are not significant (`"0001000"` has one), inner zeros are (`"1000…0001"` has all of them);
//! * zero, or a magnitude in `1E-130 ..= 9.9999999999999999999999999999999999999E+125`, i.e.
//!   the exponent of the leading digit is in [`MIN_LEADING_EXPONENT`]`..=`[`MAX_LEADING_EXPONENT`];
//! * one representation per value: `1e3`, `1000` and `1000.000` are the same `Number`, and
//!   `-0` is zero.
//!
//! Representation: `±coefficient × 10^exponent` with a `u128` coefficient that has no trailing
//! zeros (38 digits fit: 10^38 < 2^128) and an `i16` exponent; zero is `(+, 0, 0)`. So
//! `Eq`/`Hash` are the derived, field-wise ones, and `Ord` is numeric order. The type is `Copy`
//! and allocation-free so the arithmetic of issue 5 (fastnum `D128`, also a `u128`
//! coefficient) can wrap it without conversion through text.
//!
//! Text out ([`Number::to_canonical_string`], `Display`) is DynamoDB's normalized form: plain
//! decimal, no exponent, no leading or trailing zeros (`"1e3"` → `"1000"`, `"-0.50"` → `"-0.5"`).
//!
//! Neighbours: the order-preserving byte encoding used in keys is in `number/encoding.rs`; key
//! layout in `crate::key`. Error texts and check order follow dynalite's `checkNum`
//! (overflow, then underflow, then digit count), which mirrors the real service
//! (`/work/shared/reference/dynamodb-facts.md` §2.3).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

mod arith;
mod encoding;
#[cfg(test)]
mod tests;

pub use encoding::MAX_ENCODED_NUMBER_BYTES;
pub(crate) use encoding::decode_at as decode_number_at;

/// The most significant digits a DynamoDB number may have.
pub const MAX_SIGNIFICANT_DIGITS: u32 = 38;
/// The largest exponent of the leading digit: the maximum is 9.99…E+125.
pub const MAX_LEADING_EXPONENT: i32 = 125;
/// The smallest exponent of the leading digit of a nonzero number: the minimum is 1E-130.
pub const MIN_LEADING_EXPONENT: i32 = -130;

/// Exponent literals are clamped to this magnitude while parsing. Anything that large is out
/// of range whatever the digits, and clamping keeps the arithmetic far from `i64` overflow.
const EXPONENT_LITERAL_CLAMP: i64 = 1_000_000_000_000_000;

/// Why a text or a set of parts is not a DynamoDB number. `Display` gives DynamoDB's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// The empty string (DynamoDB omits the `: <x>` suffix in this case).
    #[error("The parameter cannot be converted to a numeric value")]
    Empty,
    /// Not a decimal number: whitespace, `NaN`, `Infinity`, hex, a lone `.`, a bare exponent…
    #[error("The parameter cannot be converted to a numeric value: {input}")]
    Syntax {
        /// The rejected text, echoed as DynamoDB does.
        input: String,
    },
    /// The magnitude exceeds 9.99…E+125.
    #[error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )]
    Overflow,
    /// A nonzero magnitude below 1E-130.
    #[error(
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    )]
    Underflow,
    /// More than 38 significant digits.
    #[error("Attempting to store more than 38 significant digits in a Number")]
    TooManyDigits,
}

/// An exact DynamoDB number in canonical form (see the module docs for the invariants).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    /// The significant digits; no trailing zeros; 0 only for zero.
    coefficient: u128,
    /// The power of ten of the last significant digit; 0 for zero.
    exponent: i16,
    /// The sign; false for zero.
    negative: bool,
}

impl Number {
    /// Zero (there is no negative zero).
    pub const ZERO: Number = Number {
        coefficient: 0,
        exponent: 0,
        negative: false,
    };

    /// Parses DynamoDB number text: `[+-]digits[.digits][(e|E)[+-]digits]`, where either the
    /// integer or the fraction digits may be missing but not both (`"5."` and `".5"` are
    /// numbers, `"."` is not). Nothing else is accepted: no whitespace, `NaN`, `Infinity`,
    /// hex or digit separators.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        if text.is_empty() {
            return Err(NumberError::Empty);
        }
        let syntax = || NumberError::Syntax {
            input: text.to_owned(),
        };
        let bytes = text.as_bytes();
        let mut at = 0;
        let negative = match bytes[0] {
            b'-' => {
                at = 1;
                true
            }
            b'+' => {
                at = 1;
                false
            }
            _ => false,
        };
        let integer = digit_run(bytes, &mut at);
        let fraction = if bytes.get(at) == Some(&b'.') {
            at += 1;
            digit_run(bytes, &mut at)
        } else {
            &[]
        };
        if integer.is_empty() && fraction.is_empty() {
            return Err(syntax());
        }
        let mut exponent_literal: i64 = 0;
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            let exponent_negative = match bytes.get(at) {
                Some(b'-') => {
                    at += 1;
                    true
                }
                Some(b'+') => {
                    at += 1;
                    false
                }
                _ => false,
            };
            let exponent_digits = digit_run(bytes, &mut at);
            if exponent_digits.is_empty() {
                return Err(syntax());
            }
            for &d in exponent_digits {
                exponent_literal =
                    (exponent_literal * 10 + i64::from(d - b'0')).min(EXPONENT_LITERAL_CLAMP);
            }
            if exponent_negative {
                exponent_literal = -exponent_literal;
            }
        }
        if at != bytes.len() {
            return Err(syntax());
        }

        // The digits of integer ‖ fraction; the one at index k has place value
        // 10^(exponent_literal + integer.len() - 1 - k).
        let digits = || integer.iter().chain(fraction.iter()).map(|d| d - b'0');
        let mut first_nonzero = None;
        let mut last_nonzero = 0usize;
        for (k, d) in digits().enumerate() {
            if d != 0 {
                first_nonzero.get_or_insert(k);
                last_nonzero = k;
            }
        }
        let Some(first_nonzero) = first_nonzero else {
            return Ok(Number::ZERO);
        };
        let integer_len = i64::try_from(integer.len()).map_err(|_| syntax())?;
        let place = |k: usize| -> Result<i64, NumberError> {
            let k = i64::try_from(k).map_err(|_| syntax())?;
            Ok(exponent_literal + integer_len - 1 - k)
        };
        let leading_exponent = place(first_nonzero)?;
        let significant_digits = last_nonzero - first_nonzero + 1;
        check_range(leading_exponent, significant_digits)?;
        let coefficient = digits()
            .skip(first_nonzero)
            .take(significant_digits)
            .fold(0u128, |c, d| c * 10 + u128::from(d));
        // In range now, so the exponent fits an i16 (it is in -167..=125).
        let exponent = i16::try_from(place(last_nonzero)?).map_err(|_| syntax())?;
        Ok(Number {
            coefficient,
            exponent,
            negative,
        })
    }

    /// The number `±coefficient × 10^exponent`, normalized (trailing zeros of the coefficient
    /// move into the exponent; `-0` is zero) and checked like [`Number::parse`].
    pub fn from_parts(
        negative: bool,
        coefficient: u128,
        exponent: i32,
    ) -> Result<Number, NumberError> {
        if coefficient == 0 {
            return Ok(Number::ZERO);
        }
        let mut coefficient = coefficient;
        let mut exponent = i64::from(exponent);
        while coefficient.is_multiple_of(10) {
            coefficient /= 10;
            exponent += 1;
        }
        let digits = decimal_digits(coefficient);
        check_range(exponent + i64::from(digits) - 1, digits as usize)?;
        Ok(Number {
            coefficient,
            exponent: i16::try_from(exponent).map_err(|_| NumberError::Overflow)?,
            negative,
        })
    }

    /// True for zero.
    pub const fn is_zero(&self) -> bool {
        self.coefficient == 0
    }

    /// True for numbers below zero (never for zero).
    pub const fn is_negative(&self) -> bool {
        self.negative
    }

    /// The significant digits as an integer: no trailing zeros, at most 38 digits; 0 for zero.
    pub const fn coefficient(&self) -> u128 {
        self.coefficient
    }

    /// The power of ten of the last significant digit (value = ±coefficient × 10^exponent);
    /// 0 for zero.
    pub const fn exponent(&self) -> i16 {
        self.exponent
    }

    /// How many significant digits (1..=38; 1 for zero).
    pub fn significant_digits(&self) -> u32 {
        decimal_digits(self.coefficient)
    }

    /// The power of ten of the leading digit (`d.ddd × 10^this`), in -130..=125; 0 for zero.
    pub fn leading_exponent(&self) -> i32 {
        i32::from(self.exponent) + self.significant_digits() as i32 - 1
    }

    /// The number's size as DynamoDB counts it for item size, key limits and capacity:
    /// 1 byte for zero, else `1 + ceil(digits / 2)`, plus 1 when both the digit count and the
    /// leading exponent are even, plus 1 for a negative number. This is dynalite's rule
    /// (`mhart/dynalite db/index.js` `valSize`), matching the documented "about 1 byte per two
    /// significant digits, plus 1" (dynamodb-facts §2.5).
    pub fn dynamodb_size_bytes(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        let digits = self.significant_digits() as usize;
        let unaligned = digits.is_multiple_of(2) && self.leading_exponent().rem_euclid(2) == 0;
        1 + digits.div_ceil(2) + usize::from(unaligned) + usize::from(self.negative)
    }

    /// DynamoDB's normalized text: plain decimal, no exponent, no leading zeros (except the
    /// one before a point), no trailing fractional zeros, `-` only for negatives.
    pub fn to_canonical_string(&self) -> String {
        self.to_string()
    }

    /// Magnitude order, ignoring signs.
    fn cmp_magnitude(&self, other: &Number) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        self.leading_exponent()
            .cmp(&other.leading_exponent())
            .then_with(|| self.aligned_coefficient().cmp(&other.aligned_coefficient()))
    }

    /// The coefficient scaled to exactly 38 digits (`d1 d2 … d38`), so that two numbers with the
    /// same leading exponent compare by this integer. 10^38 − 1 < u128::MAX.
    fn aligned_coefficient(&self) -> u128 {
        self.coefficient * 10u128.pow(MAX_SIGNIFICANT_DIGITS - self.significant_digits())
    }
}

/// Consumes the run of ASCII digits at `*at`, returning it.
fn digit_run<'a>(bytes: &'a [u8], at: &mut usize) -> &'a [u8] {
    let start = *at;
    while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
        *at += 1;
    }
    &bytes[start..*at]
}

/// Decimal digits of `n` (1 for 0).
fn decimal_digits(n: u128) -> u32 {
    n.checked_ilog10().map_or(1, |l| l + 1)
}

/// DynamoDB's range checks for a nonzero number, in DynamoDB's order.
fn check_range(leading_exponent: i64, significant_digits: usize) -> Result<(), NumberError> {
    if leading_exponent > i64::from(MAX_LEADING_EXPONENT) {
        Err(NumberError::Overflow)
    } else if leading_exponent < i64::from(MIN_LEADING_EXPONENT) {
        Err(NumberError::Underflow)
    } else if significant_digits > MAX_SIGNIFICANT_DIGITS as usize {
        Err(NumberError::TooManyDigits)
    } else {
        Ok(())
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        // Class: negative < zero < positive.
        let class = |n: &Number| match (n.negative, n.is_zero()) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2,
        };
        class(self).cmp(&class(other)).then_with(|| {
            let magnitude = self.cmp_magnitude(other);
            if self.negative {
                magnitude.reverse()
            } else {
                magnitude
            }
        })
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        let digits = self.coefficient.to_string();
        let exponent = i32::from(self.exponent);
        if exponent >= 0 {
            f.write_str(&digits)?;
            for _ in 0..exponent {
                f.write_str("0")?;
            }
            return Ok(());
        }
        // Digits before the point; zero or negative means "0." and that many zeros first.
        let integer_digits = digits.len() as i32 + exponent;
        if integer_digits > 0 {
            let (integer, fraction) = digits.split_at(integer_digits as usize);
            write!(f, "{integer}.{fraction}")
        } else {
            f.write_str("0.")?;
            for _ in 0..-integer_digits {
                f.write_str("0")?;
            }
            f.write_str(&digits)
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl FromStr for Number {
    type Err = NumberError;

    fn from_str(text: &str) -> Result<Number, NumberError> {
        Number::parse(text)
    }
}

impl Default for Number {
    fn default() -> Number {
        Number::ZERO
    }
}
