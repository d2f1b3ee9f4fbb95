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

use malachite_bigint::BigUint;
use num_integer::Integer as _;
use num_traits::{ToPrimitive as _, Zero as _};

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
    /// them, most of them small.
    static POW10: RefCell<Vec<BigUint>> = RefCell::new(vec![BigUint::from(1u32)]);
}

/// The cached powers of ten go up to this one; larger ones are computed.
const POW10_CACHED: u64 = 4096;

/// `10^n`.
pub fn pow10(n: u64) -> BigUint {
    if n >= POW10_CACHED {
        return BigUint::from(10u32).pow(n as u32);
    }
    POW10.with(|cache| {
        let mut cache = cache.borrow_mut();
        while cache.len() as u64 <= n {
            let next = cache.last().unwrap() * 10u32;
            cache.push(next);
        }
        cache[n as usize].clone()
    })
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
    if *n < pow10(estimate - 1) {
        estimate - 1
    } else {
        estimate
    }
}

impl Finite {
    pub fn zero(negative: bool, exp: i64) -> Finite {
        Finite {
            negative,
            coef: BigUint::zero(),
            exp,
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
        let unit = pow10(drop);
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
        let coef = &other.coef * pow10((other.exp - exp) as u64);
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
    let high_coef = &high.coef * pow10((high.exp - low_exp) as u64);
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
        (&a.coef * pow10(shift as u64)).div_rem(&b.coef)
    } else {
        a.coef.div_rem(&(&b.coef * pow10((-shift) as u64)))
    };
    if !rest.is_zero() {
        if (&coef % 5u32).is_zero() {
            coef += 1u32;
        }
    } else {
        let ideal = a.exp - b.exp;
        while exp < ideal {
            let (q, r) = coef.div_rem(&BigUint::from(10u32));
            if !r.is_zero() {
                break;
            }
            coef = q;
            exp += 1;
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

/// `value` on exponent `exp`, rounded by `mode` when digits are dropped.
pub fn rescale(value: &Finite, exp: i64, mode: Rounding) -> Finite {
    if value.is_zero() {
        return Finite::zero(value.negative, exp);
    }
    if value.exp >= exp {
        return Finite {
            negative: value.negative,
            coef: &value.coef * pow10((value.exp - exp) as u64),
            exp,
        };
    }
    let (coef, _) = round_drop(&value.coef, (exp - value.exp) as u64, mode, value.negative);
    Finite {
        negative: value.negative,
        coef,
        exp,
    }
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
    let result = rescale(value, exp, mode);
    let result_digits = digits(&result.coef) as i64;
    if result.exp + result_digits - 1 > ctx.emax || result_digits > ctx.prec {
        return None;
    }
    let mut signals = Vec::new();
    if !result.is_zero() && result.adjusted() < ctx.emin {
        signals.push(Signal::Subnormal);
    }
    if result.exp > value.exp {
        if compare(&result, value) != Ordering::Equal {
            signals.push(Signal::Inexact);
        }
        signals.push(Signal::Rounded);
    }
    let (num, more) = fix(result, ctx);
    signals.extend(more);
    Some((num, signals))
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
                (&a.coef * pow10((a.exp - b.exp) as u64)).cmp(&b.coef)
            } else {
                a.coef.cmp(&(&b.coef * pow10((b.exp - a.exp) as u64)))
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

/// The modulus of Python's numeric hash (`sys.hash_info.modulus`), 2^61 - 1.
const HASH_MODULUS: u64 = (1 << 61) - 1;

fn mul_mod(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) % HASH_MODULUS as u128) as u64
}

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
        // 10's inverse modulo the (prime) modulus, by Fermat.
        let inverse = pow_mod(10, HASH_MODULUS - 2);
        pow_mod(inverse, value.exp.unsigned_abs())
    };
    let hash = mul_mod(coef, scale) as i64;
    let hash = if value.negative { -hash } else { hash };
    if hash == -1 { -2 } else { hash }
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

    #[test]
    fn hashes_match_python() {
        // hash(1.5), hash(Fraction(1, 10)) and hash(-1) in CPython.
        assert_eq!(hash(&num("1.5")), 1152921504606846977);
        assert_eq!(hash(&num("0.1")), 2075258708292324556);
        assert_eq!(hash(&num("-1")), -2);
    }
}
