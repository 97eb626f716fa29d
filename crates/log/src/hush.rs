//! C libraries that probe devices print to the process's stderr — ALSA and
//! JACK about every sound device a machine lacks (~40 lines on a server),
//! Mesa about a missing `XDG_RUNTIME_DIR` — which buries what `kh doctor`
//! and `kh call` mean to say. `hushed` runs such a probe with stderr
//! captured and writes what was said to the log at debug level
//! (`RUST_LOG=debug` shows it), so nothing is lost.

use std::io::Read;

/// Runs `probe` with the process's stderr captured; `what` names the probe
/// in the log. Where stderr cannot be captured (another capture is under
/// way), the probe runs as it is.
pub fn hushed<T>(what: &str, probe: impl FnOnce() -> T) -> T {
    let Ok(mut capture) = gag::BufferRedirect::stderr() else {
        return probe();
    };
    let result = probe();
    let mut said = String::new();
    let _ = capture.read_to_string(&mut said);
    drop(capture);
    for line in said.lines().filter(|l| !l.trim().is_empty()) {
        tracing::debug!(target: "kh::libraries", "{what}: {line}");
    }
    result
}
