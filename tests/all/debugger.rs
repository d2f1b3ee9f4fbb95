//! The time-travel debugger, `rewind replay FILE`: scripted sessions on
//! recordings made by `rewind run`, damaged recordings, and the terminal UI
//! driven through tmux as a person would.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Tmux;
use crate::recording::record;
use crate::{Run, Scripts, rewind, run_with_stdin};

/// Loops, recursion, an exception caught and raised again as another,
/// two snapshots, and a crash at the end. Line numbers matter below.
const APP: &str = r#"import revdebug

def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)

def parse(text):
    try:
        return int(text)
    except ValueError:
        raise RuntimeError("bad number: " + text)

def total_of(items):
    total = 0
    for item in items:
        try:
            total += parse(item)
        except RuntimeError:
            total -= 1
    return total

f = fact(4)
revdebug.snapshot("after-fact")
t = total_of(["1", "x", "5"])
revdebug.snapshot("after-total")
print(f, t)
parse("oops")
"#;

/// Runs `rewind replay FILE --commands -` with `commands` on stdin.
fn debug(file: &Path, commands: &str) -> Run {
    let mut command = rewind();
    command.arg("replay").arg(file).args(["--commands", "-"]);
    run_with_stdin(&mut command, commands.as_bytes())
}

/// The first line printed: the file, its events and where they came from.
fn banner(run: &Run) -> &str {
    run.stdout.lines().next().unwrap_or_default()
}

/// The answer to each command, by the command's line.
fn answers_of(run: &Run) -> Vec<(String, String)> {
    assert_eq!(run.code, Some(0), "{run:?}");
    let mut answers: Vec<(String, String)> = Vec::new();
    for line in run.stdout.lines() {
        match line.strip_prefix("(rewind) ") {
            Some(command) => answers.push((command.to_owned(), String::new())),
            None => {
                if let Some((_, answer)) = answers.last_mut() {
                    if !answer.is_empty() {
                        answer.push('\n');
                    }
                    answer.push_str(line);
                }
            }
        }
    }
    answers
}

fn crash_recording(scripts: &Scripts, flags: &[&str]) -> PathBuf {
    scripts.write("app.py", APP);
    let mut args = flags.to_vec();
    args.push("app.py");
    let (run, recordings) = record(scripts, &args, "");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "24 5\n");
    recordings
        .into_iter()
        .find(|path| path.to_string_lossy().ends_with("-crash.rwd"))
        .expect("a crash recording")
}

const SESSION: &str = "\
where
backtrace
locals
break app.py:18
reverse-continue
print item
print total
print f
history total
finish
break app.py:5
continue
backtrace
print n
finish
finish
reverse-finish
goto 0
step
next
next
reverse-next
reverse-step
";

