//! Ctrl-C (or SIGTERM, SIGHUP) while `rewind replay` works: a
//! materialization under way stops at once and its temporary file is
//! removed, and `rewind` exits with 128 + the signal's number (130 for
//! Ctrl-C), as a shell expects of an interrupted command.

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
