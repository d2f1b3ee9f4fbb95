//! Finite decimal arithmetic as the General Decimal Arithmetic specification
//! defines it (the semantics of Python's `decimal`), free of the VM.
//!
//! A number is `(-1)^negative * coef * 10^exp`. Every operation here takes
//! finite operands, computes the exact result (or enough of it to round
//! correctly) and rounds it to the context with [`fix`], which returns the
//! conditions it raised in the order `_pydecimal` raises them: when one of
//! them is trapped, the caller raises the first trapped one, so the flags
//! set before it must be the same as `_pydecimal`'s.
//!
//! Infinities and NaNs, zero divisors and every operation not here are left
//! to `_pydecimal`'s Python code by the caller (see `mod.rs`).

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use malachite_bigint::BigUint;
use num_integer::Integer as _;
use num_traits::{One as _, ToPrimitive as _, Zero as _};

/// The rounding modes, named as `decimal`'s constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    Down,
    HalfUp,
    HalfEven,
    Ceiling,
    Floor,
    Up,
    HalfDown,
    Up05,
}

impl Rounding {
    pub fn from_name(name: &str) -> Option<Rounding> {
        Some(match name {
            "ROUND_DOWN" => Rounding::Down,
            "ROUND_HALF_UP" => Rounding::HalfUp,
            "ROUND_HALF_EVEN" => Rounding::HalfEven,
            "ROUND_CEILING" => Rounding::Ceiling,
            "ROUND_FLOOR" => Rounding::Floor,
            "ROUND_UP" => Rounding::Up,
            "ROUND_HALF_DOWN" => Rounding::HalfDown,
            "ROUND_05UP" => Rounding::Up05,
            _ => return None,
        })
    }
}

/// What of a `decimal.Context` the arithmetic needs.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub prec: i64,
    pub rounding: Rounding,
    pub emin: i64,
    pub emax: i64,
    pub clamp: bool,
}

impl Ctx {
    /// The smallest exponent a subnormal result may have.
    pub fn etiny(&self) -> i64 {
        self.emin - self.prec + 1
    }

    /// The largest exponent a full-precision result may have.
    pub fn etop(&self) -> i64 {
        self.emax - self.prec + 1
    }
}

/// The conditions finite arithmetic can raise (the rest are left to Python).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Clamped,
    Inexact,
    Rounded,
    Subnormal,
    Underflow,
    Overflow,
}

/// Exponents are kept within this bound, so that sums and differences of
/// two of them (and of a precision) never overflow an `i64`; the largest
/// `Emax` a context accepts is 999999999999999999, well inside it.
pub const EXP_LIMIT: i64 = 1 << 61;

/// The largest precision the native code works to. Above it the results
/// run to millions of digits, and `_pydecimal` does the work (and runs out
/// of memory, if it must, as Python code does): no native allocation is
/// then sized by a user's precision.
pub const MAX_PREC: i64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finite {
    pub negative: bool,
    pub coef: BigUint,
    pub exp: i64,
}

/// A rounded result: finite, or an infinity after an overflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Num {
    Finite(Finite),
    Infinity { negative: bool },
}

/// A result and the conditions raised computing it, in order.
pub type Outcome = (Num, Vec<Signal>);

thread_local! {
    /// Powers of ten already computed: every rounding and alignment needs
    /// them, most of them small. Shared, not cloned: at a precision of a
    /// thousand digits a copy costs more than the comparison it serves.
    static POW10: RefCell<Vec<Rc<BigUint>>> = RefCell::new(vec![Rc::new(BigUint::from(1u32))]);
}

/// The cached powers of ten go up to this one; larger ones are computed.
const POW10_CACHED: u64 = 4096;

/// `10^n`, shared.
pub fn pow10_shared(n: u64) -> Rc<BigUint> {
    if n >= POW10_CACHED {
        return Rc::new(BigUint::from(10u32).pow(n as u32));
    }
    POW10.with(|cache| {
        let mut cache = cache.borrow_mut();
        while cache.len() as u64 <= n {
            let next = &**cache.last().unwrap() * 10u32;
            cache.push(Rc::new(next));
        }
        cache[n as usize].clone()
    })
}

/// `10^n`.
pub fn pow10(n: u64) -> BigUint {
    (*pow10_shared(n)).clone()
}

/// The number of decimal digits of `n` (1 for zero).
pub fn digits(n: &BigUint) -> u64 {
    if let Some(small) = n.to_u64() {
        return if small == 0 {
            1
        } else {
            small.ilog10() as u64 + 1
        };
    }
    // log10(2) is a little more than 0.30103: the estimate is the count or
    // one more.
    let estimate = (n.bits() as f64 * std::f64::consts::LOG10_2) as u64 + 1;
    if *n < *pow10_shared(estimate - 1) {
        estimate - 1
    } else {
        estimate
    }
}