fn check_session(answers: &[(String, String)]) {
    let answer = |n: usize, command: &str| -> &str {
        assert_eq!(answers[n].0, command);
        &answers[n].1
    };
    // It opens where the exception was raised, with the crash's message.
    let at = answer(0, "where");
    assert!(
        at.starts_with("#69 app.py:12 in parse: raised RuntimeError: bad number: oops"),
        "{at}"
    );
    assert!(
        at.contains("    12 |         raise RuntimeError(\"bad number: \" + text)"),
        "{at}"
    );
    assert!(
        at.contains("crashed here: RuntimeError: bad number: oops"),
        "{at}"
    );
    let bt = answer(1, "backtrace");
    let lines: Vec<&str> = bt.lines().collect();
    assert_eq!(lines.len(), 2, "{bt}");
    assert!(
        lines[0].starts_with("#0 parse at ") && lines[0].ends_with("app.py:12"),
        "{bt}"
    );
    assert!(
        lines[1].starts_with("#1 <module> at ") && lines[1].ends_with("app.py:28"),
        "{bt}"
    );
    assert_eq!(answer(2, "locals"), "text = 'oops'");
    assert!(answer(3, "break app.py:18").ends_with("app.py:18 (3 hits)"));
    // Backwards to the last time line 18 ran: the third item.
    let back = answer(4, "reverse-continue");
    assert!(
        back.starts_with("breakpoint 1\n#51 app.py:18 in total_of"),
        "{back}"
    );
    assert_eq!(answer(5, "print item"), "item = '5'");
    assert_eq!(answer(6, "print total"), "total = 0");
    assert_eq!(answer(7, "print f"), "f = 24 (global)");
    assert_eq!(
        answer(8, "history total"),
        "total in total_of: 4 values\n  #26 total = 0\n  #33 total = 1\n  #49 total = 0\n  #56 total = 5"
    );
    let out = answer(9, "finish");
    assert!(
        out.starts_with("returned 5\n#59 app.py:26 in <module>"),
        "{out}"
    );
    // Forwards from there: fact has finished, so the first stop is gone;
    // its base case ran once, before.
    assert!(answer(10, "break app.py:5").ends_with("app.py:5 (1 hit)"));
    assert!(answer(11, "continue").starts_with("end of the recording\n#73 "));
    // At the end: only the module's frame, no `n` in it, nothing further
    // to finish; finishing backwards leaves the module for the beginning.
    let bt = answer(12, "backtrace");
    assert!(
        bt.starts_with("#0 <module> at ") && bt.ends_with("app.py:28") && bt.lines().count() == 1,
        "{bt}"
    );
    // Not recorded, and the run's last event (its unhandled exception,
    // after every frame ended) has no frame to evaluate in.
    let out = answer(13, "print n");
    assert!(
        out.starts_with("no variable \"n\" at this point (cannot evaluate: "),
        "{out}"
    );
    for n in [14, 15] {
        let out = answer(n, "finish");
        assert!(
            out.starts_with("end of the recording\n#73 app.py:28 in <module>"),
            "{out}"
        );
    }
    assert_eq!(
        answer(16, "reverse-finish"),
        "beginning of the recording\n#0 app.py:0 in <module>: call ()"
    );
    assert_eq!(answer(17, "goto 0"), "#0 app.py:0 in <module>: call ()");
    assert!(answer(18, "step").starts_with("#1 app.py:1 in <module>\n     1 | import revdebug"));
    assert!(answer(19, "next").starts_with("#2 app.py:3 in <module>"));
    assert!(answer(20, "next").starts_with("#3 app.py:8 in <module>"));
    assert!(answer(21, "reverse-next").starts_with("#2 app.py:3 in <module>"));
    assert!(answer(22, "reverse-step").starts_with("#1 app.py:1 in <module>"));
}

#[test]
fn a_scripted_session_moves_both_ways_and_reads_values() {
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts, &[]);
    let run = debug(&recording, SESSION);
    // The events were materialized first, beside the recording.
    assert!(
        banner(&run).contains("74 events in 1 thread (materialized by re-execution"),
        "{}",
        run.stdout
    );
    let answers = answers_of(&run);
    check_session(&answers);

    // Recursion: into the base case, the stack four calls deep, out again.
    let run = debug(
        &recording,
        "goto 0\nbreak app.py:5\ncontinue\nbacktrace\nprint n\nfinish\nfinish\nhistory n\nreverse-finish\nreverse-continue\nmarks\n",
    );
    // Opened again: the materialized events are reused.
    assert!(banner(&run).contains("(materialized in "), "{}", run.stdout);
    let answers = answers_of(&run);
    assert!(
        answers[2]
            .1
            .starts_with("breakpoint 1\n#17 app.py:5 in fact"),
        "{answers:?}"
    );
    let frames: Vec<&str> = answers[3].1.lines().collect();
    assert_eq!(frames.len(), 5, "{frames:?}");
    for (frame, line) in frames.iter().zip(["5", "6", "6", "6", "23"]) {
        assert!(frame.ends_with(&format!("app.py:{line}")), "{frames:?}");
    }
    assert_eq!(answers[4].1, "n = 1");
    assert!(
        answers[5]
            .1
            .starts_with("returned 1\n#19 app.py:6 in fact: return 2"),
        "{answers:?}"
    );
    assert!(
        answers[6]
            .1
            .starts_with("returned 2\n#20 app.py:6 in fact: return 6"),
        "{answers:?}"
    );
    assert_eq!(answers[7].1, "n in fact: 1 value\n  #9 n = 3");
    // Back to the line that called this frame: in its caller, fact(4).
    assert!(
        answers[8].1.starts_with("#8 app.py:6 in fact"),
        "{answers:?}"
    );
    assert!(
        answers[9].1.starts_with("beginning of the recording\n#0 "),
        "{answers:?}"
    );
    assert_eq!(
        answers[10].1,
        "thread 0 #22: snapshot \"after-fact\"\nthread 0 #59: snapshot \"after-total\"\nthread 0 #69: crash: RuntimeError: bad number: oops"
    );
}

