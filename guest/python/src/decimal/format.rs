//! `format(decimal, spec)` for finite numbers: the format-specification
//! mini-language as `decimal` reads it
//! (`[[fill]align][sign][z][#][0][width][,|_][.precision][type]`, types
//! `eEfFgG%` or none). A spec with the locale-aware `n` type, or one that
//! does not parse, is left to `_pydecimal`, which gives the error message.

use super::number::{self, Finite, Rounding};
use super::text;

struct Spec {
    fill: char,
    align: char,
    sign: char,
    no_neg_zero: bool,
    alternate: bool,
    zero_pad: bool,
    width: usize,
    separator: &'static str,
    precision: Option<u64>,
    kind: char,
}

fn parse(spec: &str, capitals: bool) -> Option<Spec> {
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let is_align = |c: char| matches!(c, '<' | '>' | '=' | '^');
    let (mut fill, mut align) = (None, None);
    if chars.len() >= 2 && is_align(chars[1]) {
        fill = Some(chars[0]);
        align = Some(chars[1]);
        i = 2;
    } else if chars.first().copied().is_some_and(is_align) {
        align = Some(chars[0]);
        i = 1;
    }
    let mut take = |want: &[char]| -> Option<char> {
        let c = *chars.get(i)?;
        if want.contains(&c) {
            i += 1;
            Some(c)
        } else {
            None
        }
    };
    let sign = take(&['-', '+', ' ']).unwrap_or('-');
    let no_neg_zero = take(&['z']).is_some();
    let alternate = take(&['#']).is_some();
    let zero_pad = take(&['0']).is_some();
    let start = i;
    while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
    }
    let width: usize = if i > start {
        chars[start..i].iter().collect::<String>().parse().ok()?
    } else {
        0
    };
    let separator = match chars.get(i) {
        Some(',') => {
            i += 1;
            ","
        }
        Some('_') => {
            i += 1;
            "_"
        }
        _ => "",
    };
    let mut precision = None;
    if chars.get(i) == Some(&'.') {
        i += 1;
        let start = i;
        while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        if i == start {
            return None;
        }
        precision = Some(chars[start..i].iter().collect::<String>().parse().ok()?);
    }
    let kind = match chars.get(i) {
        Some(&c @ ('e' | 'E' | 'f' | 'F' | 'g' | 'G' | '%')) => {
            i += 1;
            Some(c)
        }
        _ => None,
    };
    if i != chars.len() || (zero_pad && (fill.is_some() || align.is_some())) {
        return None;
    }
    if precision == Some(0) && matches!(kind, None | Some('g' | 'G')) {
        precision = Some(1);
    }
    Some(Spec {
        fill: fill.unwrap_or(' '),
        align: align.unwrap_or('>'),
        sign,
        no_neg_zero,
        alternate,
        zero_pad,
        width,
        separator,
        precision,
        kind: kind.unwrap_or(if capitals { 'G' } else { 'g' }),
    })
}

/// `value` to `places` significant digits.
fn round_to(value: &Finite, places: i64, mode: Rounding) -> Finite {
    if value.is_zero() {
        return value.clone();
    }
    let rounded = number::rescale(value, value.adjusted() + 1 - places, mode);
    if rounded.adjusted() != value.adjusted() {
        return number::rescale(&rounded, rounded.adjusted() + 1 - places, mode);
    }
    rounded
}

/// Groups `digits` by three with `separator`, zero-padded to `min_width`
/// characters (separators included) when the spec pads with zeros.
fn group(mut digits: &str, separator: &str, mut min_width: i64) -> String {
    if separator.is_empty() && min_width <= digits.len() as i64 {
        // The common spec: nothing to group or pad.
        return digits.to_owned();
    }
    let mut groups = Vec::new();
    loop {
        let len = (digits.len() as i64).max(min_width).clamp(1, 3) as usize;
        let take = len.min(digits.len());
        let (rest, tail) = digits.split_at(digits.len() - take);
        groups.push(format!("{}{tail}", "0".repeat(len - take)));
        digits = rest;
        min_width -= len as i64;
        if digits.is_empty() && min_width <= 0 {
            break;
        }
        min_width -= separator.len() as i64;
    }
    groups.reverse();
    groups.join(separator)
}

