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
//! `rewind serve` adds `--serve CALLABLE --debug-prefix PREFIX [--expect
//! NAME]...`: the script is imported as a module and its WSGI application
//! CALLABLE serves the host's requests until the host stops
//! (`revdebug.serve`). `--tracer settrace` makes tracing use the reference
//! `sys.settrace` tracer instead of the native one (see `tracer/`).
//!
//! Start-up is cut by pre-initialisation: the component exports
//! `wizer-initialize`, which builds the interpreter and imports what every
//! run imports; the host runs it once (with fixed clocks and randomness, so
//! the result depends only on this component) and snapshots the memory with
//! wasmtime's wizer. `main` then finds the interpreter ready. Without a
//! snapshot (natively, or under a plain WASI host) `main` builds it itself.
//!
//! The same crate also builds for the host target: the benchmarks run it
//! natively to measure what the WebAssembly build costs over the same VM.

use std::cell::RefCell;
use std::process::ExitCode;

use rustpython_vm::builtins::{PyBaseExceptionRef, PyStr};
use rustpython_vm::{AsObject as _, Interpreter, PyResult, Settings, VirtualMachine};

mod decimal;
mod host;
mod position;
mod recorder;
mod tracer;

/// What to run, parsed from the launch protocol above.
struct Launch {
    cwd: Option<String>,
    hash_seed: Option<u32>,
    tracer: tracer::Kind,
    main: Main,
    argv: Vec<String>,
    serve: Option<Serve>,
}