/// Removes up to `max` trailing decimal zeros of `coef`; returns what is
/// left and how many went. An exact quotient at a precision of a thousand
/// digits can have a thousand to strip: one division by 10 each was
/// quadratic, so the count is found by doubling, then halving, trials
/// (10^k divides only if 2^k does, which bounds it first).
pub fn strip_zeros(coef: BigUint, max: u64) -> (BigUint, u64) {
    if max == 0 || coef.is_zero() || !(&coef % 10u32).is_zero() {
        return (coef, 0);
    }
    let limit = max.min(coef.trailing_zeros().unwrap_or(0));
    let divides = |k: u64| (&coef % &*pow10_shared(k)).is_zero();
    // Invariant: 10^known divides; 10^(beyond) does not, or is over limit.
    let mut known = 1;
    let mut beyond = limit + 1;
    let mut step = 2;
    while step <= limit {
        if !divides(step) {
            beyond = step;
            break;
        }
        known = step;
        step *= 2;
    }
    while beyond - known > 1 {
        let mid = known + (beyond - known) / 2;
        if divides(mid) {
            known = mid;
        } else {
            beyond = mid;
        }
    }
    (coef / &*pow10_shared(known), known)
}

impl Finite {
    pub fn zero(negative: bool, exp: i64) -> Finite {
        Finite {
            negative,
            coef: BigUint::zero(),
            exp,
        }
    }