/// `format(value, spec)`, or `None` when `_pydecimal` should do it.
pub fn format(value: &Finite, spec: &str, capitals: bool, rounding: Rounding) -> Option<String> {
    if spec.is_empty() {
        // `f"{d}"`: the `g` type without a precision, which is `str(d)`.
        return Some(text::to_string(value, false, capitals));
    }
    let spec = parse(spec, capitals)?;
    let mut value = value.clone();
    if spec.kind == '%' {
        value.exp += 2;
    }
    if let Some(precision) = spec.precision {
        let precision = i64::try_from(precision).ok()?;
        match spec.kind {
            'e' | 'E' => value = round_to(&value, precision + 1, rounding),
            'f' | 'F' | '%' => value = number::rescale(&value, -precision, rounding),
            _ if number::digits(&value.coef) as i64 > precision => {
                value = round_to(&value, precision, rounding)
            }
            _ => {}
        }
    }
    if value.is_zero() && value.exp > 0 && matches!(spec.kind, 'f' | 'F' | '%') {
        value = number::rescale(&value, 0, rounding);
    }
    let negative = value.negative && !(value.is_zero() && spec.no_neg_zero);
    let digits = value.coef.to_string();
    let len = digits.len() as i64;
    let leftdigits = value.exp + len;
    let dotplace = match spec.kind {
        'e' | 'E' => match spec.precision {
            Some(precision) if value.is_zero() => 1 - precision as i64,
            _ => 1,
        },
        'f' | 'F' | '%' => leftdigits,
        _ if value.exp <= 0 && leftdigits > -6 => leftdigits,
        _ => 1,
    };
    let (intpart, fracpart) = if dotplace < 0 {
        (
            "0".to_owned(),
            format!("{}{digits}", "0".repeat((-dotplace) as usize)),
        )
    } else if dotplace > len {
        (
            format!("{digits}{}", "0".repeat((dotplace - len) as usize)),
            String::new(),
        )
    } else {
        let (int, frac) = digits.split_at(dotplace as usize);
        (
            if int.is_empty() { "0" } else { int }.to_owned(),
            frac.to_owned(),
        )
    };
    let exp = leftdigits - dotplace;
    let sign = if negative {
        "-"
    } else {
        match spec.sign {
            '+' => "+",
            ' ' => " ",
            _ => "",
        }
    };
    let mut tail = String::new();
    if !fracpart.is_empty() || spec.alternate {
        tail.push('.');
        tail.push_str(&fracpart);
    }
    if exp != 0 || matches!(spec.kind, 'e' | 'E') {
        let e = if matches!(spec.kind, 'E' | 'G') {
            'E'
        } else {
            'e'
        };
        tail.push_str(&format!("{e}{exp:+}"));
    }
    if spec.kind == '%' {
        tail.push('%');
    }
    let min_width = if spec.zero_pad {
        spec.width as i64 - tail.chars().count() as i64 - sign.len() as i64
    } else {
        0
    };
    let body = group(&intpart, spec.separator, min_width) + &tail;
    let used = sign.len() + body.chars().count();
    let padding: String = std::iter::repeat_n(spec.fill, spec.width.saturating_sub(used)).collect();
    Some(match spec.align {
        '<' => format!("{sign}{body}{padding}"),
        '=' => format!("{sign}{padding}{body}"),
        '^' => {
            let half: String = padding.chars().take(padding.chars().count() / 2).collect();
            let rest: String = padding.chars().skip(half.chars().count()).collect();
            format!("{half}{sign}{body}{rest}")
        }
        _ => format!("{padding}{sign}{body}"),
    })
}
