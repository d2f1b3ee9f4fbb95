//! What the guest adds to RustPython's standard library for WASI
//! (`platform.py`): the names CPython's WASI build has and RustPython's
//! lacks, and asyncio's event loop without a self-pipe. Installed at
//! pre-initialisation, so every run starts with it.

use rustpython_vm::{PyResult, VirtualMachine};

const SOURCE: &str = include_str!("platform.py");

/// Compiles `platform.py` as the module `_rewind_platform` and runs its
/// `install`.
pub fn install(vm: &VirtualMachine) -> PyResult<()> {
    let code = vm
        .compile_with_opts(
            SOURCE,
            rustpython_vm::compiler::Mode::Exec,
            "<_rewind_platform>".to_owned(),
            vm.compile_opts(),
        )
        .map_err(|err| err.into_pyexception(vm, Some(SOURCE)))?;
    let module = rustpython_vm::import::import_code_obj(vm, "_rewind_platform", code, false)?;
    module.get_attr("install", vm)?.call((), vm)?;
    Ok(())
}