/// Exceptions show where they were raised and caught, and bad commands get
/// an answer without ending the session.
#[test]
fn exceptions_and_bad_commands() {
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts, &[]);
    let run = debug(
        &recording,
        "goto 39\nstep\nstep\nfrobnicate\nprint\ngoto -3\ngoto 99999\nthread 7\nbreak nofile.py:3\nbreak app.py:x\nnext 3\nprint nothing\nwhere\n",
    );
    let answers = answers_of(&run);
    let said: Vec<&str> = answers.iter().map(|(_, answer)| answer.as_str()).collect();
    assert!(
        said[0].starts_with(
            "#39 app.py:10 in parse: raised ValueError: invalid literal for int() with base 10: 'x'"
        ),
        "{said:?}"
    );
    assert!(
        said[1].starts_with("#40 app.py:10 in parse: caught ValueError"),
        "{said:?}"
    );
    assert!(said[2].starts_with("#41 app.py:11 in parse"), "{said:?}");
    assert_eq!(said[3], "unknown command \"frobnicate\" (try \"help\")");
    assert_eq!(said[4], "print needs a variable name or an expression");
    assert_eq!(said[5], "goto: \"-3\" is not an event number");
    assert_eq!(
        said[6],
        "event 99999 is not in the recording (thread 0 has events 0..73)"
    );
    assert_eq!(said[7], "no thread 7 in the recording (threads: 0)");
    assert!(
        said[8].starts_with("no file \"nofile.py\" in the recording (files: "),
        "{said:?}"
    );
    assert_eq!(said[9], "break: \"x\" is not a line number");
    assert_eq!(said[10], "next takes no argument");
    assert_eq!(said[11], "no variable \"nothing\" at this point");
    assert!(said[12].starts_with("#41 app.py:11 in parse"), "{said:?}");
}

/// A run traced live carries its events: the same session gives the same
/// answers as on the events materialized from the cheap recording.
#[test]
fn a_live_traced_recording_answers_as_the_materialized_one() {
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts, &["--trace"]);
    let run = debug(&recording, SESSION);
    assert!(
        banner(&run).contains("(events traced live during the run)"),
        "{}",
        run.stdout
    );
    check_session(&answers_of(&run));
}

/// Expressions in the past, and frames: each `print EXPR` re-executes the
/// run to the event on screen and evaluates there, in the selected frame,
/// with the values of that moment; what an expression changes is not
/// seen by the next; an expression that does not end is stopped.
const PAST: &str = "\
print text.upper()
print len(text) * 2
up
print f + t
print fact(3)
frame 0
print undefined_name
print 1/0
frame 7
goto 0
break app.py:18
continue
print total + 100
print items.index(item)
print items.append('z')
print len(items)
continue
print total + 100
print items.index(item)
up
print f
bt
down
print sum(iter(int, 1))
quit
print never
";

