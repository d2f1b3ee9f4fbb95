//! The Python guest: RustPython with the frozen standard library, run as a
//! WASI command.
//!
//! The host (`rewind run`) starts it with a small launch protocol on argv, so
//! that nothing the script can see (its environment, its `sys.argv`) carries
//! the host's plumbing:
//!
//! ```text
//! rewind-python [--cwd DIR] [--hash-seed N] [PYTHON OPTIONS]
//!     (--script PATH | --command CODE | --module NAME | --stdin | --interactive) -- ARGV...
//! ```
//!
//! `ARGV...` becomes `sys.argv` unchanged. `--script PATH` names the file to
//! run (absolute, as CPython makes `__file__` since 3.9); its directory
//! becomes `sys.path[0]`. `--command CODE` runs CODE as `python -c` does,
//! `--module NAME` as `python -m`, `--stdin` reads the program from stdin
//! (`python -`), `--interactive` opens the prompt. The Python options are
//! python3's own, spelt out: `--inspect` (-i), `--unbuffered` (-u),
//! `--ignore-environment` (-E), `--safe-path` (-P), `--quiet` (-q),
//! `--xoption OPT` (-X), `--warnoption ARG` (-W); `--sys-path DIR` puts
//! DIR on `sys.path` before the standard library, `--site-dir DIR` adds a
//! site-packages directory after it.
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
mod platform;
mod position;
mod recorder;
#[cfg(target_os = "wasi")]
mod sqlite;
mod tracer;

/// What to run, parsed from the launch protocol above.
struct Launch {
    cwd: Option<String>,
    hash_seed: Option<u32>,
    tracer: tracer::Kind,
    main: Main,
    options: Options,
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
    Module(String),
    Stdin,
    Interactive,
}

