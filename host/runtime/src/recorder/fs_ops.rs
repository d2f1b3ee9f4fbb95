//! The filesystem calls the log keeps, as a contract between the two
//! directions of the WASI boundary: what [`hooks`](super::hooks) logs when
//! it records and what [`feed`](crate::replay) answers from the log when it
//! re-executes. A call is logged as an `fs` input named after its WASI
//! function (`stat-at`), with the guest path it concerns and its outcome in
//! the [`wire`] encoding.
//!
//! Most calls are *plain*: nothing but their outcome matters, so both
//! sides, and `rewind dump`'s reading of the outcome, are generated from
//! [`plain_fs_ops!`]. The others need more than an outcome (a descriptor
//! to hand out, data to feed, a stream to wrap) and are written out by hand
//! on each side; `special_fs_ops!` names them with the type of their
//! outcome.
//!
//! Both sides implement wasmtime-wasi's own generated `Host` traits, so the
//! compiler checks that every function of an interface is answered, and
//! the interface names and versions are wasmtime-wasi's own.

use wasmtime_wasi::p2::bindings::sync::filesystem::types as fs;
use wasmtime_wasi::p2::{FsError, FsResult};

use super::wire::{self, Wire};

/// A descriptor, as the generated traits take it.
pub(crate) type Fd = wasmtime::component::Resource<fs::Descriptor>;

/// The outcome of a call the guest may see fail.
pub(crate) type Outcome<T> = Result<T, fs::ErrorCode>;

/// Expands `$then!` with the table of plain filesystem calls, one row each:
///
/// `"name-in-the-log" method(arguments) @ path -> logged outcome;`
///
/// where the path is `fd` (the descriptor's own) or `fd / arg` (`arg`
/// relative to it), and the types are written with `fs`, `Fd` and
/// `Outcome` in scope. Adding a row changes what recordings contain: the
/// name and the outcome's type are part of the recording format.
macro_rules! plain_fs_ops {
    ($then:ident) => {
        $then! {
            "advise" advise(fd: Fd, offset: u64, len: u64, advice: fs::Advice) @ fd -> Outcome<()>;
            "sync-data" sync_data(fd: Fd) @ fd -> Outcome<()>;
            "get-flags" get_flags(fd: Fd) @ fd -> Outcome<fs::DescriptorFlags>;
            "get-type" get_type(fd: Fd) @ fd -> Outcome<fs::DescriptorType>;
            "set-size" set_size(fd: Fd, size: u64) @ fd -> Outcome<()>;
            "set-times" set_times(fd: Fd, atime: fs::NewTimestamp, mtime: fs::NewTimestamp) @ fd -> Outcome<()>;
            "write" write(fd: Fd, buffer: Vec<u8>, offset: u64) @ fd -> Outcome<u64>;
            "sync" sync(fd: Fd) @ fd -> Outcome<()>;
            "create-directory-at" create_directory_at(fd: Fd, path: String) @ fd / path -> Outcome<()>;
            "stat" stat(fd: Fd) @ fd -> Outcome<fs::DescriptorStat>;
            "stat-at" stat_at(fd: Fd, flags: fs::PathFlags, path: String) @ fd / path -> Outcome<fs::DescriptorStat>;
            "set-times-at" set_times_at(fd: Fd, flags: fs::PathFlags, path: String, atime: fs::NewTimestamp, mtime: fs::NewTimestamp) @ fd / path -> Outcome<()>;
            "link-at" link_at(fd: Fd, flags: fs::PathFlags, old: String, new_dir: Fd, new: String) @ fd / old -> Outcome<()>;
            "readlink-at" readlink_at(fd: Fd, path: String) @ fd / path -> Outcome<String>;
            "remove-directory-at" remove_directory_at(fd: Fd, path: String) @ fd / path -> Outcome<()>;
            "rename-at" rename_at(fd: Fd, old: String, new_dir: Fd, new: String) @ fd / old -> Outcome<()>;
            "symlink-at" symlink_at(fd: Fd, old: String, new: String) @ fd / new -> Outcome<()>;
            "unlink-file-at" unlink_file_at(fd: Fd, path: String) @ fd / path -> Outcome<()>;
            "is-same-object" is_same_object(fd: Fd, other: Fd) @ fd -> bool;
            "metadata-hash" metadata_hash(fd: Fd) @ fd -> Outcome<fs::MetadataHashValue>;
            "metadata-hash-at" metadata_hash_at(fd: Fd, flags: fs::PathFlags, path: String) @ fd / path -> Outcome<fs::MetadataHashValue>;
        }
    };
}
pub(crate) use plain_fs_ops;

/// The guest path a row of [`plain_fs_ops!`] concerns, from the store's
/// `Paths`.
macro_rules! fs_op_path {
    ($paths:expr, $fd:ident) => {
        $paths.get($fd.rep())
    };
    ($paths:expr, $fd:ident / $relative:ident) => {
        $paths.at($fd.rep(), &$relative)
    };
}
pub(crate) use fs_op_path;

