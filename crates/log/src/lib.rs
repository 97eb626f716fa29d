//! One log setup for Kakehashi's processes (the console, `kh` and the
//! viewer it runs as): `tracing` to stderr, filtered by `RUST_LOG`, every
//! line — and every panic message — scrubbed of the patient data the
//! process has been handed ([`redact`]). The viewer inherits the console's
//! stderr, so both end in the same log; neither may name a patient in it.

mod hush;
pub mod redact;

pub use hush::hushed;

pub use redact::{remember, remember_name, remember_path, scrub, tag};

use std::io::Write;

/// What is logged when `RUST_LOG` is unset: errors, except wgpu's OpenGL
/// backend, which reports a failed probe ("eglInitialize … failed to load
/// driver", on every machine without a GL driver) as an error although
/// Vulkan draws; a machine without any adapter is told so by the renderer.
const DEFAULT_FILTER: &str = "error,wgpu_hal::gles=off";

/// Installs the subscriber (stderr, `RUST_LOG`, [`DEFAULT_FILTER`] when
/// unset) and the panic hook. Call once, first thing in `main`.
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(env_filter(DEFAULT_FILTER))
        .with_writer(|| ScrubbedStderr)
        .init();
    scrub_panics();
}

/// Libraries whose TRACE and DEBUG lines carry what goes over the wire:
/// WebSocket frames (join messages with their tokens, chat, display
/// names), HTTP headers (the token API's key). Measured: at
/// `RUST_LOG=trace` tungstenite logs every frame's payload as text and hex.
const WIRE_LIBRARIES: [&str; 5] = [
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
];

/// `RUST_LOG`'s filter (`default` when unset or unreadable), with the
/// [`WIRE_LIBRARIES`] held at INFO whatever it says: turning the log up to
/// find a fault must not turn message contents into log lines.
pub fn env_filter(default: &str) -> tracing_subscriber::EnvFilter {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    for library in WIRE_LIBRARIES {
        if let Ok(ceiling) = format!("{library}=info").parse() {
            filter = filter.add_directive(ceiling);
        }
    }
    filter
}

/// Writes what it is given to stderr once scrubbed. `tracing-subscriber`
/// formats a whole event into one buffer and writes it at once, so a name
/// is never split across two writes.
struct ScrubbedStderr;

impl Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr()
            .lock()
            .write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A panic's message often quotes what it failed on; the default hook would
/// print it as it is.
fn scrub_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".into());
        let place = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        let _ = writeln!(
            std::io::stderr().lock(),
            "thread '{name}' panicked at {place}:\n{}{backtrace}",
            scrub(&message)
        );
    }));
}