/// What `rewind serve` asks for.
struct Serve {
    callable: String,
    debug_prefix: String,
    expected: Vec<String>,
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
        let mut serve = None;
        let mut debug_prefix = String::new();
        let mut expected = Vec::new();
        let mut tracer = tracer::Kind::Native;
        loop {
            let Some(arg) = args.next() else {
                return Err("missing `--` before the script's argv".into());
            };
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--cwd" => cwd = Some(value("--cwd")?),
                "--hash-seed" => {
                    let seed = value("--hash-seed")?;
                    let seed = seed
                        .parse()
                        .map_err(|_| format!("bad --hash-seed {seed:?}"))?;
                    hash_seed = Some(seed);
                }
                "--script" => main = Some(Main::Script(value("--script")?)),
                "--command" => main = Some(Main::Command(value("--command")?)),
                "--serve" => serve = Some(value("--serve")?),
                "--debug-prefix" => debug_prefix = value("--debug-prefix")?,
                "--expect" => expected.push(value("--expect")?),
                "--tracer" => {
                    tracer = match value("--tracer")?.as_str() {
                        "native" => tracer::Kind::Native,
                        "settrace" => tracer::Kind::Settrace,
                        other => return Err(format!("unknown tracer {other:?}")),
                    }
                }
                "--" => break,
                other => return Err(format!("unknown launch option {other:?}")),
            }
        }
        let main = main.ok_or("one of --script or --command is required")?;
        if serve.is_some() && !matches!(main, Main::Script(_)) {
            return Err("--serve needs --script".into());
        }
        Ok(Launch {
            cwd,
            hash_seed,
            tracer,
            main,
            argv: args.collect(),
            serve: serve.map(|callable| Serve {
                callable,
                debug_prefix,
                expected,
            }),
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

    // The snapshot's interpreter hashes with the default seed: another seed
    // needs an interpreter of its own.
    let preinitialized = PREINITIALIZED
        .with(|slot| slot.borrow_mut().take())
        .filter(|_| {
            launch
                .hash_seed
                .is_none_or(|seed| seed == DEFAULT_HASH_SEED)
        });
    let (interpreter, resync) = match preinitialized {
        Some(interpreter) => (interpreter, true),
        None => {
            let interpreter = interpreter(launch.hash_seed);
            interpreter.enter(warm_up);
            (interpreter, false)
        }
    };
    let code = interpreter.run(|vm| {
        set_argv(vm, &launch.argv)?;
        if resync {
            resync_with_process(vm)?;
        }
        recorder::start(vm, &user_root(&launch), launch.tracer)?;
        let result = match &launch.serve {
            Some(serve) => run_serve(vm, &launch.main, serve),
            None => run_main(vm, &launch.main),
        };
        recorder::finish(vm, result.as_ref().err());
        result
    });
    exit(code)
}

/// What pre-initialisation saw of the process (no environment, no terminal)
/// is not what this run sees: bring the modules that captured it up to date.
fn resync_with_process(vm: &VirtualMachine) -> PyResult<()> {
    let env = vm.ctx.new_dict();
    for (key, value) in std::env::vars_os() {
        let key = vm.ctx.new_str(key.to_string_lossy().as_ref());
        let value = vm.ctx.new_str(value.to_string_lossy().as_ref());
        env.set_item(key.as_object(), value.into(), vm)?;
    }
    let scope = vm.new_scope_with_builtins();
    vm.run_string(scope.clone(), RESYNC, "<rewind>")?;
    let resync = scope.globals.get_item("_resync", vm)?;
    resync.call((env,), vm)?;
    Ok(())
}

/// `os.environ` was built from the (empty) environment of pre-initialisation,
/// and stdout's buffering chosen without a terminal. Modules may hold
/// `os.environ` itself, so it is refilled in place, without `putenv`.
const RESYNC: &str = r#"
def _resync(env):
    import os, sys
    data = os.environ._data
    data.clear()
    for key, value in env.items():
        data[os.environ.encodekey(key)] = os.environ.encodevalue(value)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is sys.stderr or stream.isatty():
                stream.reconfigure(line_buffering=True)
        except Exception:
            pass
"#;

thread_local! {
    /// The interpreter `wizer-initialize` built, found by `main` in the snapshot.
    static PREINITIALIZED: RefCell<Option<Interpreter>> = const { RefCell::new(None) };
}

/// String hashing is seeded with this unless the launch says otherwise: a
/// pre-initialised snapshot fixes the seed anyway (every interned string's
/// hash is in it), and a fixed seed keeps re-execution reproducible.
const DEFAULT_HASH_SEED: u32 = 0;

/// The work every run does before the script: done once, at pre-initialisation.
fn warm_up(vm: &VirtualMachine) {
    for module in ["site", "importlib.machinery", "linecache", "traceback"] {
        // As in CPython, a module missing here is not fatal.
        let _ = vm.import(module, 0);
    }
    if let Err(err) = recorder::install(vm) {
        vm.print_exception(&err);
    }
}

/// Where the user's own code lives, recorded unless a rule says otherwise:
/// the script's directory, or the working directory for `--command`.
fn user_root(launch: &Launch) -> String {
    match &launch.main {
        Main::Script(path) => match path.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(end) => path[..end].to_owned(),
        },
        Main::Command(_) => launch.cwd.clone().unwrap_or_else(|| "/".to_owned()),
    }
}

fn set_argv(vm: &VirtualMachine, argv: &[String]) -> PyResult<()> {
    let argv: Vec<_> = argv
        .iter()
        .map(|arg| vm.ctx.new_str(arg.as_str()).into())
        .collect();
    vm.sys_module.set_attr("argv", vm.ctx.new_list(argv), vm)
}

/// The component's WIT world: the recorder's imports (used by [`host`]) and
/// the pre-initialisation export.
#[cfg(target_os = "wasi")]
mod wasi {
    wit_bindgen::generate!({ path: "../../wit", world: "python" });

    struct Preinit;

    impl Guest for Preinit {
        fn wizer_initialize() {
            let interpreter = super::interpreter(None);
            interpreter.enter(super::warm_up);
            super::PREINITIALIZED.with(|slot| *slot.borrow_mut() = Some(interpreter));
            // wasi-libc caches the preopened directories and the environment
            // on first use; the snapshot must not keep pre-initialisation's
            // (empty) ones. Both are read again when next needed.
            unsafe extern "C" {
                fn __wasilibc_reset_preopens();
                fn __wasilibc_deinitialize_environ();
            }
            // SAFETY: no file descriptor obtained through a preopen is held
            // (pre-initialisation runs with none), and no pointer into the
            // environment outlives this call.
            unsafe {
                __wasilibc_reset_preopens();
                __wasilibc_deinitialize_environ();
            }
        }
    }

