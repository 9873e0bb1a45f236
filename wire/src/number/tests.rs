//! Tests of `Number`: parsing rules and messages, canonical text, order, size, and the
//! order-preserving encoding. Oracle: `bigdecimal::BigDecimal` built from generated parts.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;

use super::*;
use crate::key::KeyError;
use crate::test_support::{NumParts, digit_string, lead_exponent, num_pair, num_parts};

fn n(text: &str) -> Number {
    Number::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn hash_of(x: &Number) -> u64 {
    let mut h = DefaultHasher::new();
    x.hash(&mut h);
    h.finish()
}

const MAX_TEXT: &str = "9.9999999999999999999999999999999999999E+125";

#[test]
fn zero_has_one_form() {
    for text in [
        "0",
        "-0",
        "+0",
        "0.000",
        "-0.0e-500",
        "000",
        ".0",
        "0.",
        "0e999999999999999999999",
    ] {
        let x = n(text);
        assert_eq!(x, Number::ZERO, "{text}");
        assert!(x.is_zero() && !x.is_negative());
        assert_eq!(x.to_canonical_string(), "0");
        assert_eq!(x.encode(), vec![0x02]);
        assert_eq!(hash_of(&x), hash_of(&Number::ZERO));
    }
}

#[test]
fn equal_values_are_one_number_with_the_same_bytes() {
    let spellings = [
        "1e3", "1000", "1000.000", "1E+3", "0.1e4", "+1000", "00001000", "10000e-1",
    ];
    let first = n(spellings[0]);
    for text in spellings {
        let x = n(text);
        assert_eq!(x, first, "{text}");
        assert_eq!(x.encode(), first.encode(), "{text}");
        assert_eq!(hash_of(&x), hash_of(&first));
        assert_eq!(x.to_canonical_string(), "1000");
    }
    assert_eq!((first.coefficient(), first.exponent()), (1, 3));
}

#[test]
fn canonical_text_examples() {
    let cases = [
        ("-0.50", "-0.5"),
        ("1e3", "1000"),
        ("1.23E2", "123"),
        ("1.2345E2", "123.45"),
        ("0.001200", "0.0012"),
        ("-12.5e-3", "-0.0125"),
        ("5.", "5"),
        (".5", "0.5"),
        (
            "123456789012345678901234567890123456.78",
            "123456789012345678901234567890123456.78",
        ),
    ];
    for (text, canonical) in cases {
        assert_eq!(n(text).to_canonical_string(), canonical, "{text}");
    }
    let tiny = n("1E-130").to_canonical_string();
    assert_eq!(tiny, format!("0.{}1", "0".repeat(129)));
    assert_eq!(n("-1E-130").to_canonical_string(), format!("-{tiny}"));
    let max = n(MAX_TEXT).to_canonical_string();
    assert_eq!(max, format!("{}{}", "9".repeat(38), "0".repeat(88)));
    assert_eq!(max.len(), 126);
}

#[test]
fn range_edges_are_accepted() {
    let max = n(MAX_TEXT);
    assert_eq!(max.significant_digits(), 38);
    assert_eq!(max.leading_exponent(), 125);
    assert_eq!(
        n(&format!("-{MAX_TEXT}")),
        Number::from_parts(true, max.coefficient(), 88).unwrap()
    );
    let min = n("1E-130");
    assert_eq!((min.coefficient(), min.leading_exponent()), (1, -130));
    assert!(n("-1E-130") < Number::ZERO && Number::ZERO < min);
    // 38 significant digits with zeros around them.
    n(&format!("000{}000", "1".repeat(38)));
    n(&format!("0.000{}000", "7".repeat(38)));
}

#[test]
fn errors_carry_dynamodb_messages_in_dynamodb_order() {
    let cases: [(&str, NumberError); 10] = [
        ("1e126", NumberError::Overflow),
        ("-1e126", NumberError::Overflow),
        (
            "99999999999999999999999999999999999999.5E+88",
            NumberError::TooManyDigits,
        ),
        ("1e-131", NumberError::Underflow),
        ("-1e-131", NumberError::Underflow),
        (
            "123456789012345678901234567890123456789",
            NumberError::TooManyDigits,
        ),
        (
            "-1.23456789012345678901234567890123456789",
            NumberError::TooManyDigits,
        ),
        (
            "1000000000000000000000000000000000000001",
            NumberError::TooManyDigits,
        ),
        // Overflow is reported before the digit count, as DynamoDB does.
        (
            "1234567890123456789012345678901234567890e100",
            NumberError::Overflow,
        ),
        (
            "1234567890123456789012345678901234567890e-180",
            NumberError::Underflow,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(Number::parse(text), Err(expected), "{text}");
    }
    assert_eq!(
        NumberError::Overflow.to_string(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
    assert_eq!(
        NumberError::Underflow.to_string(),
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    );
    assert_eq!(
        NumberError::TooManyDigits.to_string(),
        "Attempting to store more than 38 significant digits in a Number"
    );
    // Leading and trailing zeros are not significant; 38 digits after them is fine.
    assert_eq!(
        n(&format!("0001{}000", "0".repeat(36))).significant_digits(),
        1
    );
    assert_eq!(n("0001000").significant_digits(), 1);
}

#[test]
fn syntax_errors_echo_the_input() {
    assert_eq!(Number::parse(""), Err(NumberError::Empty));
    assert_eq!(
        NumberError::Empty.to_string(),
        "The parameter cannot be converted to a numeric value"
    );
    let bad = [
        " 1",
        "1 ",
        " ",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "0x10",
        "0X1F",
        ".",
        "-.",
        "+",
        "-",
        "e5",
        "1e",
        "1e+",
        "1e-",
        "1.2.3",
        "1e5.5",
        "1,000",
        "1_000",
        "--1",
        "+-1",
        "1-",
        "١",
        "1e5e5",
        "abc",
        "b",
        "\u{0}",
        "1\n",
        "１",
    ];
    for text in bad {
        let err = Number::parse(text).expect_err(text);
        assert_eq!(
            err,
            NumberError::Syntax {
                input: text.to_owned()
            }
        );
        assert_eq!(
            err.to_string(),
            format!("The parameter cannot be converted to a numeric value: {text}")
        );
    }
}

#[test]
fn from_parts_normalizes_and_checks() {
    assert_eq!(Number::from_parts(false, 1000, 0).unwrap(), n("1000"));
    assert_eq!(Number::from_parts(true, 0, 77).unwrap(), Number::ZERO);
    assert_eq!(Number::from_parts(true, 500, -3).unwrap(), n("-0.5"));
    assert_eq!(
        Number::from_parts(false, 1, 126),
        Err(NumberError::Overflow)
    );
    assert_eq!(
        Number::from_parts(false, 1, -131),
        Err(NumberError::Underflow)
    );
    assert_eq!(
        Number::from_parts(false, u128::MAX, 0),
        Err(NumberError::TooManyDigits)
    );
    assert_eq!(
        Number::from_parts(false, 10u128.pow(38), 0)
            .unwrap()
            .coefficient(),
        1
    );
}

#[test]
fn dynamodb_size_examples() {
    // 1 byte for zero; else 1 + ceil(digits/2) + (digits even && leading exponent even) + negative.
    let cases = [
        ("0", 1),
        ("1", 2),
        ("10", 2),
        ("12", 2),
        ("1.2", 3),
        ("0.12", 2),
        ("0.012", 3),
        ("123", 3),
        ("-1", 3),
        ("-1.2", 4),
        ("1E-130", 2),
        (MAX_TEXT, 20),
        ("9.9999999999999999999999999999999999999E+124", 21),
        ("-9.9999999999999999999999999999999999999E+124", 22),
    ];
    for (text, size) in cases {
        assert_eq!(n(text).dynamodb_size_bytes(), size, "{text}");
    }
}

#[test]
fn encoding_examples_match_the_documented_diagram() {
    assert_eq!(n("1000").encode(), [0x03, 0x85, 0x0B, 0x00]);
    assert_eq!(n("-0.5").encode(), [0x01, 0x7E, 0xCC, 0xFF]);
    assert_eq!(n("1E-130").encode(), [0x03, 0x00, 0x0B, 0x00]);
    let max = n(MAX_TEXT).encode();
    assert_eq!(max.len(), MAX_ENCODED_NUMBER_BYTES);
    assert_eq!(max[..2], [0x03, 0xFF]);
    assert!(max[2..21].iter().all(|&b| b == 100));
    assert_eq!(max[21], 0x00);
    let neg_max = n(&format!("-{MAX_TEXT}")).encode();
    assert_eq!(neg_max[..2], [0x01, 0x00]);
    assert!(neg_max[2..21].iter().all(|&b| b == 155));
    assert_eq!(neg_max[21], 0xFF);
}

#[test]
fn decode_rejects_non_canonical_and_truncated_bytes() {
    let corrupt = |bytes: &[u8], offset: usize| match Number::decode(bytes) {
        Err(KeyError::CorruptNumber { offset: at, .. }) => assert_eq!(at, offset, "{bytes:02x?}"),
        other => panic!("{bytes:02x?}: expected corruption at {offset}, got {other:?}"),
    };
    corrupt(&[0x04], 0);
    corrupt(&[0x00], 0);
    corrupt(&[0x03, 0x85, 0x00], 2); // no digits
    corrupt(&[0x03, 0x85, 0x05, 0x00], 2); // leading digit 0 (pair 04)
    corrupt(&[0x03, 0x85, 0x0B, 0x01, 0x00], 3); // last pair 00
    corrupt(&[0x03, 0x85, 0x65, 0x00], 2); // pair byte 101
    corrupt(&[0x01, 0x7E, 0x33, 0xFF], 2); // positive-range pair byte in a negative
    let mut long = vec![0x03, 0x85];
    long.extend([0x0B; 20]);
    long.push(0x00);
    corrupt(&long, 21);
    let truncated = |bytes: &[u8], offset: usize| match Number::decode(bytes) {
        Err(KeyError::Truncated { offset: at, .. }) => assert_eq!(at, offset),
        other => panic!("{bytes:02x?}: expected truncation at {offset}, got {other:?}"),
    };
    truncated(&[], 0);
    truncated(&[0x03], 1);
    truncated(&[0x03, 0x85, 0x0B], 3);
    truncated(&[0x01, 0x7E, 0xCC], 3);
}

#[test]
fn order_examples() {
    let ascending = [
        format!("-{MAX_TEXT}"),
        "-1e100".into(),
        "-1000".into(),
        "-999.9999".into(),
        "-1".into(),
        "-0.99".into(),
        "-0.9".into(),
        "-1E-130".into(),
        "0".into(),
        "1E-130".into(),
        "1.0000000000000000000000000000000000001E-130".into(),
        "0.001".into(),
        "0.9".into(),
        "0.99".into(),
        "1".into(),
        "1.01".into(),
        "1.1".into(),
        "10".into(),
        "99".into(),
        "100".into(),
        MAX_TEXT.into(),
    ];
    for pair in ascending.windows(2) {
        let (a, b) = (n(&pair[0]), n(&pair[1]));
        assert!(a < b, "{a} < {b}");
        assert!(a.encode() < b.encode(), "enc({a}) < enc({b})");
    }
}

fn cases() -> ProptestConfig {
    crate::test_support::proptest_config()
}

/// Renders `parts` in a random equivalent spelling: the point moved by an exponent literal,
/// leading and trailing zeros, `e`/`E`, optional `+` signs.
fn respell(
    parts: &NumParts,
    shift: i32,
    lead_zeros: usize,
    trail_zeros: usize,
    style: u8,
) -> String {
    if parts.digits.is_empty() {
        return format!(
            "{}0{}",
            if style & 1 == 1 { "-" } else { "" },
            "0".repeat(trail_zeros)
        );
    }
    // Mantissa = value / 10^shift, written in plain decimal.
    let lead = parts.lead - shift;
    let digits = &parts.digits;
    let len = digits.len() as i32;
    let mut plain = if lead < 0 {
        format!("0.{}{digits}", "0".repeat((-lead - 1) as usize))
    } else if lead >= len - 1 {
        format!("{digits}{}", "0".repeat((lead - (len - 1)) as usize))
    } else {
        let (int, frac) = digits.split_at(lead as usize + 1);
        format!("{int}.{frac}")
    };
    if trail_zeros > 0 {
        if !plain.contains('.') {
            plain.push('.');
        }
        plain.push_str(&"0".repeat(trail_zeros));
    }
    let sign = match (parts.negative, style & 2 == 2) {
        (true, _) => "-",
        (false, true) => "+",
        (false, false) => "",
    };
    let exponent = match (shift, style & 4 == 4, style & 8 == 8) {
        (0, false, _) => String::new(),
        (s, upper, plus) => {
            let e = if upper { "E" } else { "e" };
            let plus = if plus && s >= 0 { "+" } else { "" };
            format!("{e}{plus}{s}")
        }
    };
    format!("{sign}{}{plain}{exponent}", "0".repeat(lead_zeros))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn order_and_encoding_match_the_oracle((a, b) in num_pair()) {
        let (x, y) = (a.number(), b.number());
        let expected = a.oracle().cmp(&b.oracle());
        prop_assert_eq!(x.cmp(&y), expected, "{} vs {}", a.scientific(), b.scientific());
        prop_assert_eq!(x.encode().cmp(&y.encode()), expected, "{} vs {}", x, y);
        prop_assert_eq!(x == y, expected == Ordering::Equal);
        if x == y {
            prop_assert_eq!(hash_of(&x), hash_of(&y));
        }
    }

    #[test]
    fn canonical_text_matches_the_oracle_and_round_trips(parts in num_parts()) {
        let x = parts.number();
        let text = x.to_canonical_string();
        let oracle = parts.oracle().normalized().to_plain_string();
        prop_assert_eq!(&text, &oracle);
        prop_assert_eq!(Number::parse(&text), Ok(x));
        prop_assert!(x.significant_digits() <= MAX_SIGNIFICANT_DIGITS);
        prop_assert_eq!(x.significant_digits() as usize, parts.digits.len().max(1));
        prop_assert_eq!(Number::from_parts(x.is_negative(), x.coefficient(), x.exponent().into()), Ok(x));
    }

    #[test]
    fn every_spelling_parses_to_the_same_number(
        parts in num_parts(),
        shift in -60i32..60,
        lead_zeros in 0usize..4,
        trail_zeros in 0usize..4,
        style in 0u8..16,
    ) {
        let text = respell(&parts, shift, lead_zeros, trail_zeros, style);
        prop_assert_eq!(Number::parse(&text), Ok(parts.number()), "{}", text);
    }

    #[test]
    fn encoding_round_trips_and_delimits_itself(parts in num_parts(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
        let x = parts.number();
        let mut bytes = x.encode();
        prop_assert_eq!(bytes.len(), x.encoded_len());
        prop_assert!(bytes.len() <= MAX_ENCODED_NUMBER_BYTES);
        let len = bytes.len();
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(Number::decode(&bytes), Ok((x, len)));
    }

    #[test]
    fn decode_accepts_only_canonical_encodings(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
        if let Ok((x, used)) = Number::decode(&bytes) {
            prop_assert_eq!(x.encode(), bytes[..used].to_vec());
        }
    }

    #[test]
    fn near_valid_encodings_decode_canonically_or_fail(parts in num_parts(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = parts.number().encode();
        let at = at % bytes.len();
        bytes[at] = byte;
        if let Ok((x, used)) = Number::decode(&bytes) {
            prop_assert_eq!(x.encode(), bytes[..used].to_vec());
        }
    }

    #[test]
    fn out_of_range_inputs_get_the_right_error(
        negative in any::<bool>(),
        digits in digit_string(1..=60),
        lead in prop_oneof![-400i32..=-131, lead_exponent(), 126i32..=400],
    ) {
        let parts = NumParts { negative, digits, lead };
        let expected = if lead > MAX_LEADING_EXPONENT {
            Err(NumberError::Overflow)
        } else if lead < MIN_LEADING_EXPONENT {
            Err(NumberError::Underflow)
        } else if parts.digits.len() > 38 {
            Err(NumberError::TooManyDigits)
        } else {
            Ok(parts.oracle().normalized().to_plain_string())
        };
        let got = Number::parse(&parts.scientific()).map(|x| x.to_canonical_string());
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn arbitrary_text_parses_consistently(text in "[-+0-9.eE xaNIf]{0,12}") {
        match Number::parse(&text) {
            Ok(x) => {
                prop_assert_eq!(Number::parse(&x.to_canonical_string()), Ok(x));
                // Anything we accept, the oracle reads as the same value.
                let oracle: bigdecimal::BigDecimal = text.trim_start_matches('+').parse().unwrap();
                prop_assert_eq!(x.to_canonical_string(), oracle.normalized().to_plain_string());
            }
            Err(NumberError::Syntax { input }) => prop_assert_eq!(input, text),
            Err(NumberError::Empty) => prop_assert!(text.is_empty()),
            Err(_) => {}
        }
    }
}
