//! Flags that several subcommands take, and the parsers that turn a flag's
//! text into a checked value. Every parser's error is a [`UsageError`]
//! naming the flag, so a bad command line gets one line and exit status 2.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use rewind_runtime::{DirGrant, Mode};

use super::status::{UsageError, io_message};

/// How to reach a collector (`rewind collect`): `run` sends recordings to
/// it, `replay` fetches one from it, `recordings` lists what it holds.
#[derive(Debug, Clone, Args)]
pub struct CollectorArgs {
    /// The collector at URL (`rewind collect`), e.g. http://127.0.0.1:7878.
    #[arg(long, value_name = "URL", env = "REWIND_SERVER")]
    pub server: Option<String>,

    /// The collector's token, when it requires one.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REWIND_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// A recording mode by its CLI name or RevDeBug's.
pub fn parse_mode(name: &str) -> Result<Mode, String> {
    match name.to_ascii_lowercase().as_str() {
        "off" => Ok(Mode::Off),
        "on-event" | "onevent" | "crash" => Ok(Mode::OnEvent),
        "continuous" | "live" => Ok(Mode::Continuous),
        _ => Err(format!(
            "{name:?} is not a recording mode (off, on-event, continuous)"
        )),
    }
}

/// Any size a flag may take.
pub const ANY_SIZE: RangeInclusive<u64> = 0..=u64::MAX;

/// What a guest's memory may be: wasm32 addresses 4 GiB.
pub const MEMORY: RangeInclusive<u64> = 16 << 20..=4 << 30;

/// The least memory the Python guest runs in: its pre-initialised
/// interpreter takes about 60 MiB before the script's first line (the
/// 32 MiB shadow stack included), so below this even `print(1)` would trip
/// the limit.
pub const PYTHON_MIN_MEMORY: u64 = 64 << 20;

/// Flag `flag`'s size (`512MiB`, `2GiB`, `1GB`), which must be in `range`.
pub fn parse_size(flag: &str, spec: &str, range: RangeInclusive<u64>) -> Result<u64> {
    // bytesize's own errors ("cannot parse float from empty string") do
    // not say what a size is.
    let size: bytesize::ByteSize = spec.trim().parse().map_err(|_| {
        UsageError(format!(
            "{flag}: {spec:?} is not a size; use a number with an optional unit, \
             like 512MiB or 2GiB"
        ))
    })?;
    let bytes = size.as_u64();
    if !range.contains(&bytes) {
        let must = match *range.end() {
            u64::MAX => format!("at least {}", size_text(*range.start())),
            end => format!(
                "between {} and {}",
                size_text(*range.start()),
                size_text(end)
            ),
        };
        return Err(UsageError(format!("{flag} {spec}: must be {must}")).into());
    }
    Ok(bytes)
}

/// A size as the flags take it, in the largest unit it is a whole number
/// of: `16MiB`, `4GiB`, `1500B`.
fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (bytes, "B");
    for next in UNITS {
        if value == 0 || !value.is_multiple_of(1024) {
            break;
        }
        value /= 1024;
        unit = next;
    }
    format!("{value}{unit}")
}

/// The Python guest's `--max-memory`: a size in [`MEMORY`], and at least
/// [`PYTHON_MIN_MEMORY`], which is said when it is less.
pub fn parse_python_memory(spec: &str) -> Result<u64> {
    if parse_size("--max-memory", spec, ANY_SIZE)? < PYTHON_MIN_MEMORY {
        return Err(UsageError(format!(
            "--max-memory {spec}: the Python guest needs at least {}",
            size_text(PYTHON_MIN_MEMORY)
        ))
        .into());
    }
    parse_size("--max-memory", spec, PYTHON_MIN_MEMORY..=*MEMORY.end())
}

/// The recording's byte budget for a guest of `max_memory`: what the guest
/// may make the host keep for it (the input log, markers, crash captures,
/// events), so that recording costs the host no more than the guest may
/// take (64 MiB at least, 1 GiB at most).
pub fn recording_budget(max_memory: u64) -> u64 {
    max_memory.clamp(64 << 20, 1 << 30)
}

/// Flag `flag`'s duration (`30s`, `5m`, `1h`), more than zero.
pub fn parse_duration(flag: &str, spec: &str) -> Result<Duration> {
    let duration = humantime::parse_duration(spec)
        .map_err(|err| UsageError(format!("{flag} {spec:?}: {err} (e.g. 30s, 5m)")))?;
    if duration.is_zero() {
        return Err(UsageError(format!("{flag} {spec}: must be more than zero")).into());
    }
    Ok(duration)
}