    export!(Preinit);
}

fn interpreter(hash_seed: Option<u32>) -> Interpreter {
    let mut settings = Settings::default();
    settings.hash_seed = Some(hash_seed.unwrap_or(DEFAULT_HASH_SEED));
    // There are no signals to handle inside the sandbox, and the environment
    // the host passes is the script's own, not configuration for the VM.
    settings.install_signal_handlers = false;
    settings.ignore_environment = true;
    settings.write_bytecode = false;
    settings.user_site_directory = false;

    let builder = Interpreter::builder(settings);
    let mut modules = rustpython_stdlib::stdlib_module_defs(&builder.ctx);
    modules.push(recorder::_rewind::module_def(&builder.ctx));
    modules.push(decimal::module_def(&builder.ctx));
    builder
        .add_native_modules(&modules)
        .add_frozen_modules(rustpython_pylib::FROZEN_STDLIB)
        .build()
}

/// `pymain_run_python`: `sys.path[0]`, then the program (`site` was
/// imported by [`warm_up`]).
fn run_main(vm: &VirtualMachine, main: &Main) -> PyResult<()> {
    let scope = vm.new_scope_with_main()?;
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
                .map_err(|err| without_binary_text(vm, err, path))
        }
    }
}

/// CPython's message for a file with a NUL byte in it, which is most likely
/// not a script at all (a binary given by mistake).
const NULL_BYTES: &str = "source code cannot contain null bytes";

/// RustPython's `SyntaxError` for a NUL byte quotes the line up to it, and
/// so prints a binary's raw bytes; this one says it in one line, naming the
/// file: `SyntaxError: source code cannot contain null bytes (PATH)`.
fn without_binary_text(
    vm: &VirtualMachine,
    err: PyBaseExceptionRef,
    path: &str,
) -> PyBaseExceptionRef {
    let null_bytes = err.fast_isinstance(vm.ctx.exceptions.syntax_error)
        && err.args().as_slice().first().is_some_and(|arg| {
            arg.downcast_ref::<PyStr>()
                .is_some_and(|text| text.to_string_lossy() == NULL_BYTES)
        });
    if !null_bytes {
        return err;
    }
    let plain = vm.new_exception_msg(vm.ctx.exceptions.syntax_error.to_owned(), NULL_BYTES.into());
    match plain
        .as_object()
        .set_attr("filename", vm.ctx.new_str(path), vm)
    {
        Ok(()) => plain,
        Err(_) => err,
    }
}

/// `rewind serve`: the script's directory on `sys.path`, then
/// `revdebug.serve.main`, which imports the script and serves requests.
fn run_serve(vm: &VirtualMachine, main: &Main, serve: &Serve) -> PyResult<()> {
    let Main::Script(path) = main else {
        return Ok(());
    };
    let dir = match path.rfind('/') {
        Some(0) => "/",
        Some(end) => &path[..end],
        None => "",
    };
    vm.insert_sys_path(vm.new_pyobj(dir))?;
    // `import revdebug.serve` gives the package: the module is its attribute.
    let module = vm.import("revdebug", 0)?.get_attr("serve", vm)?;
    let serve_main = module.get_attr("main", vm)?;
    let expected: Vec<_> = serve
        .expected
        .iter()
        .map(|name| vm.ctx.new_str(name.as_str()).into())
        .collect();
    serve_main.call(
        (
            vm.ctx.new_str(path.as_str()),
            vm.ctx.new_str(serve.callable.as_str()),
            vm.ctx.new_str(serve.debug_prefix.as_str()),
            vm.ctx.new_list(expected),
        ),
        vm,
    )?;
    Ok(())
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
