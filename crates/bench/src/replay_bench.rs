//! `kh-bench replay`: an 8K-rate stream between two `kh call` peers on
//! loopback, without the CPU to encode or decode it: a recorded VP9
//! stream (IVF, made once by this command from the stamped test pattern
//! and kept) is sent as coded at its own rate, and the receiver counts
//! frames as they arrive whole without decoding them (as the console does,
//! handing them to the viewer). Measured: RTP loss on the video stream
//! (target: at most 0.1 %) with Kakehashi's transport, and the same call
//! with webrtc-rs's defaults in the same run (the reference: no pacer, its
//! NACK responder, the kernel's default UDP buffers).

use crate::call_bench::{finish, peer, programs, start_signal};
use anyhow::{Context, Result};
use kh_media::ivf::{IvfHeader, IvfWriter};
use kh_media::pattern::TestPattern;
use kh_media::{EncoderConfig, VideoCodec, VideoEncoder};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args)]
pub struct ReplayBenchArgs {
    /// The recording to send; made here (VP9, the stamped test pattern)
    /// when the file does not exist.
    #[arg(long, default_value = "target/bench/replay_8k_vp9.ivf")]
    recording: PathBuf,
    /// When making the recording: its size, frame rate, length and rate.
    #[arg(long, default_value = "7680x4320")]
    size: String,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    #[arg(long, default_value_t = 4.0)]
    recording_seconds: f64,
    #[arg(long, default_value_t = 40_000)]
    bitrate_kbps: u32,
    /// Length of each call, seconds.
    #[arg(long, default_value_t = 15.0)]
    seconds: f64,
    /// The signalling server binary (default: beside this one).
    #[arg(long)]
    signal: Option<PathBuf>,
    /// Also write the results here.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: ReplayBenchArgs) -> Result<()> {
    let (exe, signal) = programs(args.signal.as_deref())?;
    if !args.recording.is_file() {
        make_recording(&args)?;
    }
    let recording = std::fs::metadata(&args.recording)?;
    let (mut server, addr) = start_signal(Command::new(&signal), "127.0.0.1:0")?;
    let ws = format!("ws://{addr}/ws");
    let runs = (|| -> Result<(Value, Value)> {
        let ours = call(&exe, &signal, &ws, &args, "ours", &[])?;
        let defaults = call(
            &exe,
            &signal,
            &ws,
            &args,
            "defaults",
            &["--library-defaults"],
        )?;
        Ok((ours, defaults))
    })();
    let _ = server.kill();
    let _ = server.wait();
    let (ours, defaults) = runs?;
    let results = json!({
        "recording": args.recording.display().to_string(),
        "recording_mbit_s": ours["sent_mbit_s"],
        "recording_bytes": recording.len(),
        "kakehashi": ours,
        "webrtc_rs_defaults": defaults,
        "loss_vs_target_0_1pct": ours["rtp_loss_percent"].as_f64().map(|l| l / 0.1),
    });
    println!("{}", serde_json::to_string_pretty(&results)?);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One call: the recording one way, frames counted on arrival.
fn call(
    exe: &Path,
    signal: &Path,
    ws: &str,
    args: &ReplayBenchArgs,
    name: &str,
    both: &[&str],
) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let seconds = args.seconds.to_string();
    let bitrate = args.bitrate_kbps.to_string();
    let recording = args.recording.display().to_string();
    let room = format!("replay-{name}");
    let common = [&["--duration", &seconds, "--tone", "0"][..], both].concat();
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let (receiver, lines) = peer(
        Command::new(exe),
        signal,
        ws,
        &room,
        ("specialist", "127.0.0.1"),
        &sa,
        &[&common[..], &["--send", "none", "--no-decode"]].concat(),
    )?;
    std::thread::spawn(move || for _ in lines {});
    let (sender, lines) = peer(
        Command::new(exe),
        signal,
        ws,
        &room,
        ("presenter", "127.0.0.1"),
        &sb,
        &[
            &common[..],
            &["--send", &recording, "--bitrate", &bitrate],
            &["--max-bitrate", "200000"],
        ]
        .concat(),
    )?;
    std::thread::spawn(move || for _ in lines {});
    let sent = finish(sender, &sb)?;
    let received = finish(receiver, &sa)?;
    let num = |v: &Value, path: &str| path.split('.').fold(v, |v, k| &v[k]).as_f64();
    let got = num(&received, "transport.video_packets_received").unwrap_or(0.0);
    let lost = num(&received, "transport.video_packets_lost")
        .unwrap_or(0.0)
        .max(0.0);
    let loss = (got + lost > 0.0).then(|| lost / (got + lost) * 100.0);
    let sent_frames = num(&sent, "video_out.frames_encoded").unwrap_or(0.0);
    let whole = num(&received, "video_in.frames_forwarded").unwrap_or(0.0);
    Ok(json!({
        "rtp_packets_received": got,
        "rtp_packets_lost": lost,
        "rtp_loss_percent": loss,
        "frames_sent": sent_frames,
        "frames_arrived_whole": whole,
        "frames_given_up": num(&received, "video_in.frames_dropped"),
        "sent_mbit_s": num(&sent, "video_out.bytes").map(|b| b * 8.0 / 1e6 / args.seconds),
        "goodput_mbit_s": num(&received, "video_in.bytes").map(|b| b * 8.0 / 1e6 / args.seconds),
        "repairs_sent": num(&sent, "congestion.repairs_sent"),
        "udp_receive_buffer_bytes": num(&received, "congestion.udp_receive_buffer_bytes"),
        "peak_memory_mib": [num(&sent, "peak_memory_mib"), num(&received, "peak_memory_mib")],
    }))
}

/// Encode the stamped test pattern (with a little grain, as a camera
/// would) into an IVF recording, on every core.
fn make_recording(args: &ReplayBenchArgs) -> Result<()> {
    let (width, height) = crate::parse_size("--size", &args.size)?;
    let frames = (args.recording_seconds * f64::from(args.fps)).round() as u64;
    eprintln!(
        "making {} ({width}x{height} VP9, {frames} frames at {} kbit/s)...",
        args.recording.display(),
        args.bitrate_kbps
    );
    let started = std::time::Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    let mut encoder = VideoEncoder::new(EncoderConfig {
        codec: VideoCodec::Vp9,
        width,
        height,
        fps: args.fps,
        bitrate_kbps: args.bitrate_kbps,
        threads,
    })?;
    let mut pattern = TestPattern::new(width, height).with_grain(4);
    if let Some(dir) = args.recording.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Written beside and renamed: a half-made recording is never used.
    let partial = args.recording.with_extension("ivf.partial");
    let mut writer = IvfWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&partial)?),
        IvfHeader {
            codec: VideoCodec::Vp9,
            width: u16::try_from(width).context("--size: at most 65535 wide")?,
            height: u16::try_from(height).context("--size: at most 65535 high")?,
            timebase_num: 1,
            timebase_den: args.fps,
            frames: frames as u32,
        },
    )?;
    for n in 0..frames {
        let frame = pattern.next_frame(n * 1000 / u64::from(args.fps.max(1)));
        for packet in encoder.encode(&frame)? {
            writer.write(n, &packet.data)?;
        }
    }
    writer.finish()?;
    std::fs::rename(&partial, &args.recording)?;
    eprintln!("made in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