/// A time limit: a duration, or `none` for no limit.
pub fn parse_timeout(flag: &str, spec: &str) -> Result<Option<Duration>> {
    if spec == "none" {
        return Ok(None);
    }
    let timeout = humantime::parse_duration(spec)
        .map_err(|err| UsageError(format!("{flag} {spec:?}: {err} (e.g. 30s, 5m, none)")))?;
    if timeout.is_zero() {
        return Err(UsageError(format!("{flag} 0: use `none` for no limit")).into());
    }
    Ok(Some(timeout))
}

/// `--env KEY=VALUE`, or `--env KEY` for the value in rewind's own
/// environment.
pub fn parse_env(spec: &str) -> Result<(String, String)> {
    match spec.split_once('=') {
        Some(("", _)) => Err(UsageError(format!("--env {spec:?}: the name is empty")).into()),
        Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
        None => match std::env::var(spec) {
            Ok(value) => Ok((spec.to_owned(), value)),
            Err(_) => Err(UsageError(format!(
                "--env {spec}: not set in rewind's environment (use KEY=VALUE)"
            ))
            .into()),
        },
    }
}

/// `--dir HOST_DIR[::GUEST_DIR]` (`--dir-rw` when `writable`): a host
/// directory that exists, seen by the guest at GUEST_DIR or at the host
/// directory's absolute path.
fn parse_grant(spec: &str, writable: bool) -> Result<DirGrant> {
    let (host, guest) = match spec.split_once("::") {
        Some((host, guest)) => (host, Some(guest)),
        None => (spec, None),
    };
    let flag = if writable { "--dir-rw" } else { "--dir" };
    if host.is_empty() || guest.is_some_and(str::is_empty) {
        return Err(UsageError(format!("{flag} {spec:?}: expected HOST_DIR[::GUEST_DIR]")).into());
    }
    let host_path =
        std::path::absolute(host).map_err(|err| UsageError(format!("{flag} {host}: {err}")))?;
    match std::fs::metadata(&host_path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(UsageError(format!("{flag} {host}: not a directory")).into()),
        Err(err) => {
            return Err(UsageError(format!("{flag} {host}: {}", io_message(&err))).into());
        }
    }
    let guest = match guest {
        Some(guest) => guest.to_owned(),
        None => host_path
            .to_str()
            .ok_or_else(|| UsageError(format!("{flag} {host}: path is not valid UTF-8")))?
            .to_owned(),
    };
    Ok(DirGrant {
        host: host_path,
        guest,
        writable,
    })
}

/// The grants of `--dir` and `--dir-rw`, and then of the script's own
/// directory unless one of them shows it already (`script`: its absolute
/// path). Two grants at one guest path are refused, naming both: the guest
/// would see only one of them. The same grant twice is one grant.
/// The grants of --dir and --dir-rw, and the program's own directory
/// (`program_dir`: the script's, or the working directory for `-c` and the
/// like, with how messages name it), read-only, unless a grant already
/// shows it at its own path.
pub fn parse_grants(
    dirs: &[String],
    dirs_rw: &[String],
    program_dir: Option<(&Path, &str)>,
) -> Result<Vec<DirGrant>> {
    let mut named: Vec<(String, DirGrant)> = Vec::new();
    for (specs, writable, flag) in [(dirs, false, "--dir"), (dirs_rw, true, "--dir-rw")] {
        for spec in specs {
            let grant = parse_grant(spec, writable)?;
            add_grant(&mut named, format!("{flag} {spec}"), grant)?;
        }
    }
    if let Some((dir, what)) = program_dir {
        let grants: Vec<DirGrant> = named.iter().map(|(_, grant)| grant.clone()).collect();
        if let Some(grant) = program_dir_grant(dir, &grants) {
            let name = format!("{what} {}", grant.host.display());
            add_grant(&mut named, name, grant)?;
        }
    }
    Ok(named.into_iter().map(|(_, grant)| grant).collect())
}

fn add_grant(named: &mut Vec<(String, DirGrant)>, name: String, grant: DirGrant) -> Result<()> {
    // `/data/` and `/data` are one place for the guest.
    let place = |guest: &str| match guest.trim_end_matches('/') {
        "" => "/".to_owned(),
        trimmed => trimmed.to_owned(),
    };
    let here = place(&grant.guest);
    match named.iter().find(|(_, other)| place(&other.guest) == here) {
        Some((_, other)) if *other == grant => Ok(()),
        Some((other_name, _)) => Err(UsageError(format!(
            "{other_name} and {name} both grant the guest path {here}; \
             give each its own ::GUEST_DIR"
        ))
        .into()),
        None => {
            named.push((name, grant));
            Ok(())
        }
    }
}

