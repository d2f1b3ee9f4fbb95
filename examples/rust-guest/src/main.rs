//! A Rust component that Rewind records through its guest SDK.
//!
//! `cargo build --release` at the root builds it (through `host/guests`)
//! into `target/rewind-guests/wasm32-wasip2/release/`; run it with
//! `rewind run target/rewind-guests/wasm32-wasip2/release/rewind-example-guest.wasm
//! [--panic]`, or through the example host (`examples/rust-host`). It computes Fibonacci numbers, emitting a call event
//! for each call and a line event with the running total, takes a
//! snapshot, and with `--panic` indexes past the end of a vector: the
//! panic becomes a crash event.

fn fib(n: u64) -> u64 {
    let call = rewind::call("fib", file!(), line!(), &[("n", &n)]);
    let result = if n < 2 { n } else { fib(n - 1) + fib(n - 2) };
    call.returns(result)
}

fn main() {
    rewind::install_panic_hook();
    let main = rewind::call("main", file!(), line!(), &[]);
    let mut total = 0;
    for n in 0..5 {
        total += fib(n);
        rewind::line(line!(), &[("n", &n), ("total", &total)]);
    }
    println!("total = {total}");
    let name = rewind::snapshot(Some("after-fib"));
    println!("snapshot {name}");
    if std::env::args().any(|arg| arg == "--panic") {
        let empty: Vec<u64> = Vec::new();
        let index = total as usize;
        rewind::line(line!(), &[("index", &index)]);
        println!("{}", empty[index]);
    }
    drop(main);
}
