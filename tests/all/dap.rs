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
        .output()
        .expect("running node (the README's test command installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("ok"),
        "the DAP session failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
