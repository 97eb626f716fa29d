//! What the signalling server's process tests share: starting the real
//! binary on a config and learning the address it listens on.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_kakehashi-signal");

/// `kakehashi-signal serve --config CONFIG` (the environment's token secret
/// removed, so the config's applies), and the `host:port` its first line
/// says it listens on.
// Each test binary compiles this module; not every one calls both.
#[allow(dead_code)]
pub fn serve(config: &Path, stderr: Stdio) -> (Child, String) {
    serve_with(config, stderr, |_| {})
}

/// [`serve`], with the command adjusted first (its log level, say).
pub fn serve_with(
    config: &Path,
    stderr: Stdio,
    adjust: impl FnOnce(&mut Command),
) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--config"])
        .arg(config)
        .env_remove("KAKEHASHI_SIGNAL_TOKEN_SECRET")
        .stdout(Stdio::piped())
        .stderr(stderr);
    adjust(&mut command);
    let mut child = command.spawn().expect("kakehashi-signal");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server prints its address");
    let addr = kakehashi_signal::address_from_listening_line(&line)
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}
