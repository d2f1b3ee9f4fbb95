//! `x ** y` for finite `x` and an integral `y`, where the result is exact at
//! one digit more than the precision: the path `_pydecimal`'s `__pow__`
//! takes through `_power_exact`, step for step, so that the results, their
//! exponents and the conditions are its own.
//!
//! Everything else (a non-integral `y`, an inexact power, which `_pydecimal`
//! computes as `exp(y * log(x))` with growing precision, and the invalid
//! ones) returns `None` and is left to the Python method. That covers the
//! common uses: squares and cubes, `Decimal(10) ** -n` for an epsilon, and
//! powers of two and five.

use malachite_bigint::BigUint;
use num_integer::Integer as _;
use num_traits::{One as _, ToPrimitive as _, Zero as _};

use super::number::{
    Ctx, EXP_LIMIT, Finite, Num, Outcome, Signal, digits, fix, pow10, strip_zeros,
};

/// `y` as an integer, when it is one and small enough to multiply an
/// exponent by; `None` for a non-integer or a huge one.
fn integral(y: &Finite) -> Option<i64> {
    if y.is_zero() {
        return Some(0);
    }
    let magnitude = if y.exp >= 0 {
        if y.exp > 18 {
            return None;
        }
        (&y.coef * pow10(y.exp as u64)).to_i64()?
    } else {
        if y.exp.unsigned_abs() > digits(&y.coef) {
            return None;
        }
        let (q, r) = y.coef.div_rem(&pow10(y.exp.unsigned_abs()));
        if !r.is_zero() {
            return None;
        }
        q.to_i64()?
    };
    Some(if y.negative { -magnitude } else { magnitude })
}

/// Whether `y` is an integer at all (of any size): `_isinteger`.
fn is_integer(y: &Finite) -> bool {
    if y.exp >= 0 || y.is_zero() {
        return true;
    }
    // A non-zero integer has at least as many digits as its exponent
    // strips (and the power of ten below stays that small).
    if y.exp.unsigned_abs() > digits(&y.coef) {
        return false;
    }
    (&y.coef % pow10(y.exp.unsigned_abs())).is_zero()
}

/// The number of decimal digits of a non-negative `i128`: `len(str(n))`.
fn len_str(n: i128) -> i64 {
    if n == 0 {
        1
    } else {
        n.unsigned_abs().ilog10() as i64 + 1
    }
}

/// `_log10_exp_bound`: a lower bound `r` with `log10(x) >= 10**r`, for a
/// positive `x` other than 1.
fn log10_exp_bound(x: &Finite) -> i64 {
    let adj = x.adjusted() as i128;
    if adj >= 1 {
        return len_str(adj) - 1;
    }
    if adj <= -2 {
        return len_str(-1 - adj) - 1;
    }
    // Here the coefficient has at most a handful more digits than the
    // exponent is negative, so these powers are of the number's own size.
    let e = x.exp;
    if adj == 0 {
        // 1 < x < 10, so c > 10^-e.
        let num = (&x.coef - pow10(e.unsigned_abs())).to_string();
        let den = (&x.coef * 231u32).to_string();
        return num.len() as i64 - den.len() as i64 - (num < den) as i64 + 2;
    }
    // 0.1 <= x < 1, so c < 10^-e.
    let num = (pow10(e.unsigned_abs()) - &x.coef).to_string();
    num.len() as i64 + e - (num.as_str() < "231") as i64 - 1
}

/// Strips the trailing zeros of `coef * 10^exp`.
fn strip(coef: &BigUint, exp: i64) -> (BigUint, i64) {
    let (coef, zeros) = strip_zeros(coef.clone(), u64::MAX);
    (coef, exp + zeros as i64)
}

/// `x ** y` where `_pydecimal` finds it exact, else `None`.
pub fn power(x: &Finite, y: &Finite, ctx: &Ctx) -> Option<Outcome> {
    if y.is_zero() {
        // 0 ** 0 is invalid; x ** 0 is 1, unrounded.
        return (!x.is_zero()).then(|| (Num::Finite(Finite::one()), vec![]));
    }
    let integer = is_integer(y);
    // The sign: negative only for a negative x and an odd integer y.
    let negative = if x.negative {
        if !integer {
            if !x.is_zero() {
                return None;
            }
            false
        } else {
            is_odd(y)
        }
    } else {
        false
    };
    if x.is_zero() {
        // 0 ** positive is 0 (unrounded); 0 ** negative is infinite.
        return (!y.negative).then(|| (Num::Finite(Finite::zero(negative, 0)), vec![]));
    }
    let x = &Finite {
        negative: false,
        ..x.clone()
    };
    if x.adjusted() == 0 && strip(&x.coef, x.exp).0.is_one() {
        return Some(one_to_the(x, y, integer, negative, ctx));
    }
    // A result certain to overflow or underflow stands in as 1E(Emax+1) or
    // 1E(Etiny-1), for `fix` to make the right one of.
    let bound = log10_exp_bound(x) as i128 + y.adjusted() as i128;
    let extreme = if (x.adjusted() >= 0) == !y.negative {
        (bound >= len_str(ctx.emax as i128) as i128).then_some(ctx.emax + 1)
    } else {
        (bound >= len_str(-(ctx.etiny() as i128)) as i128).then_some(ctx.etiny() - 1)
    };
    if let Some(exp) = extreme {
        let stand_in = Finite {
            negative,
            coef: BigUint::one(),
            exp,
        };
        return Some(fix(stand_in, ctx));
    }
    // Only integral powers here: an exact result for a non-integral y
    // raises Inexact anyway, through a temporary context, in Python.
    if !integer {
        return None;
    }
    let exact = power_exact(x, y, ctx.prec + 1)?;
    Some(fix(Finite { negative, ..exact }, ctx))
}

