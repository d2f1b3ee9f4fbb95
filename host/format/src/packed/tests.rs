use super::*;
use crate::encoding::Cursor;
use crate::model::ExceptionStage;

/// The text of one value written by `write`.
fn text_of(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = Vec::new();
    write(&mut bytes);
    let names = ["__main__.Point", "Thing"];
    let text = value_text(&bytes, 0, &|id, out: &mut String| {
        out.push_str(names[id as usize])
    })
    .unwrap();
    // Every value is checked as it is skipped.
    let mut cur = Cursor::new(&bytes, 0);
    read::skip_value(&mut cur, 2, 0).unwrap();
    assert!(cur.is_empty(), "the value is {} bytes", bytes.len());
    text
}

#[test]
fn scalars_read_as_their_repr() {
    assert_eq!(text_of(values::none), "None");
    assert_eq!(text_of(|out| values::boolean(out, true)), "True");
    assert_eq!(text_of(|out| values::boolean(out, false)), "False");
    assert_eq!(text_of(|out| values::int(out, -42)), "-42");
    assert_eq!(
        text_of(|out| values::int(out, i64::MIN)),
        i64::MIN.to_string()
    );
    assert_eq!(text_of(|out| values::float(out, 0.1)), "0.1");
    assert_eq!(text_of(|out| values::float(out, f64::NAN)), "nan");
    assert_eq!(
        text_of(|out| values::object(out, 0, 0x1f40)),
        "<__main__.Point object at 0x1f40>"
    );
    assert_eq!(
        text_of(|out| values::text(out, "Decimal('1.5')")),
        "Decimal('1.5')"
    );
}

#[test]
fn strs_quote_and_escape_as_python_does() {
    let str_text = |s: &str| text_of(|out| values::ascii_str(out, s.as_bytes()));
    assert_eq!(str_text("abc"), "'abc'");
    assert_eq!(str_text(""), "''");
    assert_eq!(str_text("it's"), "\"it's\"");
    assert_eq!(str_text("say \"hi\""), "'say \"hi\"'");
    assert_eq!(str_text("both ' and \""), "'both \\' and \"'");
    assert_eq!(
        str_text("a\\b\tc\nd\re\x01\x7f"),
        "'a\\\\b\\tc\\nd\\re\\x01\\x7f'"
    );
}

#[test]
fn long_values_are_capped_like_saferepr() {
    // A str's repr past 256 characters: its first 253, then "...".
    let long = "x".repeat(1000);
    let text = text_of(|out| values::ascii_str(out, long.as_bytes()));
    assert_eq!(text, format!("'{}...", "x".repeat(252)));
    // Exactly 256 characters of repr are kept whole.
    let fits = "y".repeat(254);
    assert_eq!(
        text_of(|out| values::ascii_str(out, fits.as_bytes())),
        format!("'{fits}'")
    );
    let text = "é".repeat(300);
    assert_eq!(
        text_of(|out| values::text(out, &text)),
        format!("{}...", "é".repeat(253))
    );
}

#[test]
fn containers_read_as_saferepr_shows_them() {
    let list = text_of(|out| {
        values::list(out, 3);
        values::int(out, 1);
        values::ascii_str(out, b"a");
        values::none(out);
    });
    assert_eq!(list, "[1, 'a', None]");
    let one = text_of(|out| {
        values::tuple(out, 1);
        values::float(out, 2.5);
    });
    assert_eq!(one, "(2.5,)");
    let dict = text_of(|out| {
        values::dict(out, 2);
        values::ascii_str(out, b"k");
        values::list(out, 0);
        values::int(out, 7);
        values::object(out, 1, 16);
    });
    assert_eq!(dict, "{'k': [], 7: <Thing object at 0x10>}");
    // 33 items kept: 32 shown, then "...".
    let many = text_of(|out| {
        values::list(out, KEEP_ITEMS);
        for n in 0..KEEP_ITEMS {
            values::int(out, n as i64);
        }
    });
    let shown: Vec<String> = (0..MAX_ITEMS).map(|n| n.to_string()).collect();
    assert_eq!(many, format!("[{}, ...]", shown.join(", ")));
    // Items stop once 256 characters are passed.
    let wide = text_of(|out| {
        values::list(out, 5);
        for _ in 0..5 {
            values::ascii_str(out, "z".repeat(100).as_bytes());
        }
    });
    let item = format!("'{}'", "z".repeat(100));
    let full = format!("[{item}, {item}, {item}, ...]");
    assert_eq!(wide, format!("{}...", &full[..253]));
}