fn check_past(answers: &[(String, String)]) {
    let said: Vec<&str> = answers.iter().map(|(_, answer)| answer.as_str()).collect();
    assert_eq!(answers.len(), 25, "{answers:?}");
    assert_eq!(said[0], "text.upper() = 'OOPS'");
    assert_eq!(said[1], "len(text) * 2 = 8");
    assert!(
        said[2].starts_with("#1 <module> at ")
            && said[2].contains("app.py:28\n    28 | parse(\"oops\")"),
        "{}",
        said[2]
    );
    assert_eq!(said[3], "f + t = 29");
    assert_eq!(said[4], "fact(3) = 6");
    assert!(said[5].starts_with("#0 parse at "), "{}", said[5]);
    assert_eq!(said[6], "no variable \"undefined_name\" at this point");
    assert_eq!(said[7], "ZeroDivisionError: division by zero");
    assert_eq!(said[8], "no frame 7: the call stack has 2 frames (0 to 1)");
    // The first time line 18 runs: item '1', total 0; then item 'x',
    // total 1: the values of each moment, not the last ones.
    assert!(said[11].contains("app.py:18 in total_of"), "{}", said[11]);
    assert_eq!(said[12], "total + 100 = 100");
    assert_eq!(said[13], "items.index(item) = 0");
    assert_eq!(said[14], "items.append('z') = None");
    assert_eq!(said[15], "len(items) = 3");
    assert_eq!(said[17], "total + 100 = 101");
    assert_eq!(said[18], "items.index(item) = 1");
    assert!(said[19].starts_with("#1 <module> at "), "{}", said[19]);
    assert_eq!(said[20], "f = 24");
    let bt: Vec<&str> = said[21].lines().collect();
    assert!(bt[0].starts_with("#0 total_of at "), "{}", said[21]);
    assert!(bt[1].starts_with("*#1 <module> at "), "{}", said[21]);
    assert!(said[22].starts_with("#0 total_of at "), "{}", said[22]);
    assert_eq!(
        said[23],
        "cannot evaluate: the expression did not finish within its budget of 10s"
    );
    // `quit` ends the script: the command after it is not run.
    assert_eq!(answers[24].0, "quit");
    assert_eq!(said[24], "");
}

#[test]
fn expressions_and_frames_in_the_past() {
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts, &[]);
    check_past(&answers_of(&debug(&recording, PAST)));
    // The same on a live trace, whose events number from the run's start.
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts, &["--trace"]);
    check_past(&answers_of(&debug(&recording, PAST)));
}

/// A recording cut short opens up to its last whole chunk and says so;
/// bytes that are not a recording get one line and status 2.
#[test]
fn damaged_recordings_open_as_far_as_they_can() {
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts, &["--trace"]);
    let bytes = std::fs::read(&recording).unwrap();
    let cut = scripts.write("cut.rwd", "");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let run = debug(&cut, "where\nbacktrace\n");
    assert_eq!(run.code, Some(0), "{run:?}");
    let banner: Vec<&str> = run.stdout.lines().take(2).collect();
    assert!(
        banner[1].starts_with("note: the recording is cut at byte "),
        "{banner:?}"
    );
    assert!(banner[1].contains("showing what precedes"), "{banner:?}");
    assert!(
        run.stdout.contains("(rewind) backtrace\n#0 "),
        "{}",
        run.stdout
    );

    std::fs::write(&cut, &bytes[..12]).unwrap();
    let run = debug(&cut, "where\n");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("truncated"), "{run:?}");

    let garbage = scripts.write("garbage.rwd", "print('not a recording')\n");
    let run = debug(&garbage, "where\n");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("not a Rewind recording"), "{run:?}");

    let run = debug(&scripts.path("missing.rwd"), "where\n");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.starts_with("rewind: cannot read "), "{run:?}");
}

