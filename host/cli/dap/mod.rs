//! `rewind dap`: the time-travel debugger for editors, as a Debug Adapter
//! Protocol server on stdio (or on a loopback port with `--listen`).
//!
//! The transport is DAP's: each message a JSON body after a
//! `Content-Length` header. [`adapter`] answers the requests over a
//! debugger [`Session`](rewind_debugger::session::Session), the same one
//! `rewind replay` drives.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use serde_json::Value;

use crate::common::UsageError;

mod adapter;
mod launch;

/// Serve the time-travel debugger to an editor over the Debug Adapter
/// Protocol.
///
/// Reads DAP messages on stdin and answers on stdout (an editor starts
/// `rewind dap` as its debug adapter), or, with --listen, on a loopback TCP
/// port, one client at a time. `launch` opens a recording (`recording`: a
/// file, a collector's URL, or an id with `server`) or records a script
/// first (`program`, `args`, `cwd`), then the editor steps, continues and
/// runs to breakpoints in both directions, reads every frame's variables
/// and evaluates expressions in the past. docs/dap.md shows VS Code's and
/// nvim-dap's configurations.
#[derive(Debug, Args)]
pub struct DapArgs {
    /// Listen on ADDR (a loopback address, e.g. 127.0.0.1:4711) instead of
    /// using stdio.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// The Rewind binary that records a `program` (default: this one).
    #[arg(long, value_name = "PATH", hide = true)]
    rewind: Option<PathBuf>,
}

pub fn main(args: DapArgs) -> Result<ExitCode> {
    let rewind = match args.rewind {
        Some(path) => path,
        None => std::env::current_exe().context("finding the rewind binary")?,
    };
    let Some(addr) = args.listen else {
        let input = BufReader::new(std::io::stdin().lock());
        serve(input, std::io::stdout().lock(), &rewind)?;
        return Ok(ExitCode::SUCCESS);
    };
    if !addr.ip().is_loopback() {
        return Err(UsageError(format!(
            "--listen {addr}: the debug adapter listens on loopback only (127.0.0.1 or ::1); it has no authentication"
        ))
        .into());
    }
    let listener = TcpListener::bind(addr)
        .map_err(|err| UsageError(format!("cannot listen on {addr}: {err}")))?;
    let local = listener.local_addr()?;
    eprintln!("rewind: debug adapter listening on {local}");
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                eprintln!("rewind: a connection failed: {err}");
                continue;
            }
        };
        let input = BufReader::new(stream.try_clone()?);
        if let Err(err) = serve(input, stream, &rewind) {
            eprintln!("rewind: the client's session ended: {err:#}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One client's session, until it disconnects or its input ends.
fn serve(mut input: impl BufRead, output: impl Write, rewind: &std::path::Path) -> Result<()> {
    let mut adapter = adapter::Adapter::new(output, rewind.to_owned());
    while let Some(message) = read_message(&mut input)? {
        if !adapter.handle(message)? {
            break;
        }
    }
    Ok(())
}

/// The longest message body accepted: a client's requests are small.
const MAX_BODY: usize = 16 << 20;

/// The next message, or `None` at the end of the input.
fn read_message(input: &mut impl BufRead) -> Result<Option<Value>> {
    let mut length = None;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).context("reading a message")? == 0 {
            return Ok(None);
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            if length.is_none() {
                // Blank lines between messages are tolerated.
                continue;
            }
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            let value = value.trim();
            length = Some(value.parse::<usize>().map_err(|_| {
                anyhow::anyhow!("a message's Content-Length is not a number: {value:?}")
            })?);
        }
    }
    let length = length.unwrap_or(0);
    if length > MAX_BODY {
        anyhow::bail!("a message of {length} bytes is over the limit of {MAX_BODY}");
    }
    let mut body = vec![0; length];
    input
        .read_exact(&mut body)
        .context("reading a message's body")?;
    let message = serde_json::from_slice(&body).context("a message that is not JSON")?;
    Ok(Some(message))
}

/// Writes one message.
fn write_message(output: &mut impl Write, message: &Value) -> Result<()> {
    let body = serde_json::to_vec(message)?;
    write!(output, "Content-Length: {}\r\n\r\n", body.len())?;
    output.write_all(&body)?;
    output.flush().context("writing to the client")
}

#[cfg(test)]
mod tests {
    use super::read_message;

    #[test]
    fn messages_are_framed_by_their_length() {
        let text = "Content-Length: 13\r\n\r\n{\"seq\": 1}   \r\n\r\nContent-Length: 2\r\n\r\n{}";
        let mut input = std::io::Cursor::new(text.as_bytes().to_vec());
        assert_eq!(read_message(&mut input).unwrap().unwrap()["seq"], 1);
        assert!(read_message(&mut input).unwrap().unwrap().is_object());
        assert!(read_message(&mut input).unwrap().is_none());
        let mut bad = std::io::Cursor::new(b"Content-Length: x\r\n\r\n".to_vec());
        assert!(read_message(&mut bad).is_err());
        let mut huge = std::io::Cursor::new(b"Content-Length: 999999999\r\n\r\n".to_vec());
        assert!(read_message(&mut huge).is_err());
    }
}
