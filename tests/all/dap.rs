//! `rewind dap`: the Debug Adapter Protocol server driven over stdio by the
//! protocol's own client library (`@vscode/debugadapter-testsupport`, from
//! the npm registry), as an editor drives it (`tests/all/dap/session.mjs`).

use std::path::Path;
use std::process::Command;

use crate::recording::record;
use crate::{Scripts, shared_cache_dir};

/// The script the session debugs: line numbers matter in session.mjs.
const BANK: &str = r#"class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance

    def withdraw(self, amount):
        order = {"qty": amount, "who": self.owner}
        if amount > self.balance:
            raise ValueError(f"insufficient funds: {self.balance} < {amount}")
        self.balance -= amount
        return self.balance


def run(acct, amounts):
    for a in amounts:
        acct.withdraw(a)


print("args:", __import__("sys").argv[1:])
acct = Account("ann", 100)
run(acct, [10, 20, 30, 50])
"#;

#[test]
fn an_editor_debugs_a_recording_over_dap() {
    // The client library, installed by the README's test command.
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dap-client");
    assert!(
        client
            .join("node_modules/@vscode/debugadapter-testsupport")
            .exists(),
        "{} is missing: the README's test command installs it (npm install --prefix target/dap-client @vscode/debugadapter-testsupport@1.68.0)",
        client.display()
    );
    // Node resolves the package from the script's own directory.
    let session = client.join("session.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/all/dap/session.mjs"),
        &session,
    )
    .unwrap();

    let scripts = Scripts::new();
    let program = scripts.write("bank.py", BANK);
    let (ran, recordings) = record(&scripts, &["bank.py"], "");
    assert_eq!(ran.code, Some(1), "{ran:?}");
    let recording = recordings
        .into_iter()
        .find(|path| path.to_string_lossy().ends_with("-crash.rwd"))
        .expect("a crash recording");

    let output = Command::new("node")
        .arg(&session)
        .arg(env!("CARGO_BIN_EXE_rewind"))
        .arg(&recording)
        .arg(&program)
        .arg(&program)
        .env("REWIND_CACHE_DIR", shared_cache_dir())
        .env("REWIND_OUT", scripts.path("out"))
        // The CPython guest's tracer keeps values as their text only.
        .env(
            "REWIND_STRUCTURED_VALUES",
            if crate::guest() == crate::Guest::RustPython {
                "1"
            } else {
                "0"
            },
        )
        .output()
        .expect("running node (the README's test command installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("ok"),
        "the DAP session failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `--listen` serves one client at a time on a loopback port, and refuses
/// any other address.
#[test]
fn the_adapter_listens_on_loopback_only() {
    use std::io::{BufRead as _, BufReader, Write as _};

    let refused = crate::run(crate::rewind().args(["dap", "--listen", "0.0.0.0:0"]));
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("loopback only"), "{refused:?}");

    let mut adapter = crate::rewind()
        .args(["dap", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting rewind dap");
    let mut said = BufReader::new(adapter.stderr.take().unwrap());
    let mut line = String::new();
    said.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("rewind: debug adapter listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    for _ in 0..2 {
        // One client after the other.
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let response = initialize(&mut stream, &mut reader);
        assert_eq!(response["success"], true, "{response}");
        assert_eq!(response["body"]["supportsStepBack"], true, "{response}");
        let body = r#"{"seq":2,"type":"request","command":"disconnect"}"#;
        write!(stream, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    }
    adapter.kill().unwrap();
    adapter.wait().unwrap();
}

/// The VS Code extension of `examples/vscode-rewind`: its manifest
/// registers the `rewind` debug type with the launch arguments the adapter
/// reads, and its program starts `rewind dap` from the PATH.
#[test]
fn the_vscode_example_starts_the_adapter() {
    use std::io::BufReader;

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vscode-rewind");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    let debugger = &manifest["contributes"]["debuggers"][0];
    assert_eq!(debugger["type"], "rewind");
    let properties: Vec<&str> = debugger["configurationAttributes"]["launch"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let read_by_the_adapter = [
        "recording",
        "server",
        "token",
        "last",
        "out",
        "program",
        "args",
        "cwd",
        "python",
        "guest",
        "timeout",
    ];
    let mut sorted = properties.clone();
    sorted.sort_unstable();
    let mut expected = read_by_the_adapter.to_vec();
    expected.sort_unstable();
    assert_eq!(sorted, expected);

    // Its program, with rewind on the PATH, answers `initialize`.
    let program = dir.join(debugger["program"].as_str().unwrap());
    let bin = Path::new(env!("CARGO_BIN_EXE_rewind")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut adapter = Command::new(&program)
        .env("PATH", path)
        .env("REWIND_CACHE_DIR", shared_cache_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the extension's program runs");
    let mut stdin = adapter.stdin.take().unwrap();
    let mut reader = BufReader::new(adapter.stdout.take().unwrap());
    let response = initialize(&mut stdin, &mut reader);
    assert_eq!(response["body"]["supportsStepBack"], true, "{response}");
    drop(stdin);
    assert!(adapter.wait().unwrap().success());
}

/// Sends DAP's `initialize` on `to` and reads the response from `from`.
fn initialize(to: &mut impl std::io::Write, from: &mut impl std::io::BufRead) -> serde_json::Value {
    let body =
        r#"{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"rewind"}}"#;
    write!(to, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut header = String::new();
    from.read_line(&mut header).unwrap();
    let length: usize = header
        .trim()
        .strip_prefix("Content-Length: ")
        .unwrap()
        .parse()
        .unwrap();
    from.read_line(&mut String::new()).unwrap();
    let mut response = vec![0; length];
    from.read_exact(&mut response).unwrap();
    serde_json::from_slice(&response).unwrap()
}