/// A recording made by another build of the guest cannot be re-executed:
/// the debugger says why and shows the crash capture, frame by frame.
#[test]
fn a_recording_of_another_guest_shows_its_crash_capture() {
    use rewind_format::model::End;
    use rewind_format::{Recording, Writer};
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts, &[]);
    let read = Recording::read(&std::fs::read(&recording).unwrap()).unwrap();
    let mut header = read.header.clone();
    header.guest_digest = format!("sha256:{}", "0".repeat(64));
    let mut writer = Writer::new(Vec::new(), &header).unwrap();
    for source in &read.sources {
        writer.source(source).unwrap();
    }
    for (thread, log) in &read.threads {
        writer.inputs(*thread, 0, &log.inputs).unwrap();
        writer.markers(*thread, &log.markers).unwrap();
    }
    for crash in &read.crashes {
        writer.crash(crash).unwrap();
    }
    let bytes = writer
        .end(read.end.as_ref().unwrap_or(&End { exit_code: None }))
        .unwrap();
    let other = scripts.write("other.rwd", "");
    std::fs::write(&other, bytes).unwrap();

    let run = debug(&other, "backtrace\nlocals\nreverse-finish\nlocals\n");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains("(the crash capture only: one step per frame)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("note: ")
            && run
                .stdout
                .contains(&format!("another build of {}", crate::guest_described())),
        "{}",
        run.stdout
    );
    let answers = answers_of(&run);
    assert!(
        answers[0].1.starts_with("#0 parse at ") && answers[0].1.contains("\n#1 <module> at "),
        "{answers:?}"
    );
    assert_eq!(answers[1].1, "text = 'oops'");
    assert!(
        answers[3].1.contains("f = 24") && answers[3].1.contains("t = 5"),
        "{answers:?}"
    );
}

#[test]
fn the_terminal_ui_under_tmux() {
    let scripts = Scripts::new();
    let recording = crash_recording(&scripts, &[]);
    let binary = env!("CARGO_BIN_EXE_rewind");
    let cache = crate::shared_cache_dir();
    let shell = format!(
        "REWIND_CACHE_DIR='{}' '{binary}' replay '{}'; echo exited $?; sleep 30",
        cache.display(),
        recording.display()
    );
    let tmux = Tmux::start("rewind-test", &shell, 120, 36);

    // It opens at the crash: the source line marked, the exception, the stack.
    let screen = tmux.wait_for("Call stack");
    assert!(
        screen.contains("▶   12         raise RuntimeError(\"bad number: \" + text)"),
        "{screen}"
    );
    assert!(
        screen.contains("crashed here: RuntimeError: bad number: oops"),
        "{screen}"
    );
    assert!(screen.contains("#0 parse app.py:12"), "{screen}");
    assert!(screen.contains("#1 <module> app.py:28"), "{screen}");
    assert!(screen.contains("text = 'oops'"), "{screen}");
    assert!(screen.contains("event #69  (70 of 74)"), "{screen}");

    // A breakpoint on line 18, then reverse-continue to its last hit.
    tmux.keys(&[":", "break app.py:18", "Enter"]);
    tmux.wait_for("breakpoint 1 at ");
    tmux.keys(&["C"]);
    let screen = tmux.wait_for("event #51 ");
    assert!(
        screen.contains("●▶   18             total += parse(item)"),
        "{screen}"
    );
    assert!(screen.contains("item = '5'"), "{screen}");
    assert!(screen.contains("#0 total_of app.py:18"), "{screen}");
    // The caller's frame, and back: the source follows the selected frame.
    tmux.keys(&["u"]);
    let screen = tmux.wait_for("#1 <module> at ");
    assert!(screen.contains("▶   25 t = total_of("), "{screen}");
    tmux.keys(&["d"]);
    tmux.wait_for("#0 total_of at ");

    // Step back, then out of the frame forwards.
    tmux.keys(&["S"]);
    tmux.wait_for("event #50 ");
    tmux.keys(&["f"]);
    let screen = tmux.wait_for("returned 5");
    assert!(screen.contains("event #59 "), "{screen}");

    // Go to an event by number; the help overlay opens and closes.
    tmux.keys(&["g", "17", "Enter"]);
    let screen = tmux.wait_for("event #17 ");
    assert!(screen.contains("n = 1"), "{screen}");
    tmux.keys(&["?"]);
    // It lists every command.
    let screen = tmux.wait_for("Help (");
    assert!(screen.contains("u / d    select the caller"), "{screen}");
    tmux.keys(&["Down"; 40]);
    let screen = tmux.wait_for("quit, q                 end the session");
    assert!(screen.contains("frame [N]"), "{screen}");
    tmux.keys(&["Escape"]);
    let start = Instant::now();
    while tmux.screen().contains("Help (") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the help stayed open"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux.keys(&["q"]);
    tmux.wait_for("exited 0");
}