/// Whether an integral `y` is odd: `not _iseven()`.
fn is_odd(y: &Finite) -> bool {
    if y.is_zero() || y.exp > 0 {
        return false;
    }
    let units = if y.exp == 0 {
        y.coef.clone()
    } else {
        &y.coef / pow10(y.exp.unsigned_abs())
    };
    units.is_odd()
}

/// `x ** y` for an `x` numerically equal to 1: 1 on an exponent that
/// depends on x's and, for an integral y, on y.
fn one_to_the(x: &Finite, y: &Finite, integer: bool, negative: bool, ctx: &Ctx) -> Outcome {
    let floor = 1 - ctx.prec;
    let mut signals = vec![];
    let exp = if integer {
        let multiplier: i128 = if y.negative {
            0
        } else {
            match integral(y) {
                Some(y) if y <= ctx.prec => y as i128,
                _ => ctx.prec as i128,
            }
        };
        let exp = x.exp as i128 * multiplier;
        if exp < floor as i128 {
            signals.push(Signal::Rounded);
            floor
        } else {
            exp as i64
        }
    } else {
        signals.extend([Signal::Inexact, Signal::Rounded]);
        floor
    };
    let one = Finite {
        negative,
        coef: pow10(exp.unsigned_abs()),
        exp,
    };
    (Num::Finite(one), signals)
}

/// `_power_exact` for a positive `x` other than 1 and a non-zero integral
/// `y`: the power when it has at most `p` digits, else `None`.
fn power_exact(x: &Finite, y: &Finite, p: i64) -> Option<Finite> {
    let (xc, xe) = strip(&x.coef, x.exp);
    let y_int = integral(y)?;
    let y_abs = y_int.unsigned_abs() as i128;
    let in_range = |exp: i128| (exp.unsigned_abs() < EXP_LIMIT as u128).then_some(exp as i64);
    if xc.is_one() {
        // A power of ten: 10^(xe * y), padded towards the ideal exponent
        // for a positive y.
        let exponent = in_range(xe as i128 * y_int as i128)?;
        if y.negative {
            return Some(Finite {
                negative: false,
                coef: BigUint::one(),
                exp: exponent,
            });
        }
        let ideal = in_range(x.exp as i128 * y_int as i128)?;
        let zeros = (exponent - ideal).min(p - 1);
        return Some(Finite {
            negative: false,
            coef: pow10(zeros as u64),
            exp: exponent - zeros,
        });
    }
    if y.negative {
        // Exact only for a power of 2 (its inverse a power of 5) or of 5.
        let last = (&xc % 10u32).to_u32()?;
        let (e, limit, base) = if last % 2 == 0 {
            if xc.count_ones() != 1 {
                return None;
            }
            (xc.bits() - 1, p as i128 * 93 / 65, 5u32)
        } else if last == 5 {
            let bound = xc.bits() * 28 / 65;
            let mut rest = xc.clone();
            let mut e = 0u64;
            while (&rest % 5u32).is_zero() {
                rest /= 5u32;
                e += 1;
            }
            if !rest.is_one() || e > bound {
                return None;
            }
            (e, p as i128 * 10 / 3, 2u32)
        } else {
            return None;
        };
        let e = e as i128 * y_abs;
        if e > limit {
            return None;
        }
        let coef = BigUint::from(base).pow(e as u32);
        if digits(&coef) as i64 > p {
            return None;
        }
        return Some(Finite {
            negative: false,
            coef,
            exp: in_range(-e - xe as i128 * y_abs)?,
        });
    }
    // A positive y: xc^y, if it has at most p digits. xc^y is at least 2^y
    // and at least 10^((d-1)y) for d digits: either bound rejects a power
    // too long before it is computed.
    let xc_digits = digits(&xc) as i128;
    if y_abs > 4 * p as i128 || (xc_digits - 1) * y_abs >= p as i128 {
        return None;
    }
    let coef = xc.pow(y_abs as u32);
    let len = digits(&coef) as i64;
    if len > p {
        return None;
    }
    let exp = in_range(xe as i128 * y_abs)?;
    let ideal = in_range(x.exp as i128 * y_abs)?;
    let zeros = (exp - ideal).min(p - len);
    Some(Finite {
        negative: false,
        coef: coef * pow10(zeros as u64),
        exp: exp - zeros,
    })
}
