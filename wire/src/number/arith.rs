//! Exact addition and subtraction of DynamoDB numbers (UpdateExpression `SET a = b + c`, `ADD`).
//!
//! DynamoDB computes sums exactly and refuses a result it cannot store: a magnitude above
//! 9.99…E+125 is "Number overflow", a nonzero magnitude below 1E-130 is "Number underflow", and
//! a result that needs more than 38 significant digits (`1e50 + 1`) is *also* reported as
//! "Number overflow" — a quirk of the real service recorded by ScyllaDB's Alternator tests
//! (`test/alternator/test_number.py`, `test_update_expression_plus_imprecise`). Nothing is
//! ever rounded.
//!
//! Method: both operands are `±c × 10^e` with `c < 10^38`. Aligned to the smaller exponent the
//! coefficients can need up to ~300 digits (exponents span -167..=125), so the general path uses
//! a small base-10^9 big integer; the common case (both aligned coefficients below 10^38) stays
//! in `i128`/`u128`.

use super::{MAX_SIGNIFICANT_DIGITS, Number, NumberError};

/// Limb base of the slow path.
const LIMB: u64 = 1_000_000_000;

impl Number {
    /// The negation (zero stays zero).
    pub fn negated(&self) -> Number {
        if self.is_zero() {
            return *self;
        }
        Number {
            negative: !self.negative,
            ..*self
        }
    }

    /// `self + other`, exactly, or DynamoDB's error when the sum cannot be stored.
    pub fn checked_add(&self, other: &Number) -> Result<Number, NumberError> {
        if self.is_zero() {
            return Ok(*other);
        }
        if other.is_zero() {
            return Ok(*self);
        }
        let e = self.exponent.min(other.exponent);
        let shift_a = (self.exponent - e) as u32;
        let shift_b = (other.exponent - e) as u32;
        if let (Some(a), Some(b)) = (
            aligned(self.coefficient, shift_a),
            aligned(other.coefficient, shift_b),
        ) {
            // Both below 10^38: the sum is below 2·10^38 < u128::MAX.
            let (negative, magnitude) = match (self.negative, other.negative) {
                (sa, sb) if sa == sb => (sa, a + b),
                (sa, _) if a >= b => (sa, a - b),
                (_, sb) => (sb, b - a),
            };
            return finish(negative, &to_limbs(magnitude), i64::from(e));
        }
        let a = shifted_limbs(self.coefficient, shift_a);
        let b = shifted_limbs(other.coefficient, shift_b);
        let (negative, magnitude) = if self.negative == other.negative {
            (self.negative, add_limbs(&a, &b))
        } else if cmp_limbs(&a, &b).is_ge() {
            (self.negative, sub_limbs(&a, &b))
        } else {
            (other.negative, sub_limbs(&b, &a))
        };
        finish(negative, &magnitude, i64::from(e))
    }

    /// `self - other`, exactly, or DynamoDB's error when the difference cannot be stored.
    pub fn checked_sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.checked_add(&other.negated())
    }
}

/// `c × 10^shift` if it stays below 10^38.
fn aligned(c: u128, shift: u32) -> Option<u128> {
    let limit = 10u128.pow(MAX_SIGNIFICANT_DIGITS);
    let scaled = c.checked_mul(10u128.checked_pow(shift)?)?;
    (scaled < limit).then_some(scaled)
}

/// Little-endian base-10^9 limbs of `v` (empty for 0).
fn to_limbs(mut v: u128) -> Vec<u64> {
    let mut out = Vec::new();
    while v > 0 {
        out.push((v % u128::from(LIMB)) as u64);
        v /= u128::from(LIMB);
    }
    out
}

/// Limbs of `c × 10^shift`.
fn shifted_limbs(c: u128, shift: u32) -> Vec<u64> {
    let mut out = vec![0u64; (shift / 9) as usize];
    let mut rest = to_limbs(c);
    let mul = 10u64.pow(shift % 9);
    let mut carry = 0u64;
    for limb in &mut rest {
        let v = *limb * mul + carry;
        *limb = v % LIMB;
        carry = v / LIMB;
    }
    if carry > 0 {
        rest.push(carry);
    }
    out.extend(rest);
    out
}

fn add_limbs(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let v = a.get(i).copied().unwrap_or(0) + b.get(i).copied().unwrap_or(0) + carry;
        out.push(v % LIMB);
        carry = v / LIMB;
    }
    if carry > 0 {
        out.push(carry);
    }
    out
}

/// `a - b` for `a >= b`.
fn sub_limbs(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0u64;
    for (i, &x) in a.iter().enumerate() {
        let y = b.get(i).copied().unwrap_or(0) + borrow;
        if x >= y {
            out.push(x - y);
            borrow = 0;
        } else {
            out.push(x + LIMB - y);
            borrow = 1;
        }
    }
    trim(&mut out);
    out
}

fn trim(v: &mut Vec<u64>) {
    while v.last() == Some(&0) {
        v.pop();
    }
}

fn cmp_limbs(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    trim(&mut a);
    trim(&mut b);
    a.len()
        .cmp(&b.len())
        .then_with(|| a.iter().rev().cmp(b.iter().rev()))
}

/// The number `±magnitude × 10^exponent`, checked like any stored number; a result with more
/// than 38 significant digits is DynamoDB's "Number overflow" (see the module docs).
fn finish(negative: bool, magnitude: &[u64], exponent: i64) -> Result<Number, NumberError> {
    let mut digits: Vec<u8> = Vec::with_capacity(magnitude.len() * 9);
    for (i, &limb) in magnitude.iter().enumerate().rev() {
        let text = if i + 1 == magnitude.len() {
            limb.to_string()
        } else {
            format!("{limb:09}")
        };
        digits.extend(text.bytes().map(|d| d - b'0'));
    }
    let first = digits.iter().position(|&d| d != 0);
    let Some(first) = first else {
        return Ok(Number::ZERO);
    };
    let digits = &digits[first..];
    let trailing = digits.iter().rev().take_while(|&&d| d == 0).count();
    let significant = &digits[..digits.len() - trailing];
    let last_exponent = exponent + trailing as i64;
    let leading_exponent = last_exponent + significant.len() as i64 - 1;
    super::check_range(leading_exponent, 1)?;
    if significant.len() > MAX_SIGNIFICANT_DIGITS as usize {
        return Err(NumberError::Overflow);
    }
    let coefficient = significant
        .iter()
        .fold(0u128, |c, &d| c * 10 + u128::from(d));
    Number::from_parts(
        negative,
        coefficient,
        i32::try_from(last_exponent).map_err(|_| NumberError::Overflow)?,
    )
}

#[cfg(test)]
mod tests;
