//! Order-preserving, self-delimiting byte encoding of [`Number`] (part of the on-disk key
//! format: a numeric sort key is stored this way, see `crate::key`).
//!
//! Write a nonzero number as `|x| = 0.d1 d2 … dn × 10^E` with `d1 ≠ 0`, `dn ≠ 0`, `n ≤ 38`.
//! DynamoDB's range puts `E` in `-129..=126`, so `E + 129` fits one byte exactly. Group the
//! digits in pairs from the left, `p_i = 10·d(2i-1) + d(2i)` (a missing last digit is 0), so
//! there are `k = ceil(n / 2) ≤ 19` pairs, each in `0..=99`, and the last pair is nonzero.
//!
//! ```text
//! zero      : 02
//! positive  : 03  E+129   p1+1   p2+1  …  pk+1   00
//! negative  : 01  !(E+129) !(p1+1) …     !(pk+1) FF      (! = bitwise NOT)
//!             ──  ───────  ──────────────────────  ──
//!             class exponent  pair bytes, 1..=100      terminator
//!                             (negative: 155..=254)
//! examples  : 1000 = 0.1e4  → 03 85 0B 00
//!             -0.5 = -0.5e0 → 01 7E CC FF
//! ```
//!
//! The longest encoding is 1 + 1 + 19 + 1 = [`MAX_ENCODED_NUMBER_BYTES`] = 22 bytes.
//!
//! **Self-delimiting.** The class byte says whether a body follows. A body is one exponent byte
//! (any value) and then pair bytes up to the first terminator; pair bytes are never the
//! terminator (`1..=100` vs `00`; `155..=254` vs `FF`). So the end is found by a left-to-right
//! scan, and no encoding is a proper prefix of another: comparing `enc(a) ‖ s` with `enc(b) ‖ t`
//! for `a ≠ b` is decided inside the encodings, whatever follows.
//!
//! **Order: `a < b ⇔ enc(a) < enc(b)` (memcmp).**
//! 1. Different classes: `01 < 02 < 03` is negative < zero < positive.
//! 2. Both positive, different `E`: the mantissa is in `[0.1, 1)`, so `|x| ∈ [10^(E-1), 10^E)`
//!    and a larger `E` is a larger number; the exponent byte grows with `E`.
//! 3. Both positive, same `E`: the mantissa is `m = Σ p_i·100^-i`. At the first byte position
//!    where the encodings differ, either both hold pair bytes — then the larger pair wins,
//!    because the rest of a mantissa after pair `i` is at most `Σ_{j>i} 99·100^-j < 100^-i`
//!    (a finite sum) — or one holds its terminator `00`, which is below every pair byte; the
//!    other still has pairs left, ending in a nonzero one, so its mantissa is larger. Equal
//!    byte strings are equal numbers.
//! 4. Both negative: the bytes after the class are the bitwise NOT of the positive encoding of
//!    `|x|` (terminator `00` becomes `FF`). By the prefix-freeness above the first differing
//!    position lies inside both, and NOT reverses the comparison of two bytes, so the larger
//!    magnitude (the smaller number) gets the smaller encoding.
//!
//! [`Number::decode`] accepts exactly the encodings [`Number::encode_into`] produces (so
//! `decode ∘ encode` and `encode ∘ decode` are identities): it rejects bad class bytes, pair
//! bytes out of range, a leading zero digit, a zero last pair, more than 19 pairs and a missing
//! terminator, each as a typed [`KeyError`] with the byte offset.

use super::{MAX_SIGNIFICANT_DIGITS, Number};
use crate::key::KeyError;

/// The longest encoding of a number: class, exponent, 19 digit pairs, terminator.
pub const MAX_ENCODED_NUMBER_BYTES: usize = 1 + 1 + MAX_PAIRS + 1;

const CLASS_NEGATIVE: u8 = 0x01;
const CLASS_ZERO: u8 = 0x02;
const CLASS_POSITIVE: u8 = 0x03;
/// Terminator of a positive body (below every pair byte); a negative body ends in its NOT.
const TERMINATOR_POSITIVE: u8 = 0x00;
/// `E + EXPONENT_BIAS` is the exponent byte, for `E` (mantissa form) in -129..=126.
const EXPONENT_BIAS: i32 = 129;
/// The most digit pairs a number has: ceil(38 / 2).
const MAX_PAIRS: usize = MAX_SIGNIFICANT_DIGITS.div_ceil(2) as usize;