/// Where the guest starts: the host's working directory `cwd` where a grant
/// shows it (the innermost grant that holds it), or `None` when no grant
/// holds it, and the guest starts at `/`: a host path outside the grants
/// is not the guest's business.
pub fn guest_cwd(cwd: &Path, grants: &[DirGrant]) -> Option<String> {
    let (grant, rest) = grants
        .iter()
        .filter_map(|grant| {
            // The working directory comes canonical from the OS; a grant
            // may have been named through a symbolic link.
            let host = grant
                .host
                .canonicalize()
                .unwrap_or_else(|_| grant.host.clone());
            let rest = cwd.strip_prefix(&host).ok()?;
            Some((grant, rest, host.components().count()))
        })
        .max_by_key(|(_, _, depth)| *depth)
        .map(|(grant, rest, _)| (grant, rest))?;
    let rest = rest.to_str()?;
    if rest.is_empty() {
        return Some(grant.guest.clone());
    }
    Some(format!("{}/{rest}", grant.guest.trim_end_matches('/')))
}

/// The grant that makes a script's own directory visible read-only at the
/// same path, unless one of `grants` already does.
fn program_dir_grant(dir: &Path, grants: &[DirGrant]) -> Option<DirGrant> {
    let covered = grants.iter().any(|grant| {
        dir.starts_with(&grant.host) && grant.host.as_os_str() == grant.guest.as_str()
    });
    if covered {
        return None;
    }
    Some(DirGrant {
        host: dir.to_owned(),
        guest: dir.to_string_lossy().into_owned(),
        writable: false,
    })
}

/// Refuses a first word of SCRIPT [ARGS] that is a flag: flags come before
/// the script, and clap, which leaves everything from the script on to the
/// script, hands over one it did not know as if it were the script.
/// `-` alone is a name, not a flag.
pub fn refuse_unknown_flag(first: Option<&std::ffi::OsStr>) -> Result<()> {
    let Some(first) = first.map(|first| first.to_string_lossy()) else {
        return Ok(());
    };
    if first.starts_with('-') && first != "-" {
        let flag = first.split_once('=').map_or(&*first, |(flag, _)| flag);
        return Err(UsageError(format!(
            "unexpected argument '{flag}' found (see `rewind run --help`)"
        ))
        .into());
    }
    Ok(())
}