#[test]
fn floats_read_as_python_writes_them() {
    for (value, text) in [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1.0 / 3.0, "0.3333333333333333"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (123456789.125, "123456789.125"),
        (1e-4, "0.0001"),
        (1e-5, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (-2.5e100, "-2.5e+100"),
    ] {
        assert_eq!(float_repr(value), text, "{value:?}");
    }
}

#[test]
fn a_batch_reads_back_event_by_event() {
    let mut batch = Batch::new();
    let f = batch.name("f");
    let file = batch.name("/app/main.py");
    let n = batch.name("n");
    batch.call(f, file, 3);
    batch.pair(n);
    values::int(batch.value(), 5);
    batch.end_pairs();
    batch.end();
    batch.line(4);
    batch.end_pairs();
    batch.end();
    let error = batch.name("ValueError");
    batch.exception(ExceptionStage::Raised, error);
    values::text(batch.value(), "bad n");
    batch.end();
    batch.ret();
    values::none(batch.value());
    batch.end();
    // An event being written stays for the next batch.
    batch.line(9);
    let packed = batch.take().unwrap();
    assert_eq!((packed.count, packed.names_first), (4, 0));

    let mut cur = Cursor::new(&packed.body, 0);
    let body = parse_body(&mut cur).unwrap();
    assert_eq!(body.names, ["f", "/app/main.py", "n", "ValueError"]);
    let mut events = PackedEvents::from_cursor(cur, 4, 4);
    let mut pairs = Vec::new();
    let mut seen = Vec::new();
    while let Some(event) = events.next(&mut pairs) {
        let (_, event) = event.unwrap();
        let texts: Vec<(u32, String)> = pairs
            .drain(..)
            .map(|(name, at)| (name, value_text(&packed.body, at, &|_, _| {}).unwrap()))
            .collect();
        seen.push((event, texts));
    }
    assert_eq!(seen.len(), 4);
    assert_eq!(
        seen[0].0,
        PackedEvent::Call {
            function: 0,
            file: 1,
            line: 3
        }
    );
    assert_eq!(seen[0].1, [(2, "5".to_owned())]);
    assert_eq!(seen[1].0, PackedEvent::Line { line: 4 });
    let PackedEvent::Exception { message, .. } = seen[2].0 else {
        panic!("{:?}", seen[2].0)
    };
    assert_eq!(
        value_text(&packed.body, message, &|_, _| {}).unwrap(),
        "bad n"
    );
    assert!(events.cursor().is_empty());

    // The next batch goes on with the names, defining only new ones.
    values::none(batch.value());
    batch.end_pairs();
    batch.end();
    let x = batch.name("x");
    assert_eq!((x, batch.name("n")), (4, 2));
    let next = batch.take().unwrap();
    assert_eq!((next.count, next.names_first), (1, 4));
}

#[test]
fn tails_and_remapped_names_keep_the_events() {
    let mut batch = Batch::new();
    let a = batch.name("a");
    let b = batch.name("b");
    for line in 0..10 {
        batch.line(line);
        batch.pair(if line % 2 == 0 { a } else { b });
        values::object(batch.value(), b, u64::from(line));
        batch.end_pairs();
        batch.end();
    }
    let packed = batch.take().unwrap();
    let mut cur = Cursor::new(&packed.body, 0);
    parse_body(&mut cur).unwrap();
    let events = cur.rest();
    let tail = skip_events(events, 7, 2).unwrap();
    let mut rest = PackedEvents::new(&events[tail..], 0, 3, 2);
    let mut pairs = Vec::new();
    let first = rest.next(&mut pairs).unwrap().unwrap().1;
    assert_eq!(first, PackedEvent::Line { line: 7 });

    let swapped = remap_names(events, 10, &[1, 0]).unwrap();
    let mut walk = PackedEvents::new(&swapped, 0, 10, 2);
    pairs.clear();
    walk.next(&mut pairs).unwrap().unwrap();
    assert_eq!(pairs[0].0, 1);
    let text = value_text(&swapped, pairs[0].1, &|id, out: &mut String| {
        out.push_str(["a", "b"][id as usize])
    })
    .unwrap();
    assert_eq!(text, "<a object at 0x0>");
}

#[test]
fn damaged_events_are_errors_not_panics() {
    let mut batch = Batch::new();
    let x = batch.name("x");
    batch.line(1);
    batch.pair(x);
    values::list(batch.value(), 2);
    values::float(batch.value(), 1.5);
    values::ascii_str(batch.value(), b"s");
    batch.end_pairs();
    batch.end();
    let body = batch.take().unwrap().body;
    // Every prefix, and every single-byte change, reads as an error or as
    // events, never a panic.
    for len in 0..body.len() {
        let _ = read_all(&body[..len]);
    }
    for at in 0..body.len() {
        for byte in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut damaged = body.clone();
            damaged[at] = byte;
            let _ = read_all(&damaged);
        }
    }
    // Undefined names are caught.
    let err = PackedEvents::new(&[event::LINE, 1, 5, tag::NONE, 0], 0, 1, 2)
        .next(&mut Vec::new())
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("name 4 used before it was defined"),
        "{err}"
    );
    // Nesting deeper than a writer nests is refused.
    let mut deep = vec![event::RETURN];
    deep.extend(std::iter::repeat_n([tag::LIST, 1], 100).flatten());
    deep.push(tag::NONE);
    assert!(
        PackedEvents::new(&deep, 0, 1, 0)
            .next(&mut Vec::new())
            .unwrap()
            .is_err()
    );
}

fn read_all(body: &[u8]) -> Result<(), crate::FormatError> {
    let mut cur = Cursor::new(body, 0);
    let head = parse_body(&mut cur)?;
    let names = head.names_first + head.names.len() as u32;
    let mut events = PackedEvents::from_cursor(cur, 1, names);
    let mut pairs = Vec::new();
    while let Some(event) = events.next(&mut pairs) {
        event?;
        for (_, at) in pairs.drain(..) {
            value_text(body, at, &|_, _| {})?;
        }
    }
    Ok(())
}
