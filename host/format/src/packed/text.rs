//! A packed value's text: the safe string form the tracer would have made
//! of the value (`revdebug._saferepr`), from what the value kept.

use std::fmt::Write as _;

use super::{MAX_ITEMS, MAX_LEN, READ_DEPTH, tag};
use crate::FormatError;
use crate::encoding::Cursor;

/// The text of the value at `offset` in `bytes`, capped at [`MAX_LEN`]
/// characters; `name` appends the text of a name id (a class's, for an
/// object) to the string it is given.
pub fn value_text(
    bytes: &[u8],
    offset: u64,
    name: &dyn Fn(u32, &mut String),
) -> Result<String, FormatError> {
    let mut cur = value_at(bytes, offset)?;
    let mut out = String::new();
    match part(&mut cur, name, &mut out, 0) {
        Ok(()) | Err(Stop::Enough) => Ok(cap(out)),
        Err(Stop::Bad(err)) => Err(err),
    }
}

/// A cursor on the value at `offset` in `bytes`.
fn value_at(bytes: &[u8], offset: u64) -> Result<Cursor<'_>, FormatError> {
    let start = usize::try_from(offset)
        .ok()
        .filter(|at| *at <= bytes.len())
        .ok_or_else(|| FormatError::Corrupt {
            offset,
            what: "value offset past the events".into(),
        })?;
    Ok(Cursor::new(&bytes[start..], offset))
}

/// An item of a container: where its key is (a dict's), and its value.
pub type Item = (Option<u64>, u64);

/// The items a container value kept, by where each is in `bytes`: a
/// list's or a tuple's items (no key), a dict's keys and values; `None`
/// for a value that is not a container. A container keeps its first
/// [`KEEP_ITEMS`](super::KEEP_ITEMS) items.
pub fn value_items(bytes: &[u8], offset: u64) -> Result<Option<Vec<Item>>, FormatError> {
    let mut cur = value_at(bytes, offset)?;
    let kind = cur.u8()?;
    if !matches!(kind, tag::LIST | tag::TUPLE | tag::DICT) {
        return Ok(None);
    }
    let count = cur.count()?;
    let mut items = Vec::new();
    for _ in 0..count {
        let key = match kind {
            tag::DICT => {
                let at = cur.offset();
                super::read::skip_value(&mut cur, u32::MAX, 1)?;
                Some(at)
            }
            _ => None,
        };
        let at = cur.offset();
        super::read::skip_value(&mut cur, u32::MAX, 1)?;
        items.push((key, at));
    }
    Ok(Some(items))
}

/// Text past this many bytes is cut anyway: [`part`] stops there.
const ENOUGH: usize = 4 * (MAX_LEN + 1);

/// Why [`part`] stopped early.
enum Stop {
    /// The text is long enough to be cut at the cap whatever follows.
    Enough,
    Bad(FormatError),
}

impl From<FormatError> for Stop {
    fn from(err: FormatError) -> Stop {
        Stop::Bad(err)
    }
}