    pub fn one() -> Finite {
        Finite {
            negative: false,
            coef: BigUint::from(1u32),
            exp: 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.coef.is_zero()
    }

    /// The exponent of the most significant digit.
    pub fn adjusted(&self) -> i64 {
        self.exp + digits(&self.coef) as i64 - 1
    }
}

/// Drops the `drop` lowest digits of `coef` and rounds what is left by
/// `mode`. Returns the kept digits, rounded, and whether the result was
/// rounded up (1), rounded down with a non-zero part dropped (-1), or exact
/// (0).
fn round_drop(coef: &BigUint, drop: u64, mode: Rounding, negative: bool) -> (BigUint, i8) {
    if drop == 0 {
        return (coef.clone(), 0);
    }
    // How the dropped part compares with half a unit of the last kept digit.
    let (kept, half) = if drop > digits(coef) {
        // All of it dropped, and below half: no power of ten needed.
        if coef.is_zero() {
            return (BigUint::zero(), 0);
        }
        (BigUint::zero(), Ordering::Less)
    } else {
        let unit = pow10_shared(drop);
        let (kept, rest) = coef.div_rem(&unit);
        if rest.is_zero() {
            return (kept, 0);
        }
        let twice: BigUint = rest * 2u32;
        (kept, twice.cmp(&unit))
    };
    let up = match mode {
        Rounding::Down => false,
        Rounding::Up => true,
        Rounding::HalfUp => half != Ordering::Less,
        Rounding::HalfDown => half == Ordering::Greater,
        Rounding::HalfEven => {
            half == Ordering::Greater || (half == Ordering::Equal && kept.is_odd())
        }
        Rounding::Ceiling => !negative,
        Rounding::Floor => negative,
        Rounding::Up05 => {
            let last = (&kept % 10u32).to_u32().unwrap_or(0);
            last == 0 || last == 5
        }
    };
    if up { (kept + 1u32, 1) } else { (kept, -1) }
}

/// The result of an overflow under `ctx`: an infinity, or the largest
/// finite number, as the rounding direction says.
fn overflow_result(negative: bool, ctx: &Ctx) -> Num {
    let infinite = match ctx.rounding {
        Rounding::HalfUp | Rounding::HalfEven | Rounding::HalfDown | Rounding::Up => true,
        Rounding::Ceiling => !negative,
        Rounding::Floor => negative,
        Rounding::Down | Rounding::Up05 => false,
    };
    if infinite {
        Num::Infinity { negative }
    } else {
        Num::Finite(Finite {
            negative,
            coef: pow10(ctx.prec as u64) - 1u32,
            exp: ctx.etop(),
        })
    }
}

/// Rounds an exact result to the context: precision, overflow, subnormal
/// results and underflow, and the clamp, raising what the specification
/// says in the order `_pydecimal` raises it.
pub fn fix(value: Finite, ctx: &Ctx) -> Outcome {
    let (etiny, etop) = (ctx.etiny(), ctx.etop());
    let mut signals = Vec::new();
    if value.is_zero() {
        let exp_max = if ctx.clamp { etop } else { ctx.emax };
        let exp = value.exp.max(etiny).min(exp_max);
        if exp != value.exp {
            signals.push(Signal::Clamped);
        }
        return (Num::Finite(Finite::zero(value.negative, exp)), signals);
    }
    let len = digits(&value.coef) as i64;
    let mut exp_min = len + value.exp - ctx.prec;
    if exp_min > etop {
        signals.extend([Signal::Overflow, Signal::Inexact, Signal::Rounded]);
        return (overflow_result(value.negative, ctx), signals);
    }
    let subnormal = exp_min < etiny;
    if subnormal {
        exp_min = etiny;
    }
    if value.exp < exp_min {
        let drop = (exp_min - value.exp) as u64;
        let (mut coef, changed) = round_drop(&value.coef, drop, ctx.rounding, value.negative);
        if changed > 0 && digits(&coef) as i64 > ctx.prec {
            coef /= 10u32;
            exp_min += 1;
        }
        let result = if exp_min > etop {
            signals.push(Signal::Overflow);
            overflow_result(value.negative, ctx)
        } else {
            Num::Finite(Finite {
                negative: value.negative,
                coef,
                exp: exp_min,
            })
        };
        if changed != 0 && subnormal {
            signals.push(Signal::Underflow);
        }
        if subnormal {
            signals.push(Signal::Subnormal);
        }
        if changed != 0 {
            signals.push(Signal::Inexact);
        }
        signals.push(Signal::Rounded);
        if matches!(&result, Num::Finite(f) if f.is_zero()) {
            signals.push(Signal::Clamped);
        }
        return (result, signals);
    }
    if subnormal {
        signals.push(Signal::Subnormal);
    }
    if ctx.clamp && value.exp > etop {
        signals.push(Signal::Clamped);
        let coef = value.coef * pow10((value.exp - etop) as u64);
        return (
            Num::Finite(Finite {
                negative: value.negative,
                coef,
                exp: etop,
            }),
            signals,
        );
    }
    (Num::Finite(value), signals)
}

/// `a + b` (subtraction is addition of the negated operand).
pub fn add(a: &Finite, b: &Finite, ctx: &Ctx) -> Outcome {
    let exp = a.exp.min(b.exp);
    let negative_zero = ctx.rounding == Rounding::Floor && a.negative != b.negative;
    if a.is_zero() && b.is_zero() {
        let negative = (a.negative && b.negative) || negative_zero;
        return fix(Finite::zero(negative, exp), ctx);
    }
    if a.is_zero() || b.is_zero() {
        // The sum is the other operand, on the smaller exponent unless that
        // would pad it far beyond the precision.
        let other = if a.is_zero() { b } else { a };
        let exp = exp.max(other.exp - ctx.prec - 1);
        let coef = &other.coef * &*pow10_shared((other.exp - exp) as u64);
        return fix(
            Finite {
                negative: other.negative,
                coef,
                exp,
            },
            ctx,
        );
    }
    // Align on the smaller exponent; an operand far below the other's last
    // digit that can still matter stands in as a single sticky digit.
    let (high, low) = if a.exp >= b.exp { (a, b) } else { (b, a) };
    let high_len = digits(&high.coef) as i64;
    let sticky_exp = high.exp + (-1i64).min(high_len - ctx.prec - 2);
    let low_len = digits(&low.coef) as i64;
    let (low_coef, low_exp) = if low_len + low.exp - 1 < sticky_exp {
        (BigUint::from(1u32), sticky_exp)
    } else {
        (low.coef.clone(), low.exp)
    };
    let high_coef = &high.coef * &*pow10_shared((high.exp - low_exp) as u64);
    let (coef, negative) = if high.negative == low.negative {
        (high_coef + low_coef, high.negative)
    } else {
        match high_coef.cmp(&low_coef) {
            Ordering::Equal => return fix(Finite::zero(negative_zero, exp), ctx),
            Ordering::Greater => (high_coef - low_coef, high.negative),
            Ordering::Less => (low_coef - high_coef, low.negative),
        }
    };
    fix(
        Finite {
            negative,
            coef,
            exp: low_exp,
        },
        ctx,
    )
}

/// `a * b`.
pub fn mul(a: &Finite, b: &Finite, ctx: &Ctx) -> Outcome {
    fix(
        Finite {
            negative: a.negative != b.negative,
            coef: &a.coef * &b.coef,
            exp: a.exp + b.exp,
        },
        ctx,
    )
}

/// `a / b` for a non-zero `b`: the quotient to one digit more than the
/// precision, the last digit made sticky when the division is inexact, and
/// an exact quotient brought as close to the ideal exponent as it goes.
pub fn div(a: &Finite, b: &Finite, ctx: &Ctx) -> Outcome {
    let negative = a.negative != b.negative;
    if a.is_zero() {
        return fix(Finite::zero(negative, a.exp - b.exp), ctx);
    }
    let shift = digits(&b.coef) as i64 - digits(&a.coef) as i64 + ctx.prec + 1;
    let mut exp = a.exp - b.exp - shift;
    let (mut coef, rest) = if shift >= 0 {
        (&a.coef * &*pow10_shared(shift as u64)).div_rem(&b.coef)
    } else {
        a.coef.div_rem(&(&b.coef * &*pow10_shared((-shift) as u64)))
    };
    if !rest.is_zero() {
        if (&coef % 5u32).is_zero() {
            coef += 1u32;
        }
    } else {
        let ideal = a.exp - b.exp;
        if exp < ideal {
            (coef, exp) = exact_quotient(a, b, coef, exp, ideal);
        }
    }
    fix(
        Finite {
            negative,
            coef,
            exp,
        },
        ctx,
    )
}

/// An exact quotient `coef * 10^exp` of `a / b` brought as close to the
/// ideal exponent as it goes, without stripping its zeros one by one: with
/// `g = gcd(a, b)`, `b / g` is `2^x * 5^y` (it divides a power of ten), and
/// the quotient on exponent `ideal - max(x, y)` is `(a / g) * 10^max(x, y) /
/// (b / g)`, which ends in no zero unless `max(x, y)` is 0.
fn exact_quotient(a: &Finite, b: &Finite, coef: BigUint, exp: i64, ideal: i64) -> (BigUint, i64) {
    let g = a.coef.gcd(&b.coef);
    let divisor = &b.coef / &g;
    let mut rest = divisor.clone();
    let twos = rest.trailing_zeros().unwrap_or(0);
    rest >>= twos;
    let mut fives = 0u64;
    while (&rest % 5u32).is_zero() {
        rest /= 5u32;
        fives += 1;
    }
    let places = twos.max(fives);
    if !rest.is_one() || places as i64 > ideal - exp {
        // Not the exact quotient this expects: strip the plain way.
        let (coef, zeros) = strip_zeros(coef, (ideal - exp) as u64);
        return (coef, exp + zeros as i64);
    }
    (
        (&a.coef / &g) * pow10(places) / divisor,
        ideal - places as i64,
    )
}

/// `value` on exponent `exp`, rounded by `mode` when digits are dropped.
pub fn rescale(value: &Finite, exp: i64, mode: Rounding) -> Finite {
    rescale_inexact(value, exp, mode).0
}

/// [`rescale`], and whether a non-zero part was dropped.
fn rescale_inexact(value: &Finite, exp: i64, mode: Rounding) -> (Finite, bool) {
    if value.is_zero() {
        return (Finite::zero(value.negative, exp), false);
    }
    if value.exp >= exp {
        let coef = &value.coef * &*pow10_shared((value.exp - exp) as u64);
        let padded = Finite {
            negative: value.negative,
            coef,
            exp,
        };
        return (padded, false);
    }
    let (coef, changed) = round_drop(&value.coef, (exp - value.exp) as u64, mode, value.negative);
    let rounded = Finite {
        negative: value.negative,
        coef,
        exp,
    };
    (rounded, changed != 0)
}

/// `value.quantize(exp)`, or `None` when the result is invalid (the caller
/// leaves those to Python, which raises `InvalidOperation` with its message).
pub fn quantize(value: &Finite, exp: i64, mode: Rounding, ctx: &Ctx) -> Option<Outcome> {
    if exp < ctx.etiny() || exp > ctx.emax {
        return None;
    }
    if value.is_zero() {
        return Some(fix(Finite::zero(value.negative, exp), ctx));
    }
    let adjusted = value.adjusted();
    if adjusted > ctx.emax || adjusted - exp + 1 > ctx.prec {
        return None;
    }
    let (result, inexact) = rescale_inexact(value, exp, mode);
    let result_digits = digits(&result.coef) as i64;
    if result.exp + result_digits - 1 > ctx.emax || result_digits > ctx.prec {
        return None;
    }
    let mut signals = Vec::new();
    if !result.is_zero() && result.adjusted() < ctx.emin {
        signals.push(Signal::Subnormal);
    }
    if result.exp > value.exp {
        if inexact {
            signals.push(Signal::Inexact);
        }
        signals.push(Signal::Rounded);
    }
    let (num, more) = fix(result, ctx);
    signals.extend(more);
    Some((num, signals))
}

/// `value.normalize()`: rounded to the context, then trailing zeros
/// stripped as far as the largest exponent allows; a zero is `0E0`.
pub fn normalize(value: &Finite, ctx: &Ctx) -> Outcome {
    let (num, signals) = fix(value.clone(), ctx);
    let Num::Finite(mut finite) = num else {
        return (num, signals);
    };
    if finite.is_zero() {
        return (Num::Finite(Finite::zero(finite.negative, 0)), signals);
    }
    let exp_max = if ctx.clamp { ctx.etop() } else { ctx.emax };
    if finite.exp < exp_max {
        let (coef, zeros) = strip_zeros(finite.coef, (exp_max - finite.exp) as u64);
        finite.coef = coef;
        finite.exp += zeros as i64;
    }
    (Num::Finite(finite), signals)
}

/// `_divide`: the integer quotient (`//`, unrounded, on exponent 0) and the
/// remainder (`%`, before rounding), for a non-zero `b`; `None` when the
/// quotient has more digits than the precision (DivisionImpossible, left to
/// Python to raise).
pub fn divide_integer(a: &Finite, b: &Finite, ctx: &Ctx) -> Option<(Finite, Finite)> {
    let negative = a.negative != b.negative;
    let ideal = a.exp.min(b.exp);
    let expdiff = a.adjusted() - b.adjusted();
    if a.is_zero() || expdiff <= -2 {
        return Some((Finite::zero(negative, 0), rescale(a, ideal, ctx.rounding)));
    }
    if expdiff > ctx.prec {
        return None;
    }
    // The exponents differ by at most the digits of the operands and the
    // precision (|adjusted difference| is bounded above).
    let (x, y) = if a.exp >= b.exp {
        (&a.coef * pow10((a.exp - b.exp) as u64), b.coef.clone())
    } else {
        (a.coef.clone(), &b.coef * pow10((b.exp - a.exp) as u64))
    };
    let (q, r) = x.div_rem(&y);
    if digits(&q) as i64 > ctx.prec {
        return None;
    }
    Some((
        Finite {
            negative,
            coef: q,
            exp: 0,
        },
        Finite {
            negative: a.negative,
            coef: r,
            exp: ideal,
        },
    ))
}

/// Compares by value: zeros are equal whatever their sign and exponent.
pub fn compare(a: &Finite, b: &Finite) -> Ordering {
    match (a.is_zero(), b.is_zero()) {
        (true, true) => return Ordering::Equal,
        (true, false) => {
            return if b.negative {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        (false, true) => {
            return if a.negative {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        (false, false) => {}
    }
    if a.negative != b.negative {
        return if a.negative {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let magnitude = match a.adjusted().cmp(&b.adjusted()) {
        Ordering::Equal => {
            // Same leading position: pad the one with the larger exponent.
            if a.exp >= b.exp {
                (&a.coef * &*pow10_shared((a.exp - b.exp) as u64)).cmp(&b.coef)
            } else {
                a.coef
                    .cmp(&(&b.coef * &*pow10_shared((b.exp - a.exp) as u64)))
            }
        }
        other => other,
    };
    if a.negative {
        magnitude.reverse()
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::text::{parse, to_string};

    fn ctx(prec: i64, rounding: Rounding) -> Ctx {
        Ctx {
            prec,
            rounding,
            emin: -999999,
            emax: 999999,
            clamp: false,
        }
    }

    fn num(text: &str) -> Finite {
        parse(text).unwrap()
    }

    fn show(outcome: &Outcome) -> String {
        match &outcome.0 {
            Num::Finite(f) => to_string(f, false, true),
            Num::Infinity { negative } => if *negative { "-Infinity" } else { "Infinity" }.into(),
        }
    }

    #[test]
    fn arithmetic_rounds_to_the_context() {
        let c = ctx(28, Rounding::HalfEven);
        assert_eq!(
            show(&div(&num("1"), &num("3"), &c)),
            "0.3333333333333333333333333333"
        );
        assert_eq!(show(&div(&num("1.00"), &num("4"), &c)), "0.25");
        assert_eq!(show(&add(&num("1.1"), &num("2.20"), &c)), "3.30");
        assert_eq!(show(&add(&num("1"), &num("-1"), &c)), "0");
        assert_eq!(show(&mul(&num("1.5"), &num("-2"), &c)), "-3.0");
        let c = ctx(3, Rounding::HalfEven);
        let (value, signals) = add(&num("1E+10"), &num("1E-10"), &c);
        assert_eq!(show(&(value, vec![])), "1.00E+10");
        assert_eq!(signals, [Signal::Inexact, Signal::Rounded]);
    }
}
