//! `kh-bench`: the speed targets of every part, each measured against a
//! reference in the same run (never asserted in tests: the machines are
//! shared and noisy). `cargo xtask bench` runs them all. Not shipped: the
//! package installs `kh` and the console; this binary, and the island-link
//! emulator it links, stay in the build tree.

mod annotations_bench;
mod call_bench;
mod island_bench;
mod overlay_bench;
mod render_bench;
mod replay_bench;
mod samples;
mod signal_bench;
mod slide_bench;
mod workstation_bench;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "kh-bench", version, about = "Kakehashi benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read random regions of a slide and print regions/s and megapixels/s
    /// as one JSON line.
    Slide(slide_bench::BenchArgs),
    /// The renderer's speed targets: open to a complete full-resolution
    /// view against the decode floor, CPU time per frame, and a scripted
    /// pan logging GPU memory against the budget.
    Render(render_bench::RenderBenchArgs),
    /// The call's speed targets on loopback: join to first frame,
    /// glass-to-glass latency against the codec floor, bulk throughput.
    Call(call_bench::CallBenchArgs),
    /// A call over an emulated island link (root: network namespaces):
    /// goodput against the link's rate, and the ramp to it.
    Island(island_bench::IslandBenchArgs),
    /// An 8K-rate recorded stream (VP9, sent as coded) between two peers
    /// on loopback: RTP loss with Kakehashi's transport and with
    /// webrtc-rs's defaults, in the same run.
    Replay(replay_bench::ReplayBenchArgs),
    /// The workstation's speed targets: a case's slide opened through the
    /// console against the standalone viewer, and (with --app) the
    /// application's start to an interactive console.
    Workstation(workstation_bench::WorkstationBenchArgs),
    /// The signalling server under load (N rooms of M peers held) and under
    /// the attack mix: join latency, memory per room, CPU, and legitimate
    /// joins under attack against the 1 s target.
    Signal(signal_bench::SignalBenchArgs),
    /// The annotation targets: a million-detection QuPath GeoJSON read,
    /// indexed and tessellated against orjson's parse of it; the overlay's
    /// first 4K frame and CPU time per frame at several zooms.
    Annotations(annotations_bench::AnnotationsBenchArgs),
    /// The overlay's frame rate with a million detections (made here) over
    /// a slide, at 4K by default: the GPU check's figure (target 120 fps).
    Overlay(overlay_bench::OverlayBenchArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Slide(args) => slide_bench::run(args),
        Command::Render(args) => render_bench::run(args),
        Command::Call(args) => call_bench::run(args),
        Command::Island(args) => island_bench::run(args),
        Command::Replay(args) => replay_bench::run(args),
        Command::Workstation(args) => workstation_bench::run(args),
        Command::Signal(args) => signal_bench::run(args),
        Command::Annotations(args) => annotations_bench::run(args),
        Command::Overlay(args) => overlay_bench::run(args),
    };
    if let Err(e) = result {
        eprintln!("kh-bench: error: {e:#}");
        std::process::exit(1);
    }
}

/// The `kh` the benchmarks run (calls, the viewer): the one built beside
/// this binary.
fn kh_beside() -> Result<PathBuf> {
    let kh = std::env::current_exe()
        .context("locating kh-bench")?
        .with_file_name(format!("kh{}", std::env::consts::EXE_SUFFIX));
    if !kh.is_file() {
        bail!(
            "{}: build it beside kh-bench (cargo build --release -p kh-cli)",
            kh.display()
        );
    }
    Ok(kh)
}

/// A `WIDTHxHEIGHT` argument, both at least 1.
fn parse_size(flag: &str, size: &str) -> Result<(u32, u32)> {
    match size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
    {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => bail!("{flag} {size:?}: expected WIDTHxHEIGHT"),
    }
}
