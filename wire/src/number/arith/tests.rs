//! Exact `checked_add`/`checked_sub` against a `BigDecimal` oracle built from the operands'
//! text, never from our own arithmetic. The error rules (overflow, underflow, and DynamoDB's
//! "overflow" for a result needing more than 38 digits) come from ScyllaDB's Alternator tests
//! run against the real service (`test/alternator/test_number.py`).

use std::str::FromStr;

use bigdecimal::{BigDecimal, Zero};

use crate::number::{Number, NumberError};
use crate::test_rng::{Rng, for_each_seed};

fn n(s: &str) -> Number {
    Number::parse(s).unwrap()
}

#[test]
fn small_sums_are_exact() {
    assert_eq!(n("0.3").checked_sub(&n("0.1")).unwrap(), n("0.2"));
    assert_eq!(
        n("1").checked_add(&n("1e22")).unwrap(),
        n("10000000000000000000001")
    );
    assert_eq!(
        n("1e22").checked_sub(&n("1")).unwrap(),
        n("9999999999999999999999")
    );
    assert_eq!(n("-5").checked_add(&n("5")).unwrap(), Number::ZERO);
    assert_eq!(n("0").checked_sub(&n("7.5")).unwrap(), n("-7.5"));
    assert_eq!(n("-2.5").checked_sub(&n("-2.5")).unwrap(), Number::ZERO);
}

#[test]
fn a_38_digit_result_from_far_apart_operands_is_exact() {
    // 10^38 - 1 needs 38 nines: representable although the aligned operand has 39 digits.
    let r = n("1e38").checked_sub(&n("1")).unwrap();
    assert_eq!(r.to_string(), "9".repeat(38));
}

#[test]
fn out_of_range_and_inexact_results_are_errors() {
    assert_eq!(
        n("9e125").checked_add(&n("9e125")),
        Err(NumberError::Overflow)
    );
    assert_eq!(
        n("9e125").checked_sub(&n("-9e125")),
        Err(NumberError::Overflow)
    );
    // Needs 51 digits: DynamoDB says "overflow" (sic).
    assert_eq!(n("1e50").checked_add(&n("1")), Err(NumberError::Overflow));
    assert_eq!(n("1e50").checked_sub(&n("1")), Err(NumberError::Overflow));
    assert_eq!(
        n("1.1e-130").checked_sub(&n("1e-130")),
        Err(NumberError::Underflow)
    );
    assert_eq!(
        NumberError::Overflow.to_string(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
}

fn random_number(rng: &mut Rng) -> Number {
    if rng.chance(1, 16) {
        return Number::ZERO;
    }
    let len = match rng.below(3) {
        0 => 1 + rng.below(3),
        1 => 36 + rng.below(3),
        _ => 1 + rng.below(38),
    } as usize;
    let digits: String = (0..len)
        .map(|i| {
            let mut d = rng.below(10) as u8;
            if (i == 0 || i == len - 1) && d == 0 {
                d = 1 + rng.below(9) as u8;
            }
            char::from(b'0' + d)
        })
        .collect();
    let lead: i64 = match rng.below(4) {
        0 => rng.below(256) as i64 - 130,
        1 => 121 + rng.below(5) as i64,
        2 => -130 + rng.below(5) as i64,
        _ => rng.below(9) as i64 - 4,
    };
    let sign = if rng.chance(1, 2) { "-" } else { "" };
    let text = format!("{sign}0.{digits}e{}", lead + 1);
    Number::parse(&text).unwrap()
}

/// What DynamoDB stores for an exact oracle value, or its error.
fn expected(value: &BigDecimal) -> Result<String, NumberError> {
    let normalized = value.normalized();
    if normalized.is_zero() {
        return Ok("0".to_owned());
    }
    let (coefficient, scale) = normalized.as_bigint_and_exponent();
    let digits = coefficient.magnitude().to_string().len() as i64;
    let leading = digits - 1 - scale;
    if leading > 125 {
        return Err(NumberError::Overflow);
    }
    if leading < -130 {
        return Err(NumberError::Underflow);
    }
    if digits > 38 {
        return Err(NumberError::Overflow);
    }
    Ok(Number::parse(&normalized.to_string()).unwrap().to_string())
}

#[test]
fn random_sums_match_the_big_decimal_oracle() {
    for_each_seed("random_sums_match_the_big_decimal_oracle", 20, |seed| {
        let mut rng = Rng::new(seed);
        for _ in 0..500 {
            let mut a = random_number(&mut rng);
            let b = random_number(&mut rng);
            // Often put the operands close together so cancellation happens.
            if rng.chance(1, 4) {
                a = b.checked_add(&random_small(&mut rng)).unwrap_or(b);
            }
            let oa = BigDecimal::from_str(&a.to_string()).unwrap();
            let ob = BigDecimal::from_str(&b.to_string()).unwrap();
            let sum = a.checked_add(&b).map(|r| r.to_string());
            assert_eq!(sum, expected(&(&oa + &ob)), "{a} + {b}");
            let diff = a.checked_sub(&b).map(|r| r.to_string());
            assert_eq!(diff, expected(&(&oa - &ob)), "{a} - {b}");
        }
    });
}

fn random_small(rng: &mut Rng) -> Number {
    Number::from_parts(
        rng.chance(1, 2),
        u128::from(rng.below(1000)),
        rng.below(5) as i32 - 2,
    )
    .unwrap()
}
