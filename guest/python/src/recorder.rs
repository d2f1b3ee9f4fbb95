//! The guest's side of the recorder: the native `_rewind` module, which
//! `revdebug.py` (RevDeBug's agent API) calls, the crash capture of an
//! unhandled exception, and setting up live tracing.

use rustpython_vm::builtins::PyBaseExceptionRef;
use rustpython_vm::{AsObject as _, PyObjectRef, PyResult, VirtualMachine};

use crate::host;
use crate::tracer;

/// The agent API and its submodules, compiled into the snapshot at
/// pre-initialisation: `revdebug`, `revdebug.registry` (Paste's registry and
/// restorer) and `revdebug.serve` (serving WSGI, with the debugger).
const MODULES: [(&str, &str); 3] = [
    ("revdebug", include_str!("revdebug.py")),
    ("revdebug.registry", include_str!("registry.py")),
    ("revdebug.serve", include_str!("serve.py")),
];

/// Makes `import revdebug` (and its submodules) work: compiles each module
/// from its source and puts it in `sys.modules`, a submodule also as an
/// attribute of its parent. None calls the host until used.
pub fn install(vm: &VirtualMachine) -> PyResult<()> {
    for (name, source) in MODULES {
        let code = vm
            .compile_with_opts(
                source,
                rustpython_vm::compiler::Mode::Exec,
                format!("<{name}>"),
                vm.compile_opts(),
            )
            .map_err(|err| err.into_pyexception(vm, Some(source)))?;
        let module = rustpython_vm::import::import_code_obj(vm, name, code, false)?;
        if let Some((parent, child)) = name.rsplit_once('.') {
            let parent = vm.import(parent, 0)?;
            parent.set_attr(&vm.ctx.new_str(child), module, vm)?;
        }
    }
    Ok(())
}

/// Tells `revdebug` where the user's code lives (recorded by default), and
/// starts live tracing when the host asks for it.
pub fn start(vm: &VirtualMachine, user_root: &str, tracer: tracer::Kind) -> PyResult<()> {
    let revdebug = vm.import("revdebug", 0)?;
    let start = revdebug.get_attr("_start", vm)?;
    start.call((vm.ctx.new_str(user_root),), vm)?;
    if host::tracing() {
        // Re-execution that keeps only the last events before a crash may
        // ask for tracing from a position on; the settrace tracer, kept
        // as a reference, always traces the whole run.
        match host::trace_from() {
            from if from > 0 && tracer == tracer::Kind::Native => {
                tracer::prepare(revdebug, tracer);
                crate::position::trace_from(from);
            }
            _ => tracer::start(vm, revdebug, tracer)?,
        }
    }
    // The script starts at position 0, whatever the set-up ran.
    crate::position::start();
    Ok(())
}

/// The run is over: stop tracing and hand over what is still batched; for
/// an exception nothing handled, capture the crash first.
pub fn finish(vm: &VirtualMachine, unhandled: Option<&PyBaseExceptionRef>) {
    finish_run(vm, unhandled);
    // The exit's position: what re-execution measures its progress by.
    crate::position::tell_host();
}

fn finish_run(vm: &VirtualMachine, unhandled: Option<&PyBaseExceptionRef>) {
    tracer::stop(vm);
    let Some(exc) = unhandled else {
        tracer::flush();
        return;
    };
    if exc.fast_isinstance(vm.ctx.exceptions.system_exit) {
        tracer::flush();
        return;
    }
    tracer::unhandled(exc, vm);
    tracer::flush();
    let capture = || -> PyResult<()> {
        let revdebug = vm.import("revdebug", 0)?;
        let capture = revdebug.get_attr("_capture", vm)?;
        let tb: PyObjectRef = match exc.__traceback__() {
            Some(tb) => tb.into(),
            None => vm.ctx.none(),
        };
        capture.call(
            (exc.clone(), tb, vm.ctx.new_str("unhandled"), vm.ctx.none()),
            vm,
        )?;
        Ok(())
    };
    if let Err(err) = capture() {
        // The capture itself failed: the host still has the input log and
        // the exit, so the run can be re-executed; say why on stderr.
        let message = err
            .as_object()
            .str(vm)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        eprintln!(
            "rewind: capturing the crash failed: {}: {message}",
            err.class().name()
        );
    }
}

#[rustpython_vm::pymodule]
pub mod _rewind {
    use rustpython_vm::builtins::PyStrRef;
    use rustpython_vm::{PyObjectRef, PyResult, VirtualMachine};

    use crate::host;
    use crate::tracer;

    /// `os._exit(n)`: ends the process with status `n` at once (no
    /// cleanup, no flush), as CPython's does, where RustPython's would end it
    /// with WASI 0.2's plain failure (1). The host still learns where.
    #[pyfunction]
    fn exit(code: i32) {
        tracer::flush();
        crate::position::tell_host();
        crate::exit(code.clamp(0, 255) as u32);
        std::process::exit(code)
    }

    #[pyfunction]
    fn get_mode() -> u8 {
        host::get_mode()
    }

    #[pyfunction]
    fn set_mode(mode: u8) -> u8 {
        tracer::flush();
        crate::position::tell_host();
        host::set_mode(mode)
    }

    #[pyfunction]
    fn max_mode() -> u8 {
        host::max_mode()
    }

    #[pyfunction]
    fn tracing() -> bool {
        host::tracing()
    }

    /// Turns the VM's tracing of the code that runs next on or off, and says
    /// whether it was on: a crash capture is not part of the program, and
    /// the `__repr__` methods it runs are not traced.
    #[pyfunction]
    fn set_traced(on: bool, vm: &VirtualMachine) -> bool {
        vm.use_tracing.replace(on)
    }

