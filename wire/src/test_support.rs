//! Test-only generators shared by the `number` and `key` tests: random DynamoDB numbers built
//! from independent parts (sign, digit string, leading exponent), with a `BigDecimal` oracle
//! built from the same parts, never from our own parser or formatter.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;
use proptest::prelude::*;

use crate::number::Number;

/// At least 2,000 cases per property; `PROPTEST_CASES` raises it (e.g. for a long soak).
pub fn proptest_config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    config.cases = config.cases.max(2000);
    config
}

/// A number described by its parts: `sign · 0.d1 d2 … dn × 10^(lead + 1)` (i.e. the leading digit
/// has place value `10^lead`). `digits` is empty for zero; otherwise it starts and ends with a
/// nonzero digit.
#[derive(Clone, Debug)]
pub struct NumParts {
    pub negative: bool,
    pub digits: String,
    pub lead: i32,
}

impl NumParts {
    /// Scientific text (`-d.ddddE+lead`), one of many spellings the parser must accept.
    pub fn scientific(&self) -> String {
        if self.digits.is_empty() {
            return "0".to_owned();
        }
        let sign = if self.negative { "-" } else { "" };
        let (first, rest) = self.digits.split_at(1);
        if rest.is_empty() {
            format!("{sign}{first}E{}", self.lead)
        } else {
            format!("{sign}{first}.{rest}E{}", self.lead)
        }
    }

    /// The oracle value.
    pub fn oracle(&self) -> BigDecimal {
        if self.digits.is_empty() {
            return BigDecimal::from(0);
        }
        let mut coefficient = BigInt::from_str(&self.digits).expect("digits");
        if self.negative {
            coefficient = -coefficient;
        }
        let scale = self.digits.len() as i64 - 1 - i64::from(self.lead);
        BigDecimal::new(coefficient, scale)
    }

    /// The number, through the parser.
    pub fn number(&self) -> Number {
        Number::parse(&self.scientific()).expect("generated numbers are in range")
    }
}

/// A leading exponent, biased towards the ends of DynamoDB's range and towards 0.
pub fn lead_exponent() -> impl Strategy<Value = i32> {
    prop_oneof![
        3 => -130i32..=125,
        1 => -130i32..=-126,
        1 => 121i32..=125,
        2 => -4i32..=4,
    ]
}

/// A digit string of `len` digits with nonzero ends; zeros are common inside, and some strings
/// are all nines (the largest mantissas).
pub fn digit_string(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    (len, any::<u64>(), 0u8..4).prop_map(|(n, seed, style)| {
        let mut state = seed | 1;
        let mut next = move || {
            // xorshift64: cheap, deterministic per seed.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..n)
            .map(|i| {
                let end = i == 0 || i == n - 1;
                let d = match style {
                    0 => 9,
                    1 if !end => [0, 0, 0, 1, 9][(next() % 5) as usize],
                    _ => (next() % 10) as u8,
                };
                let d = if end && d == 0 {
                    1 + (next() % 9) as u8
                } else {
                    d
                };
                char::from(b'0' + d)
            })
            .collect()
    })
}

/// Any DynamoDB number (about 1 in 16 is zero).
pub fn num_parts() -> impl Strategy<Value = NumParts> {
    prop_oneof![
        1 => Just(NumParts { negative: false, digits: String::new(), lead: 0 }),
        15 => (
            any::<bool>(),
            prop_oneof![3 => digit_string(1..=38), 1 => digit_string(36..=38), 1 => digit_string(1..=3)],
            lead_exponent(),
        )
            .prop_map(|(negative, digits, lead)| NumParts { negative, digits, lead }),
    ]
}

/// Two numbers, often close to each other (same sign and exponent; one's digits a prefix or an
/// extension of the other's), so comparisons reach deep into the encodings.
pub fn num_pair() -> impl Strategy<Value = (NumParts, NumParts)> {
    (num_parts(), num_parts(), 0u8..5).prop_map(|(a, mut b, mode)| {
        if a.digits.is_empty() || b.digits.is_empty() {
            return (a, b);
        }
        match mode {
            // Same sign and exponent: only the digits differ.
            1 => {
                b.negative = a.negative;
                b.lead = a.lead;
            }
            // b's digits are a prefix of a's (trailing zeros trimmed).
            2 => {
                let keep = 1 + b.digits.len() % a.digits.len();
                let prefix = a.digits[..keep].trim_end_matches('0').to_owned();
                b = NumParts {
                    negative: a.negative,
                    digits: prefix,
                    lead: a.lead,
                };
            }
            // b's digits extend a's.
            3 => {
                let room = 38 - a.digits.len();
                let extra = &b.digits[..b.digits.len().min(room)];
                b = NumParts {
                    negative: a.negative,
                    digits: format!("{}{extra}", a.digits),
                    lead: a.lead,
                };
            }
            _ => {}
        }
        (a, b)
    })
}
