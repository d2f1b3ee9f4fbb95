//! The Python guest: RustPython with the frozen standard library, run as a
//! WASI command.
//!
//! The host (`rewind run`) starts it with a small launch protocol on argv, so
//! that nothing the script can see (its environment, its `sys.argv`) carries
//! the host's plumbing:
//!
//! ```text
//! rewind-python [--cwd DIR] [--hash-seed N] (--script PATH | --command CODE) -- ARGV...
//! ```
//!
//! `ARGV...` becomes `sys.argv` unchanged. `--script PATH` names the file to
//! run (absolute, as CPython makes `__file__` since 3.9); its directory
//! becomes `sys.path[0]`. `--command CODE` runs CODE as `python -c` does.
//!
//! The same crate also builds for the host target: the benchmarks run it
//! natively to measure what the WebAssembly build costs over the same VM.

use std::process::ExitCode;

use rustpython_vm::{Interpreter, PyResult, Settings, VirtualMachine};

/// What to run, parsed from the launch protocol above.
struct Launch {
    cwd: Option<String>,
    hash_seed: Option<u32>,
    main: Main,
    argv: Vec<String>,
}

enum Main {
    Script(String),
    Command(String),
}

impl Launch {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Launch, String> {
        let _program = args.next();
        let mut cwd = None;
        let mut hash_seed = None;
        let mut main = None;
        loop {
            let Some(arg) = args.next() else {
                return Err("missing `--` before the script's argv".into());
            };
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--cwd" => cwd = Some(value("--cwd")?),
                "--hash-seed" => {
                    let seed = value("--hash-seed")?;
                    let seed = seed.parse().map_err(|_| format!("bad --hash-seed {seed:?}"))?;
                    hash_seed = Some(seed);
                }
                "--script" => main = Some(Main::Script(value("--script")?)),
                "--command" => main = Some(Main::Command(value("--command")?)),
                "--" => break,
                other => return Err(format!("unknown launch option {other:?}")),
            }
        }
        let main = main.ok_or("one of --script or --command is required")?;
        Ok(Launch {
            cwd,
            hash_seed,
            main,
            argv: args.collect(),
        })
    }
}

fn main() -> ExitCode {
    let launch = match Launch::parse(std::env::args()) {
        Ok(launch) => launch,
        Err(message) => {
            eprintln!("rewind-python: {message}");
            return ExitCode::from(2);
        }
    };
    if let Some(cwd) = &launch.cwd {
        // Relative paths then resolve as they would on the host, within the
        // directories the host granted; a cwd outside every grant stays "/".
        let _ = std::env::set_current_dir(cwd);
    }

    let interpreter = interpreter(&launch);
    let code = interpreter.run(|vm| run_main(vm, &launch.main));
    exit(code)
}

fn interpreter(launch: &Launch) -> Interpreter {
    let mut settings = Settings::default();
    settings.argv = launch.argv.clone();
    settings.hash_seed = launch.hash_seed;
    // There are no signals to handle inside the sandbox, and the environment
    // the host passes is the script's own, not configuration for the VM.
    settings.install_signal_handlers = false;
    settings.ignore_environment = true;
    settings.write_bytecode = false;
    settings.user_site_directory = false;

    let builder = Interpreter::builder(settings);
    let modules = rustpython_stdlib::stdlib_module_defs(&builder.ctx);
    builder
        .add_native_modules(&modules)
        .add_frozen_modules(rustpython_pylib::FROZEN_STDLIB)
        .build()
}

/// `pymain_run_python`: `site` first, then `sys.path[0]`, then the program.
fn run_main(vm: &VirtualMachine, main: &Main) -> PyResult<()> {
    let scope = vm.new_scope_with_main()?;
    // As in CPython, a missing `site` is not fatal.
    let _ = vm.import("site", 0);
    match main {
        Main::Command(code) => {
            vm.insert_sys_path(vm.new_pyobj(""))?;
            vm.run_string(scope, code, "<string>").map(drop)
        }
        Main::Script(path) => {
            let dir = match path.rfind('/') {
                Some(0) => "/",
                Some(end) => &path[..end],
                None => "",
            };
            vm.insert_sys_path(vm.new_pyobj(dir))?;
            vm.run_any_file(scope, path)
        }
    }
}

/// Exit with the full status code: WASI 0.2's `exit` carries only success or
/// failure, so the guest uses `exit-with-code`, which the host enables.
fn exit(code: u32) -> ExitCode {
    let code = code as u8;
    #[cfg(target_os = "wasi")]
    if code != 0 {
        wasip2::cli::exit::exit_with_code(code);
    }
    ExitCode::from(code)
}
