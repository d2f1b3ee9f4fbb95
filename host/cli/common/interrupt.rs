//! Ctrl-C (or SIGTERM, SIGHUP) while `rewind replay` works: a
//! materialization under way stops at once and its temporary file is
//! removed, and `rewind` exits with 128 + the signal's number (130 for
//! Ctrl-C), as a shell expects of an interrupted command.
//!
//! While `rewind run` runs a guest, Ctrl-C goes to the guest instead
//! ([`rewind_runtime::Interrupts`]): the Python guest raises
//! `KeyboardInterrupt`; pressed again soon, the run stops at once, and what
//! was recorded is written.

/// Installs the handler, for the rest of the process.
#[cfg(unix)]
pub fn remove_temporaries_on_signal() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let removed = rewind_runtime::remove_temporary_files();
            // The end of a progress line, if one is showing.
            eprint!("\r\x1b[K");
            match removed {
                0 => eprintln!("rewind: interrupted"),
                _ => eprintln!("rewind: interrupted; the partial materialization was removed"),
            }
            std::process::exit(128 + signal);
        }
    });
}

#[cfg(not(unix))]
pub fn remove_temporaries_on_signal() {}

/// Hands Ctrl-C to the guest of a run: `interrupts` gets each one
/// (`stop_at_once` for a guest that cannot take them, a component); once
/// `over` is set, the run is done and Ctrl-C ends `rewind` as usual.
#[cfg(unix)]
pub fn interrupt_guest(
    interrupts: rewind_runtime::Interrupts,
    stop_at_once: bool,
    over: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use signal_hook::consts::SIGINT;
    use signal_hook::iterator::Signals;

    let Ok(mut signals) = Signals::new([SIGINT]) else {
        return;
    };
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if over.load(std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(128 + signal);
            }
            if stop_at_once {
                interrupts.interrupt();
            }
            interrupts.interrupt();
        }
    });
}

#[cfg(not(unix))]
pub fn interrupt_guest(
    _interrupts: rewind_runtime::Interrupts,
    _stop_at_once: bool,
    _over: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
}