impl Number {
    /// Appends the order-preserving encoding of `self` to `out` (see the module docs).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(CLASS_ZERO);
            return;
        }
        // NOT-ing every body byte of a negative number is XOR with 0xFF.
        let (class, flip) = if self.negative {
            (CLASS_NEGATIVE, 0xFF)
        } else {
            (CLASS_POSITIVE, 0x00)
        };
        let mantissa_exponent = self.leading_exponent() + 1;
        let exponent_byte = u8::try_from(mantissa_exponent + EXPONENT_BIAS)
            .expect("a Number's exponent is in DynamoDB's range, so it fits the exponent byte");
        out.push(class);
        out.push(exponent_byte ^ flip);

        let mut digits = [0u8; MAX_SIGNIFICANT_DIGITS as usize + 1];
        let n = self.significant_digits() as usize;
        let mut rest = self.coefficient;
        for slot in digits[..n].iter_mut().rev() {
            *slot = (rest % 10) as u8;
            rest /= 10;
        }
        // digits[n] is 0: the padding digit of an odd count.
        for pair in digits[..n.div_ceil(2) * 2].chunks_exact(2) {
            out.push((pair[0] * 10 + pair[1] + 1) ^ flip);
        }
        out.push(TERMINATOR_POSITIVE ^ flip);
    }

    /// The length of [`Number::encode_into`]'s output for `self`.
    pub fn encoded_len(&self) -> usize {
        if self.is_zero() {
            1
        } else {
            3 + (self.significant_digits() as usize).div_ceil(2)
        }
    }

    /// The encoding of `self` as a new vector.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Decodes the number at the start of `bytes`, returning it and how many bytes it used.
    /// Bytes after the encoding are ignored (the encoding is self-delimiting).
    pub fn decode(bytes: &[u8]) -> Result<(Number, usize), KeyError> {
        decode_at(bytes, 0)
    }
}

/// [`Number::decode`] with error offsets reported relative to `base_offset` (the position of
/// `bytes` inside the key being decoded).
pub(crate) fn decode_at(bytes: &[u8], base_offset: usize) -> Result<(Number, usize), KeyError> {
    let corrupt = |at: usize, reason: &'static str| KeyError::CorruptNumber {
        offset: base_offset + at,
        reason,
    };
    let truncated = |at: usize| KeyError::Truncated {
        offset: base_offset + at,
        expected: "number byte",
    };
    let (negative, flip) = match bytes.first() {
        None => return Err(truncated(0)),
        Some(&CLASS_ZERO) => return Ok((Number::ZERO, 1)),
        Some(&CLASS_NEGATIVE) => (true, 0xFF),
        Some(&CLASS_POSITIVE) => (false, 0x00),
        Some(_) => return Err(corrupt(0, "unknown class byte")),
    };
    let exponent_byte = *bytes.get(1).ok_or_else(|| truncated(1))? ^ flip;
    let mantissa_exponent = i32::from(exponent_byte) - EXPONENT_BIAS;

    let mut coefficient: u128 = 0;
    let mut pairs = 0usize;
    let mut last_pair = 0u8;
    let mut at = 2;
    loop {
        let byte = *bytes.get(at).ok_or_else(|| truncated(at))? ^ flip;
        if byte == TERMINATOR_POSITIVE {
            break;
        }
        if byte > 100 {
            return Err(corrupt(at, "digit-pair byte out of range"));
        }
        if pairs == MAX_PAIRS {
            return Err(corrupt(at, "more than 19 digit pairs"));
        }
        let pair = byte - 1;
        if pairs == 0 && pair < 10 {
            return Err(corrupt(at, "leading digit is zero"));
        }
        coefficient = coefficient * 100 + u128::from(pair);
        last_pair = pair;
        pairs += 1;
        at += 1;
    }
    if pairs == 0 {
        return Err(corrupt(at, "no digits before the terminator"));
    }
    if last_pair == 0 {
        return Err(corrupt(at - 1, "last digit pair is zero"));
    }
    // |x| = 0.(pairs) × 10^E = coefficient × 10^(E − 2·pairs); from_parts drops the padding
    // zero of an odd digit count.
    let exponent = mantissa_exponent - 2 * pairs as i32;
    let number = Number::from_parts(negative, coefficient, exponent)
        .map_err(|_| corrupt(1, "number outside DynamoDB's range"))?;
    Ok((number, at + 1))
}