/// The absolute path of a script the guest can open, checked on the host so
/// that a missing file gets python3's message before any work starts.
pub fn script_path(script: &str) -> Result<String> {
    let absolute = std::path::absolute(script).unwrap_or_else(|_| PathBuf::from(script));
    let cant_open = |err: std::io::Error| {
        let errno = err.raw_os_error().unwrap_or(2);
        let message = io_message(&std::io::Error::from_raw_os_error(errno));
        UsageError(format!(
            "can't open file {:?}: [Errno {errno}] {message}",
            absolute.display().to_string()
        ))
    };
    let metadata = std::fs::metadata(&absolute).map_err(cant_open)?;
    if metadata.is_dir() {
        return Err(cant_open(std::io::Error::from_raw_os_error(21)).into());
    }
    std::fs::File::open(&absolute).map_err(cant_open)?;
    // A script reached through a symlink runs from where it really is: the
    // sandbox does not follow links out of a granted directory.
    let is_link = std::fs::symlink_metadata(&absolute).is_ok_and(|m| m.file_type().is_symlink());
    let path = if is_link {
        absolute.canonicalize().map_err(cant_open)?
    } else {
        absolute
    };
    path.into_os_string()
        .into_string()
        .map_err(|path| UsageError(format!("script path is not valid UTF-8: {path:?}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let memory = |spec| parse_size("--max-memory", spec, MEMORY);
        assert_eq!(memory("512MiB").unwrap(), 512 << 20);
        assert_eq!(memory("2GiB").unwrap(), 2 << 30);
        let err = memory("1KiB").unwrap_err().to_string();
        assert_eq!(err, "--max-memory 1KiB: must be between 16MiB and 4GiB");
        assert!(memory("lots").is_err());
        let err = parse_size("--max-frame-size", "10", 1024..=u64::MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--max-frame-size 10: must be at least 1KiB"
        );
        assert_eq!(parse_size("--max-body", "0", ANY_SIZE).unwrap(), 0);
    }

    #[test]
    fn python_memory_has_a_floor() {
        assert_eq!(parse_python_memory("64MiB").unwrap(), 64 << 20);
        let err = parse_python_memory("16MiB").unwrap_err().to_string();
        assert_eq!(
            err,
            "--max-memory 16MiB: the Python guest needs at least 64MiB"
        );
        let err = parse_python_memory("abc").unwrap_err().to_string();
        assert_eq!(
            err,
            "--max-memory: \"abc\" is not a size; use a number with an optional unit, like 512MiB or 2GiB"
        );
    }

    #[test]
    fn flags_before_the_script() {
        let check =
            |first: &str| refuse_unknown_flag(Some(first.as_ref())).map_err(|e| e.to_string());
        assert_eq!(
            check("--bogus=1"),
            Err("unexpected argument '--bogus' found (see `rewind run --help`)".into())
        );
        assert!(check("x.py").is_ok());
        assert!(check("-").is_ok());
        assert!(refuse_unknown_flag(None).is_ok());
    }

    #[test]
    fn one_guest_path_one_grant() {
        let dir = std::env::temp_dir();
        let dir = dir.to_str().unwrap();
        let a = format!("{dir}::/data");
        let b = format!("{dir}::/data/");
        let err =
            parse_grants(std::slice::from_ref(&a), std::slice::from_ref(&b), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "--dir {a} and --dir-rw {b} both grant the guest path /data; give each its own ::GUEST_DIR"
            )
        );
        let twice = parse_grants(&[a.clone(), a.clone()], &[], None).unwrap();
        assert_eq!(twice.len(), 1);
        let other = format!("{dir}::/other");
        assert_eq!(parse_grants(&[a, other], &[], None).unwrap().len(), 2);
    }

    #[test]
    fn the_working_directory_through_the_grants() {
        let grant = |host: &str, guest: &str| DirGrant {
            host: host.into(),
            guest: guest.into(),
            writable: false,
        };
        let grants = [
            grant("/nonexistent/app", "/app"),
            grant("/nonexistent/app/data", "/data"),
        ];
        let cwd = |dir: &str| guest_cwd(Path::new(dir), &grants);
        assert_eq!(cwd("/nonexistent/app").as_deref(), Some("/app"));
        assert_eq!(
            cwd("/nonexistent/app/src/lib").as_deref(),
            Some("/app/src/lib")
        );
        assert_eq!(cwd("/nonexistent/app/data/x").as_deref(), Some("/data/x"));
        assert_eq!(cwd("/nonexistent/application"), None);
        assert_eq!(cwd("/home"), None);
    }

    #[test]
    fn durations_and_timeouts() {
        let timeout = |spec| parse_timeout("--timeout", spec);
        assert_eq!(timeout("30s").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(timeout("none").unwrap(), None);
        assert!(timeout("0s").is_err());
        assert!(timeout("soon").is_err());
        assert_eq!(
            parse_duration("--server-wait", "10s").unwrap(),
            Duration::from_secs(10)
        );
        assert!(parse_duration("--request-timeout", "0s").is_err());
        assert!(parse_duration("--request-timeout", "soon").is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("Crash"), Ok(Mode::OnEvent));
        assert_eq!(parse_mode("live"), Ok(Mode::Continuous));
        assert!(parse_mode("sometimes").is_err());
    }

    #[test]
    fn env_specs() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_env("A=").unwrap(), ("A".into(), "".into()));
        assert!(parse_env("=x").is_err());
    }

    #[test]
    fn grant_specs() {
        let dir = std::env::temp_dir();
        let grant = parse_grant(&format!("{}::/data", dir.display()), true).unwrap();
        assert_eq!(grant.guest, "/data");
        assert!(grant.writable);
        let grant = parse_grant(dir.to_str().unwrap(), false).unwrap();
        assert_eq!(
            grant.guest,
            std::path::absolute(&dir).unwrap().to_str().unwrap()
        );
        assert!(parse_grant("/no/such/dir", false).is_err());
        assert!(parse_grant("::/x", false).is_err());
        assert!(parse_grant(&format!("{}::", dir.display()), false).is_err());
    }

    #[test]
    fn a_script_directory_is_granted_once() {
        let grants = [DirGrant {
            host: "/app".into(),
            guest: "/app".into(),
            writable: false,
        }];
        assert!(program_dir_grant(Path::new("/app/lib"), &grants).is_none());
        let grant = program_dir_grant(Path::new("/srv"), &grants).unwrap();
        assert_eq!(
            (grant.host.to_str(), grant.guest.as_str()),
            (Some("/srv"), "/srv")
        );
        assert!(!grant.writable);
    }
}