/// `rewind replay --last` opens the newest recording of `--out`'s
/// directory, and the line reporting a crash names the command that opens
/// it.
#[test]
fn the_last_recording_opens_by_itself() {
    let scripts = Scripts::new();
    scripts.write("first.py", "raise ValueError('first')\n");
    scripts.write("second.py", "x = 2\nraise KeyError('second')\n");
    let out = scripts.path("out");
    let crash = |script: &str| {
        let mut command = rewind();
        command
            .current_dir(scripts.root())
            .args(["run", "--out"])
            .arg(&out)
            .arg(script);
        let output = command.output().expect("rewind runs");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let said = crash("first.py");
    let line = said
        .lines()
        .find(|line| line.starts_with("rewind: crash recorded in "))
        .expect("the crash line");
    let (path, open) = line["rewind: crash recorded in ".len()..]
        .split_once(" (open it: rewind replay ")
        .expect("the command to open it");
    assert_eq!(open, format!("{path})"), "{line}");
    assert!(path.ends_with("-crash.rwd"), "{line}");
    // Materialized events beside a recording are not a recording.
    let first = debug(Path::new(&scripts.root().join(path)), "where\n");
    assert!(first.stdout.contains("first"), "{first:?}");
    std::thread::sleep(Duration::from_millis(20));
    crash("second.py");

    let mut command = rewind();
    command
        .current_dir(scripts.root())
        .args(["replay", "--last", "--out"])
        .arg(&out)
        .args(["--commands", "-"]);
    let run = run_with_stdin(&mut command, b"where\nprint x\n");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("rewind: opening "), "{run:?}");
    assert!(run.stdout.contains("KeyError: 'second'"), "{}", run.stdout);
    assert!(run.stdout.contains("x = 2"), "{}", run.stdout);

    // Nothing to open: one line, status 2.
    let empty = scripts.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = crate::run(rewind().args(["replay", "--last", "--out"]).arg(&empty));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.starts_with("rewind: --last: no recordings in "),
        "{run:?}"
    );
    let run = crate::run(rewind().args(["replay", "--last", "somefile.rwd"]));
    assert_eq!(run.code, Some(2), "{run:?}");
}

/// A crash's window of the last events starts deep inside calls: the
/// frames it was entered through are named, with their lines, whether the
/// events were traced live or materialized from the cheap recording.
#[test]
fn frames_entered_before_a_window_are_named() {
    const DEEP: &str = "\
def work(items):
    total = 0
    for i in items:
        total += i * i
    return check(total)

def check(total):
    for k in range(30):
        total -= k
    if total > 0:
        raise ValueError(f\"total {total}\")
    return total

def main():
    data = list(range(50))
    return work(data)

main()
";
    for flags in [
        &["--buffer-events", "40"][..],
        &["--trace", "--buffer-events", "40"],
    ] {
        let scripts = Scripts::new();
        scripts.write("deep.py", DEEP);
        let mut args = flags.to_vec();
        args.push("deep.py");
        let (ran, recordings) = record(&scripts, &args, "");
        assert_eq!(ran.code, Some(1), "{ran:?}");
        let recording = recordings
            .into_iter()
            .find(|path| path.to_string_lossy().ends_with("-crash.rwd"))
            .expect("a crash recording");
        let answers = answers_of(&debug(&recording, "backtrace\nframe 2\nprint len(data)\n"));
        let file = scripts.path("deep.py");
        let file = file.display();
        assert_eq!(
            answers[0].1,
            format!(
                "#0 check at {file}:11\n#1 work at {file}:5\n#2 main at {file}:16\n#3 <module> at {file}:18"
            ),
            "{flags:?}"
        );
        assert!(
            answers[1].1.contains("16 |     return work(data)"),
            "{answers:?}"
        );
        assert_eq!(answers[2].1, "len(data) = 50", "{flags:?}");
    }
}
