//! A decimal's text: the plain numeric strings the constructor reads
//! natively, and the specification's to-scientific-string (`str()`) and
//! to-engineering-string.

use malachite_bigint::BigUint;
use num_traits::Zero as _;

use super::number::{EXP_LIMIT, Finite};

/// The specification's to-scientific-string (`str()`), or its engineering
/// form (`to_eng_string()`).
pub fn to_string(value: &Finite, engineering: bool, capitals: bool) -> String {
    let digits = value.coef.to_string();
    let leftdigits = value.exp + digits.len() as i64;
    let dotplace = if value.exp <= 0 && leftdigits > -6 {
        leftdigits
    } else if !engineering {
        1
    } else if value.is_zero() {
        (leftdigits + 1).rem_euclid(3) - 1
    } else {
        (leftdigits - 1).rem_euclid(3) + 1
    };
    let mut out = String::with_capacity(digits.len() + 8);
    if value.negative {
        out.push('-');
    }
    if dotplace <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-dotplace) as usize));
        out.push_str(&digits);
    } else if dotplace >= digits.len() as i64 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            (dotplace - digits.len() as i64) as usize,
        ));
    } else {
        out.push_str(&digits[..dotplace as usize]);
        out.push('.');
        out.push_str(&digits[dotplace as usize..]);
    }
    if leftdigits != dotplace {
        let e = if capitals { 'E' } else { 'e' };
        out.push_str(&format!("{e}{:+}", leftdigits - dotplace));
    }
    out
}

/// An optional `+` or `-` at `bytes[*i]`, stepped over: whether it was `-`.
fn take_sign(bytes: &[u8], i: &mut usize) -> bool {
    match bytes.get(*i) {
        Some(b'-') => {
            *i += 1;
            true
        }
        Some(b'+') => {
            *i += 1;
            false
        }
        _ => false,
    }
}

/// Parses the plain ASCII form of a finite number (`-12.5e3`, `.5`, `7.`),
/// without surrounding whitespace. `None` for anything else (infinities,
/// NaNs, underscores, other digits, an exponent out of range), which the
/// caller leaves to Python.
pub fn parse(text: &str) -> Option<Finite> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = take_sign(bytes, &mut i);
    let mut coef_digits = Vec::with_capacity(bytes.len());
    let mut fraction = 0i64;
    let mut seen_dot = false;
    let mut any_digit = false;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'0'..=b'9' => {
                any_digit = true;
                if !(coef_digits.is_empty() && c == b'0') {
                    coef_digits.push(c);
                }
                if seen_dot {
                    fraction += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    let mut exp = 0i64;
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        let exp_negative = take_sign(bytes, &mut i);
        let start = i;
        while let Some(c @ b'0'..=b'9') = bytes.get(i) {
            exp = exp.checked_mul(10)?.checked_add((c - b'0') as i64)?;
            if exp > EXP_LIMIT {
                return None;
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        if exp_negative {
            exp = -exp;
        }
    }
    if i != bytes.len() {
        return None;
    }
    let coef = if coef_digits.is_empty() {
        BigUint::zero()
    } else if coef_digits.len() <= 19 {
        let mut small = 0u64;
        for d in &coef_digits {
            small = small * 10 + (d - b'0') as u64;
        }
        BigUint::from(small)
    } else {
        BigUint::parse_bytes(&coef_digits, 10)?
    };
    Some(Finite {
        negative,
        coef,
        exp: exp - fraction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Finite {
        parse(text).unwrap()
    }

    #[test]
    fn strings_follow_the_specification() {
        for (text, expected) in [
            ("123", "123"),
            ("-123E+3", "-1.23E+5"),
            ("0.00000123", "0.00000123"),
            ("123E-10", "1.23E-8"),
            ("-0", "-0"),
            ("0E+2", "0E+2"),
            ("5E-7", "5E-7"),
        ] {
            assert_eq!(to_string(&num(text), false, true), expected, "{text}");
        }
        assert_eq!(to_string(&num("123E+1"), true, true), "1.23E+3");
        assert!(parse("1_0").is_none() && parse("inf").is_none() && parse(".").is_none());
    }
}