/// Expands `$then!` with the other filesystem inputs, written out by hand
/// on each side, and the type of the outcome each logs (none for the end
/// of a stream a file was read through). `read` logs the data it got as a
/// file read, then this outcome.
macro_rules! special_fs_ops {
    ($then:ident) => {
        $then! {
            "get-directories" -> Vec<String>;
            "open-at" -> Outcome<()>;
            "read-via-stream" -> Outcome<()>;
            "write-via-stream" -> Outcome<()>;
            "append-via-stream" -> Outcome<()>;
            "read" -> Outcome<bool>;
            "read-directory" -> Outcome<()>;
            "read-directory-entry" -> Outcome<Option<fs::DirectoryEntry>>;
            "filesystem-error-code" -> Option<fs::ErrorCode>;
            "stream-closed";
            "stream-failed";
        }
    };
}

/// A logged outcome, and what the WASI method that has it returns.
pub(crate) trait Answer: Wire + Sized {
    /// The method's return type.
    type Returned;
    /// What the guest gets from `returned`; an `Err` traps it.
    fn of(returned: Self::Returned) -> wasmtime::Result<Self>;
    /// Back into the method's return type.
    fn returned(self) -> Self::Returned;
    /// A trap, as the method returns it.
    fn trap(err: wasmtime::Error) -> Self::Returned;
}

impl<T: Wire> Answer for Outcome<T> {
    type Returned = FsResult<T>;

    fn of(returned: FsResult<T>) -> wasmtime::Result<Outcome<T>> {
        match returned {
            Ok(value) => Ok(Ok(value)),
            Err(err) => Ok(Err(error_code(err)?)),
        }
    }

    fn returned(self) -> FsResult<T> {
        self.or_else(refused)
    }

    fn trap(err: wasmtime::Error) -> FsResult<T> {
        Err(FsError::trap(err))
    }
}

impl Answer for bool {
    type Returned = wasmtime::Result<bool>;

    fn of(returned: wasmtime::Result<bool>) -> wasmtime::Result<bool> {
        returned
    }

    fn returned(self) -> wasmtime::Result<bool> {
        Ok(self)
    }

    fn trap(err: wasmtime::Error) -> wasmtime::Result<bool> {
        Err(err)
    }
}

/// An error code the recorder answers a call with (one it logged, or one
/// it reads from the log): carried through the generated bindings as an
/// [`FsError`] and turned back into the code by [`error_code`].
#[derive(Debug)]
struct Answered(fs::ErrorCode);

impl std::fmt::Display for Answered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "filesystem error {:?}", self.0)
    }
}

impl std::error::Error for Answered {}

/// A call answered with an error code, as the generated traits return it.
pub(crate) fn refused<T>(code: fs::ErrorCode) -> FsResult<T> {
    Err(FsError::trap(Answered(code)))
}

/// The error code the guest gets for `err`: wasmtime-wasi's, or one the
/// recorder answered with. Anything else traps the guest.
pub(crate) fn error_code(err: FsError) -> wasmtime::Result<fs::ErrorCode> {
    match err.downcast() {
        Ok(code) => Ok(code.into()),
        Err(err) => match err.downcast::<Answered>() {
            Ok(Answered(code)) => Ok(code),
            Err(trap) => Err(trap),
        },
    }
}

/// The outcome of filesystem call `op`, in words (for `rewind dump`).
pub fn describe(op: &str, bytes: &[u8]) -> String {
    fn show<T: Wire + std::fmt::Debug>(bytes: &[u8]) -> String {
        match wire::decode::<T>(bytes) {
            Some(value) => format!("{value:?}"),
            None => format!("<malformed: {} bytes>", bytes.len()),
        }
    }
    macro_rules! shown {
        () => {
            String::new()
        };
        ($out:ty) => {
            show::<$out>(bytes)
        };
    }
    macro_rules! plain {
        ($($op:literal $method:ident ($($arg:ident: $ty:ty),*) @ $fd:ident $(/ $rel:ident)? -> $out:ty;)*) => {
            $(if op == $op {
                return show::<$out>(bytes);
            })*
        };
    }
    macro_rules! special {
        ($($op:literal $(-> $out:ty)?;)*) => {
            $(if op == $op {
                return shown!($($out)?);
            })*
        };
    }
    plain_fs_ops!(plain);
    special_fs_ops!(special);
    // A call this build does not know: most calls log success or an error.
    show::<Outcome<()>>(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! plain_names {
        ($($op:literal $method:ident ($($arg:ident: $ty:ty),*) @ $fd:ident $(/ $rel:ident)? -> $out:ty;)*) => {
            [$(($op, stringify!($method))),*]
        };
    }

    macro_rules! special_names {
        ($($op:literal $(-> $out:ty)?;)*) => {
            [$($op),*]
        };
    }

    #[test]
    fn a_plain_op_is_named_after_its_wasi_function() {
        let plain = plain_fs_ops!(plain_names);
        let special = special_fs_ops!(special_names);
        for (op, method) in plain {
            assert_eq!(op.replace('-', "_"), method);
            assert!(!special.contains(&op), "{op} is both plain and special");
        }
    }

    #[test]
    fn error_codes_survive_the_bindings() {
        let answered = Outcome::<()>::Err(fs::ErrorCode::NoEntry).returned();
        let code = error_code(answered.unwrap_err()).unwrap();
        assert!(matches!(code, fs::ErrorCode::NoEntry));
        let trap = Outcome::<()>::trap(wasmtime::format_err!("boom"));
        assert!(error_code(trap.unwrap_err()).is_err());
    }
}