/// python3's options that reach the guest (see the launch protocol above).
#[derive(Default)]
struct Options {
    inspect: bool,
    unbuffered: bool,
    ignore_environment: bool,
    safe_path: bool,
    quiet: bool,
    xoptions: Vec<String>,
    warnoptions: Vec<String>,
    sys_path: Vec<String>,
    site_dirs: Vec<String>,
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
        let mut options = Options::default();
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
                "--module" => main = Some(Main::Module(value("--module")?)),
                "--stdin" => main = Some(Main::Stdin),
                "--interactive" => main = Some(Main::Interactive),
                "--inspect" => options.inspect = true,
                "--unbuffered" => options.unbuffered = true,
                "--ignore-environment" => options.ignore_environment = true,
                "--safe-path" => options.safe_path = true,
                "--quiet" => options.quiet = true,
                "--xoption" => options.xoptions.push(value("--xoption")?),
                "--warnoption" => options.warnoptions.push(value("--warnoption")?),
                "--sys-path" => options.sys_path.push(value("--sys-path")?),
                "--site-dir" => options.site_dirs.push(value("--site-dir")?),
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
        let main = main
            .ok_or("one of --script, --command, --module, --stdin or --interactive is required")?;
        if serve.is_some() && !matches!(main, Main::Script(_)) {
            return Err("--serve needs --script".into());
        }
        Ok(Launch {
            cwd,
            hash_seed,
            tracer,
            main,
            options,
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
    let interrupted = std::cell::Cell::new(false);
    let code = interpreter.run(|vm| {
        set_argv(vm, &launch.argv)?;
        if resync {
            resync_with_process(vm)?;
        }
        apply_options(vm, &launch.options)?;
        recorder::start(vm, &user_root(&launch), launch.tracer)?;
        let result = match &launch.serve {
            Some(serve) => run_serve(vm, &launch.main, serve),
            None => run_main(vm, &launch.main, &launch.options),
        };
        interrupted.set(
            result
                .as_ref()
                .is_err_and(|err| err.fast_isinstance(vm.ctx.exceptions.keyboard_interrupt)),
        );
        recorder::finish(vm, result.as_ref().err());
        result
    });
    // As CPython, which ends by SIGINT itself: a shell sees 128 + 2.
    match code {
        1 if interrupted.get() => exit(130),
        code => exit(code),
    }
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
    if let Err(err) = platform::install(vm) {
        vm.print_exception(&err);
    }
    for module in ["site", "importlib.machinery", "linecache", "traceback"] {
        // As in CPython, a module missing here is not fatal.
        let _ = vm.import(module, 0);
    }
    if let Err(err) = recorder::install(vm) {
        vm.print_exception(&err);
    }
    let scope = vm.new_scope_with_builtins();
    if let Err(err) = vm.run_string(scope, WARM_UP, "<rewind>") {
        vm.print_exception(&err);
    }
    if let Err(err) = install_helpers(vm) {
        vm.print_exception(&err);
    }
}

/// Compiles [`HELPERS`] into the module `_rewind_launch`, once, at
/// pre-initialisation: every run calls it, and none compiles it again.
fn install_helpers(vm: &VirtualMachine) -> PyResult<()> {
    let code = vm
        .compile(
            HELPERS,
            rustpython_vm::compiler::Mode::Exec,
            "<rewind>".to_owned(),
        )
        .map_err(|err| err.into_pyexception(vm, Some(HELPERS)))?;
    rustpython_vm::import::import_code_obj(vm, HELPERS_MODULE, code, false)?;
    Ok(())
}

/// `os._exit(n)` exits with n (see `_rewind.exit`), and importing a
/// compiled extension module says why it cannot load, naming it, where
/// python3 would load it: a finder after all the others, reached only when
/// nothing importable was found.
const WARM_UP: &str = r#"
import os, sys, _rewind
os._exit = _rewind.exit

import _rewind_platform
sys.meta_path.append(_rewind_platform.NativeExtensionFinder)
"#;

/// Where the user's own code lives, recorded unless a rule says otherwise:
/// the script's directory, or the working directory for `--command`.
fn user_root(launch: &Launch) -> String {
    match &launch.main {
        Main::Script(path) => match path.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(end) => path[..end].to_owned(),
        },
        _ => launch.cwd.clone().unwrap_or_else(|| "/".to_owned()),
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

    #[cfg(target_os = "wasi")]
    sqlite::use_wasi_random();
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
/// imported by [`warm_up`]), then the prompt if `-i` asked for it.
fn run_main(vm: &VirtualMachine, main: &Main, options: &Options) -> PyResult<()> {
    let scope = vm.new_scope_with_main()?;
    let path0 = |path: &str| match options.safe_path {
        true => Ok(()),
        false => vm.insert_sys_path(vm.new_pyobj(path)),
    };
    let result = match main {
        Main::Command(code) => {
            path0("")?;
            vm.run_string(scope.clone(), code, "<string>").map(drop)
        }
        Main::Script(path) => {
            let dir = match path.rfind('/') {
                Some(0) => "/",
                Some(end) => &path[..end],
                None => "",
            };
            path0(dir)?;
            vm.run_any_file(scope.clone(), path)
                .map_err(|err| without_binary_text(vm, err, path))
        }
        Main::Module(module) => {
            let cwd = std::env::current_dir()
                .map(|cwd| cwd.to_string_lossy().into_owned())
                .unwrap_or_default();
            path0(&cwd)?;
            let runpy = vm.import("runpy", 0)?;
            let run = runpy.get_attr("_run_module_as_main", vm)?;
            run.call((vm.ctx.new_str(module.as_str()), true), vm)
                .map(drop)
        }
        Main::Stdin => {
            path0("")?;
            run_stdin(vm, &scope)
        }
        Main::Interactive => {
            path0("")?;
            return interact(vm, &scope, options);
        }
    };
    if !options.inspect {
        return result;
    }
    // `python -i`: the traceback, then the prompt in the program's globals.
    if let Err(err) = &result {
        if err.fast_isinstance(vm.ctx.exceptions.system_exit) {
            return result;
        }
        vm.print_exception(err);
    }
    interact(vm, &scope, options)
}

/// `python -`: the program is all of stdin, decoded as its coding
/// declaration says, compiled here so that no frame of the launch shows in
/// its tracebacks.
fn run_stdin(vm: &VirtualMachine, scope: &rustpython_vm::scope::Scope) -> PyResult<()> {
    let source = python_helper(vm, "_read_stdin")?.call((), vm)?;
    let source = source.str(vm)?;
    let source = source.to_string_lossy();
    let code = vm
        .compile(
            &source,
            rustpython_vm::compiler::Mode::Exec,
            "<stdin>".to_owned(),
        )
        .map_err(|err| err.into_pyexception(vm, Some(&source)))?;
    vm.run_code_obj(code, scope.clone()).map(drop)
}

/// The interactive prompt (`code.interact`) in `scope`'s globals, with
/// python3's banner unless `-q`.
fn interact(
    vm: &VirtualMachine,
    scope: &rustpython_vm::scope::Scope,
    options: &Options,
) -> PyResult<()> {
    python_helper(vm, "_interact")?
        .call((scope.globals.clone(), options.quiet), vm)
        .map(drop)
}

/// A function of [`HELPERS`], compiled by [`install_helpers`].
fn python_helper(vm: &VirtualMachine, name: &'static str) -> PyResult {
    vm.import(HELPERS_MODULE, 0)?.get_attr(name, vm)
}

/// Where [`HELPERS`] are, in `sys.modules`.
const HELPERS_MODULE: &str = "_rewind_launch";

/// What the launch does in Python: reading the program from stdin (bytes,
/// so that a coding declaration is honoured), the prompt, and python3's
/// options that live in `sys`.
const HELPERS: &str = r#"
def _read_stdin():
    import sys, importlib.util
    return importlib.util.decode_source(sys.stdin.buffer.read())

def _interact(globals, quiet):
    import _rewind_platform
    _rewind_platform.interact(globals, quiet)

def _options(unbuffered, ignore_environment, xoptions, warnoptions, sys_path, site_dirs):
    import os, sys
    env = {} if ignore_environment else os.environ
    if unbuffered or env.get("PYTHONUNBUFFERED"):
        # As CPython's -u: the text layer writes through to the raw stream.
        import io
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            try:
                stream.flush()
                raw = stream.detach().detach()
            except Exception:
                continue
            text = io.TextIOWrapper(raw, encoding=stream.encoding, errors=stream.errors,
                                    write_through=True)
            setattr(sys, name, text)
            setattr(sys, "__" + name + "__", text)
    for option in xoptions:
        key, eq, value = option.partition("=")
        sys._xoptions[key] = value if eq else True
    warnoptions = [w for w in env.get("PYTHONWARNINGS", "").split(",") if w] + warnoptions
    if warnoptions:
        sys.warnoptions.extend(warnoptions)
        import warnings
        warnings._processoptions(warnoptions)
    # Before the standard library, as PYTHONPATH: --path, then PYTHONPATH.
    before = sys_path + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[0:0] = before
    if site_dirs:
        import site
        for site_dir in site_dirs:
            site.addsitedir(site_dir)
"#;

/// python3's options that are set in `sys` and the environment's
/// `PYTHON*` variables (unless `-E`).
fn apply_options(vm: &VirtualMachine, options: &Options) -> PyResult<()> {
    let strings = |values: &[String]| {
        vm.ctx.new_list(
            values
                .iter()
                .map(|value| vm.ctx.new_str(value.as_str()).into())
                .collect(),
        )
    };
    python_helper(vm, "_options")?.call(
        (
            options.unbuffered,
            options.ignore_environment,
            strings(&options.xoptions),
            strings(&options.warnoptions),
            strings(&options.sys_path),
            strings(&options.site_dirs),
        ),
        vm,
    )?;
    Ok(())
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
pub(crate) fn exit(code: u32) -> ExitCode {
    let code = code as u8;
    #[cfg(target_os = "wasi")]
    if code != 0 {
        wasip2::cli::exit::exit_with_code(code);
    }
    ExitCode::from(code)
}