    #[pyfunction]
    fn snapshot(name: Option<PyStrRef>, all: bool) -> String {
        tracer::flush();
        crate::position::tell_host();
        let name = name.map(|name| name.to_string_lossy().into_owned());
        host::snapshot(name.as_deref(), all)
    }

    #[pyfunction]
    fn clear(all: bool, flush: bool) {
        tracer::flush();
        crate::position::tell_host();
        host::clear(all, flush)
    }

    #[pyfunction]
    fn flush() {
        tracer::flush();
        crate::position::tell_host();
        host::flush()
    }

    #[pyfunction]
    fn block(task: u64, clear: bool) -> u64 {
        tracer::flush();
        crate::position::tell_host();
        host::block(task, clear)
    }

    #[pyfunction]
    fn rule(target: PyStrRef, record: bool) {
        tracer::flush();
        crate::position::tell_host();
        host::rule(&target.to_string_lossy(), record)
    }

    /// Tells the host the position now: where a crash capture starts, which
    /// is the crash's position (the capture's own work comes after it).
    #[pyfunction]
    fn mark_position() {
        crate::position::tell_host();
    }

    /// Gives the Python code about to run a budget of `steps` positions
    /// (0: none); returns what was left of the one before. See
    /// [`crate::position::budget`].
    #[pyfunction]
    fn budget(steps: u64) -> u64 {
        crate::position::budget(steps)
    }

    /// Code already decided is decided again at its next call.
    #[pyfunction]
    fn rules_changed() {
        tracer::forget_decisions();
    }

    #[pyfunction]
    fn set_fast_repr(on: bool) {
        tracer::set_fast_repr(on);
    }

    #[pyfunction]
    fn set_stringifiers(any: bool) {
        tracer::set_stringifiers(any);
    }

    /// `crash(kind, (type, message) | None, [(function, file, line,
    /// [(name, value)])], [note])`, as `revdebug._capture` builds it.
    #[pyfunction]
    fn crash(
        kind: PyStrRef,
        exception: PyObjectRef,
        frames: PyObjectRef,
        notes: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<Option<String>> {
        let exception = match vm.is_none(&exception) {
            true => None,
            false => {
                let [type_name, message] = fields(&exception, vm)?;
                Some((type_name.try_into_value(vm)?, message.try_into_value(vm)?))
            }
        };
        let frames = vm.extract_elements_with(&frames, |frame| {
            let [function, file, line, locals] = fields(&frame, vm)?;
            Ok(host::Frame {
                function: function.try_into_value(vm)?,
                file: file.try_into_value(vm)?,
                line: line.try_into_value(vm)?,
                locals: vm.extract_elements_with(&locals, |pair| {
                    let [name, value] = fields(&pair, vm)?;
                    Ok((name.try_into_value(vm)?, value.try_into_value(vm)?))
                })?,
            })
        })?;
        let notes = vm.extract_elements_with(&notes, |note| note.try_into_value(vm))?;
        tracer::flush();
        Ok(host::crash(host::Crash {
            reported: kind.to_string_lossy() == "reported",
            exception,
            frames,
            notes,
        }))
    }

    /// The next HTTP request to serve, as a dict, or None when the server
    /// stops.
    #[pyfunction]
    fn next_request(vm: &VirtualMachine) -> PyResult<Option<PyObjectRef>> {
        tracer::flush();
        let Some(request) = host::next_request() else {
            return Ok(None);
        };
        let dict = vm.ctx.new_dict();
        let headers: Vec<PyObjectRef> = request
            .headers
            .into_iter()
            .map(|(name, value)| {
                vm.ctx
                    .new_tuple(vec![
                        vm.ctx.new_str(name).into(),
                        vm.ctx.new_str(value).into(),
                    ])
                    .into()
            })
            .collect();
        let items: [(&str, PyObjectRef); 10] = [
            ("id", vm.ctx.new_int(request.id).into()),
            ("method", vm.ctx.new_str(request.method).into()),
            ("path", vm.ctx.new_str(request.path).into()),
            ("query", vm.ctx.new_str(request.query).into()),
            ("headers", vm.ctx.new_list(headers).into()),
            ("body", vm.ctx.new_bytes(request.body).into()),
            ("remote_addr", vm.ctx.new_str(request.remote_addr).into()),
            ("remote_port", vm.ctx.new_int(request.remote_port).into()),
            ("server_name", vm.ctx.new_str(request.server_name).into()),
            ("server_port", vm.ctx.new_int(request.server_port).into()),
        ];
        for (key, value) in items {
            dict.set_item(key, value, vm)?;
        }
        Ok(Some(dict.into()))
    }

    /// Answers request `id`: `respond(id, status, [(name, value)], body)`.
    #[pyfunction]
    fn respond(
        id: u64,
        status: u16,
        headers: PyObjectRef,
        body: rustpython_vm::builtins::PyBytesRef,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        let headers = vm.extract_elements_with(&headers, |pair| {
            let [name, value] = fields(&pair, vm)?;
            Ok((name.try_into_value(vm)?, value.try_into_value(vm)?))
        })?;
        tracer::flush();
        host::respond(id, status, headers, body.as_bytes().to_vec());
        Ok(())
    }

    /// The `N` items of a tuple `revdebug` built.
    fn fields<const N: usize>(
        obj: &PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<[PyObjectRef; N]> {
        let items = vm.extract_elements_with(obj, Ok)?;
        <[PyObjectRef; N]>::try_from(items)
            .map_err(|items| vm.new_type_error(format!("expected {N} items, got {}", items.len())))
    }
}
