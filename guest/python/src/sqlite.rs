//! SQLite's random numbers from `wasi:random`.
//!
//! SQLite seeds its generator (`random()`, `randomblob()`, temporary names)
//! once, from its VFS's `xRandomness`. The unix VFS reads `/dev/urandom`,
//! which WASI does not have, and falls back to the current second: two runs
//! within a second would draw the same `randomblob(16)`. So the default VFS
//! draws from `wasi:random` instead, which the host records like every
//! other random input, and re-execution replays.

use core::ffi::{c_char, c_int};

use libsqlite3_sys as ffi;

/// Points the default VFS's `xRandomness` at `wasi:random`. Done while the
/// interpreter is built, before any connection, so the pre-initialised
/// snapshot holds it; SQLite seeds itself later, on first use.
pub fn use_wasi_random() {
    // SAFETY: `sqlite3_vfs_find` initialises SQLite and returns its
    // registered default VFS, a static that lives as long as the process;
    // the guest runs one thread and no connection exists yet.
    unsafe {
        let vfs = ffi::sqlite3_vfs_find(core::ptr::null());
        if let Some(vfs) = vfs.as_mut() {
            vfs.xRandomness = Some(randomness);
        }
    }
}

/// `xRandomness`: fills `len` bytes at `out` and says how many it filled.
unsafe extern "C" fn randomness(
    _vfs: *mut ffi::sqlite3_vfs,
    len: c_int,
    out: *mut c_char,
) -> c_int {
    let Ok(wanted) = usize::try_from(len) else {
        return 0;
    };
    if out.is_null() || wanted == 0 {
        return 0;
    }
    let bytes = wasip2::random::random::get_random_bytes(wanted as u64);
    let filled = bytes.len().min(wanted);
    // SAFETY: SQLite hands a buffer of `len` bytes, and `filled <= len`.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), filled) };
    // `filled <= len`, which is a c_int.
    filled as c_int
}
