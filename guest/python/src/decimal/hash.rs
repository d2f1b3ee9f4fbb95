//! Python's hash of a finite decimal: the hash of the rational number it
//! is, so that equal ints, floats, Fractions and Decimals hash alike.

use malachite_bigint::BigUint;
use num_traits::ToPrimitive as _;

use super::number::Finite;

/// The modulus of Python's numeric hash (`sys.hash_info.modulus`), 2^61 - 1.
const HASH_MODULUS: u64 = (1 << 61) - 1;

/// `a * b` modulo 2^61 - 1, for operands below it. The modulus is a
/// Mersenne prime, so the reduction is a shift and an add, not a 128-bit
/// division (a library call in WebAssembly).
fn mul_mod(a: u64, b: u64) -> u64 {
    let product = a as u128 * b as u128;
    let folded = (product & HASH_MODULUS as u128) as u64 + (product >> 61) as u64;
    if folded >= HASH_MODULUS {
        folded - HASH_MODULUS
    } else {
        folded
    }
}

/// 10's inverse modulo the (prime) modulus, 10^(M-2) by Fermat.
const TEN_INVERSE: u64 = 2075258708292324556;

fn pow_mod(mut base: u64, mut exp: u64) -> u64 {
    let mut result = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            result = mul_mod(result, base);
        }
        base = mul_mod(base, base);
        exp >>= 1;
    }
    result
}

/// Python's hash of the rational number `value`, so that equal ints,
/// floats, Fractions and Decimals hash alike (the algorithm the Python
/// documentation gives under "Hashing of numeric types").
pub fn hash(value: &Finite) -> i64 {
    let coef = (&value.coef % BigUint::from(HASH_MODULUS))
        .to_u64()
        .unwrap_or(0);
    let scale = if value.exp >= 0 {
        pow_mod(10, value.exp as u64)
    } else {
        pow_mod(TEN_INVERSE, value.exp.unsigned_abs())
    };
    let hash = mul_mod(coef, scale) as i64;
    let hash = if value.negative { -hash } else { hash };
    if hash == -1 { -2 } else { hash }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::text::parse;

    fn num(text: &str) -> Finite {
        parse(text).unwrap()
    }

    #[test]
    fn hashes_match_python() {
        // hash(1.5), hash(Fraction(1, 10)) and hash(-1) in CPython.
        assert_eq!(hash(&num("1.5")), 1152921504606846977);
        assert_eq!(hash(&num("0.1")), 2075258708292324556);
        assert_eq!(hash(&num("-1")), -2);
    }
}