/// Appends `value`'s decimal digits.
fn push_int(out: &mut String, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Whether two packed values have the same text. Values differ in text
/// when their bytes do, unless a text is cut (too long, too many items) or
/// one of them is a text (a repr the tracer could not pack): only then are
/// the texts made and compared.
pub fn same_text(a: &[u8], b: &[u8], name: &dyn Fn(u32, &mut String)) -> bool {
    if let Some(same) = same_without_text(a, b, name) {
        return same;
    }
    match (value_text(a, 0, name), value_text(b, 0, name)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// [`same_text`] when it can be told from the bytes alone; `None` when the
/// texts must be made and compared.
pub fn same_without_text(a: &[u8], b: &[u8], name: &dyn Fn(u32, &mut String)) -> Option<bool> {
    if a == b {
        return Some(true);
    }
    (shown_whole(a, name) && shown_whole(b, name)).then_some(false)
}

/// Whether a value's text is shown whole (not capped, every item shown)
/// and made by the value's own kind (not a text a tracer could not pack):
/// then two such values differ in text when they differ in bytes.
pub fn shown_whole(value: &[u8], name: &dyn Fn(u32, &mut String)) -> bool {
    if value.first() == Some(&tag::TEXT) {
        return false;
    }
    let mut cur = Cursor::new(value, 0);
    let mut length = 0;
    longest(&mut cur, name, &mut length, 0).is_ok_and(|()| length <= MAX_LEN)
}

/// Adds to `length` the most characters a value's text can have; an error
/// when that passes [`MAX_LEN`], or a container shows fewer than all its
/// items.
fn longest(
    cur: &mut Cursor<'_>,
    name: &dyn Fn(u32, &mut String),
    length: &mut usize,
    depth: usize,
) -> Result<(), FormatError> {
    let too_long = |cur: &Cursor<'_>| cur.error("longer than shown");
    if depth > READ_DEPTH {
        return Err(cur.error("values nested too deep"));
    }
    *length += match cur.u8()? {
        tag::TEXT => cur.bytes()?.len(),
        tag::NONE | tag::TRUE => 4,
        tag::FALSE => 5,
        tag::INT => {
            cur.i64()?;
            20
        }
        tag::FLOAT => {
            cur.take(8)?;
            // -1.2345678901234567e-308
            24
        }
        tag::STR | tag::STR_DOUBLE => {
            let text = cur.bytes()?;
            if text.len() >= super::KEEP_STR {
                return Err(too_long(cur));
            }
            2 + 4 * text.len()
        }
        kind @ (tag::LIST | tag::TUPLE | tag::DICT) => {
            let count = cur.count()?;
            if count > MAX_ITEMS {
                return Err(too_long(cur));
            }
            let per_item = if kind == tag::DICT { 2 } else { 1 };
            for _ in 0..count * per_item {
                longest(cur, name, length, depth + 1)?;
            }
            // Brackets, ", " and ": " between items, a 1-tuple's comma.
            2 + 2 * count + 2 * count * (per_item - 1) + 1
        }
        tag::OBJECT => {
            let mut text = String::new();
            name(cur.u32()?, &mut text);
            cur.u64()?;
            text.len() + " object at 0x<>".len() + 16
        }
        other => return Err(cur.error(format!("unknown value tag {other}"))),
    };
    if *length > MAX_LEN {
        return Err(too_long(cur));
    }
    Ok(())
}

/// `revdebug._cap`: at most [`MAX_LEN`] characters.
fn cap(text: String) -> String {
    if text.len() <= MAX_LEN {
        return text;
    }
    match text.char_indices().nth(MAX_LEN) {
        None => text,
        Some(_) => {
            let end = text
                .char_indices()
                .nth(MAX_LEN - 3)
                .map_or(text.len(), |(at, _)| at);
            let mut capped = text[..end].to_owned();
            capped.push_str("...");
            capped
        }
    }
}

/// Appends a value's uncapped text to `out`, as `revdebug._repr` makes
/// it, or as much of it as the cap shows: past [`ENOUGH`] bytes it stops.
fn part(
    cur: &mut Cursor<'_>,
    name: &dyn Fn(u32, &mut String),
    out: &mut String,
    depth: usize,
) -> Result<(), Stop> {
    if depth > READ_DEPTH {
        return Err(cur.error("values nested too deep").into());
    }
    if out.len() > ENOUGH {
        return Err(Stop::Enough);
    }
    match cur.u8()? {
        tag::TEXT => {
            let at = cur.offset();
            let text = std::str::from_utf8(cur.bytes()?).map_err(|_| FormatError::Corrupt {
                offset: at,
                what: "text is not UTF-8".into(),
            })?;
            out.push_str(text);
        }
        tag::NONE => out.push_str("None"),
        tag::TRUE => out.push_str("True"),
        tag::FALSE => out.push_str("False"),
        tag::INT => push_int(out, cur.i64()?),
        tag::FLOAT => {
            let bits = cur.take(8)?;
            let bits = u64::from_le_bytes(bits.try_into().unwrap_or([0; 8]));
            out.push_str(&float_repr(f64::from_bits(bits)));
        }
        quote @ (tag::STR | tag::STR_DOUBLE) => {
            let quote = if quote == tag::STR { '\'' } else { '"' };
            out.push(quote);
            let text = cur.bytes()?;
            let plain =
                |b: &u8| (0x20..=0x7e).contains(b) && *b != b'\\' && char::from(*b) != quote;
            let mut rest = text;
            while !rest.is_empty() {
                // Runs of plain characters at once.
                let run = rest.iter().position(|b| !plain(b)).unwrap_or(rest.len());
                out.push_str(std::str::from_utf8(&rest[..run]).unwrap_or_default());
                let Some(&byte) = rest.get(run) else {
                    break;
                };
                match byte {
                    b'\\' => out.push_str("\\\\"),
                    b'\t' => out.push_str("\\t"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b if char::from(b) == quote => {
                        out.push('\\');
                        out.push(quote);
                    }
                    _ => {
                        let _ = write!(out, "\\x{byte:02x}");
                    }
                }
                rest = &rest[run + 1..];
            }
            out.push(quote);
        }
        kind @ (tag::LIST | tag::TUPLE | tag::DICT) => {
            let count = cur.count()?;
            let (open, close) = match kind {
                tag::LIST => ('[', ']'),
                tag::TUPLE => ('(', ')'),
                _ => ('{', '}'),
            };
            let per_item = if kind == tag::DICT { 2 } else { 1 };
            out.push(open);
            let mut size = 0;
            for item in 0..count {
                if item > 0 {
                    out.push_str(", ");
                }
                if item >= MAX_ITEMS || size > MAX_LEN {
                    out.push_str("...");
                    for _ in 0..(count - item) * per_item {
                        super::read::skip_value(cur, u32::MAX, depth + 1)?;
                    }
                    break;
                }
                let start = out.len();
                part(cur, name, out, depth + 1)?;
                if kind == tag::DICT {
                    out.push_str(": ");
                    part(cur, name, out, depth + 1)?;
                }
                let item = &out[start..];
                size += match item.is_ascii() {
                    true => item.len(),
                    false => item.chars().count(),
                } + 2;
            }
            if kind == tag::TUPLE && count == 1 {
                out.push(',');
            }
            out.push(close);
        }
        tag::OBJECT => {
            let class = cur.u32()?;
            let address = cur.u64()?;
            out.push('<');
            name(class, out);
            let _ = write!(out, " object at {address:#x}>");
        }
        other => return Err(cur.error(format!("unknown value tag {other}")).into()),
    }
    Ok(())
}

/// A float's `repr` as the Python guest (RustPython 0.6) writes it: the
/// shortest digits that read back as the same float, in positional
/// notation from 1e-4 up to 1e16 and in scientific notation outside,
/// preferring, of two equally short and equally close candidates, the one
/// whose last digit is even (as CPython's correctly rounded repr does).
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    let scientific = format!("{value:e}");
    let Some(e) = scientific.find('e') else {
        return scientific;
    };
    let exponent: i32 = scientific[e + 1..].parse().unwrap_or(0);
    if exponent > -5 && exponent < 16 {
        if value.fract() == 0.0 {
            format!("{value:.1}")
        } else {
            prefer_even_tie(value.to_string(), value)
        }
    } else {
        let significand = &scientific[..e];
        let sign = if exponent < 0 { '-' } else { '+' };
        prefer_even_tie(
            format!("{significand}e{sign}{:02}", exponent.unsigned_abs()),
            value,
        )
    }
}

/// Rust's shortest digits can end in an odd digit where the even one below
/// it reads back the same and is no further from the value: then that one.
fn prefer_even_tie(text: String, value: f64) -> String {
    let end = text.find('e').unwrap_or(text.len());
    let Some(at) = text[..end].bytes().rposition(|b| b.is_ascii_digit()) else {
        return text;
    };
    let digit = text.as_bytes()[at];
    if (digit - b'0').is_multiple_of(2) {
        return text;
    }
    let mut candidate = text.clone();
    candidate.replace_range(at..=at, &char::from(digit - 1).to_string());
    if candidate.parse::<f64>().map(f64::to_bits) != Ok(value.to_bits()) {
        return text;
    }
    match (distance(&text, value), distance(&candidate, value)) {
        (Some(current), Some(even)) if even <= current => candidate,
        _ => text,
    }
}

/// |decimal - value| in units of 2^-k 10^-s common to both, when it fits
/// 128 bits (only for values with a fractional binary part).
fn distance(decimal: &str, value: f64) -> Option<u128> {
    let (digits, scale) = decimal_parts(decimal)?;
    let bits = value.abs().to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = match biased {
        0 => (u128::from(fraction), -1074),
        0x7ff => return None,
        _ => (u128::from(fraction | (1 << 52)), biased - 1075),
    };
    if exponent >= 0 || scale > 38 {
        return None;
    }
    let twos = exponent.unsigned_abs();
    let common = scale.max(twos);
    let decimal = digits.checked_mul(2u128.checked_pow(common - scale)?)?;
    let binary = mantissa
        .checked_mul(2u128.checked_pow(common - twos)?)?
        .checked_mul(5u128.checked_pow(scale)?)?;
    Some(decimal.abs_diff(binary))
}

/// A decimal's digits as an integer and its scale (how many digits are
/// after the point, exponent applied): `"-1.25e-1"` is (125, 3).
fn decimal_parts(decimal: &str) -> Option<(u128, u32)> {
    let (mantissa, exponent) = match decimal.find('e') {
        Some(e) => (&decimal[..e], decimal[e + 1..].parse::<i32>().ok()?),
        None => (decimal, 0),
    };
    let mantissa = mantissa.strip_prefix('-').unwrap_or(mantissa);
    let after_point = mantissa.find('.').map_or(0, |dot| mantissa.len() - dot - 1);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut int = digits.parse::<u128>().ok()?;
    let mut scale = i32::try_from(after_point).ok()? - exponent;
    if scale < 0 {
        int = int.checked_mul(10u128.checked_pow(scale.unsigned_abs())?)?;
        scale = 0;
    }
    Some((int, scale as u32))
}
