//! `kh-bench call`: the call's speed targets on loopback, with real
//! processes — a `kakehashi-signal` server and two `kh call` peers:
//! join to first decoded frame (target 500 ms), glass-to-glass latency
//! read from the stamps (target p95 80 ms at 1080p30) against the codec
//! floor measured in the same run (encode + decode of one frame, no
//! network), and `bulk` data-channel throughput (target 100 Mbit/s).

use anyhow::{Context, Result, bail};
use kh_media::pattern::TestPattern;
use kh_media::{EncoderConfig, VideoCodec, VideoDecoder, VideoEncoder};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[derive(clap::Args)]
pub struct CallBenchArgs {
    /// Video size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1920x1080")]
    size: String,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Codec both peers send: vp8, vp9, h264 or h265.
    #[arg(long, default_value = "vp8")]
    codec: String,
    /// Video bitrate each peer starts at, kbit/s (congestion control moves
    /// it from there).
    #[arg(long, default_value_t = 6000)]
    bitrate: u32,
    /// Length of the video call measured, in seconds.
    #[arg(long, default_value_t = 12.0)]
    seconds: f64,
    /// Length of the bulk-transfer call, in seconds (0: none).
    #[arg(long, default_value_t = 6.0)]
    bulk_seconds: f64,
    /// The signalling server binary (default: beside this one).
    #[arg(long)]
    signal: Option<PathBuf>,
    /// Also write the results here.
    #[arg(long)]
    json: Option<PathBuf>,
}

const SECRET: &str = "call-bench secret, only on loopback";

pub fn run(args: CallBenchArgs) -> Result<()> {
    let (width, height) = crate::parse_size("--size", &args.size)?;
    let (exe, signal) = programs(args.signal.as_deref())?;
    let codec = VideoCodec::from_name(&args.codec)
        .filter(|c| c.can_encode())
        .with_context(|| format!("--codec {}: vp8, vp9, h264 or h265", args.codec))?;
    let floor = codec_floor(codec, width, height, args.fps, args.bitrate)?;
    eprintln!("codec floor (encode + decode, one frame): median {floor:.2} ms");

    let (mut server, addr) = start_signal(Command::new(&signal), "127.0.0.1:0")?;
    let ws = format!("ws://{addr}/ws");
    let dir = tempfile::tempdir()?;
    let size = format!("{width}x{height}");
    let fps = args.fps.to_string();

    // The video call: B joins second, offers, and times join → first frame.
    let video = (|| -> Result<(Value, Value)> {
        let seconds = format!("{}", args.seconds);
        let bitrate = args.bitrate.to_string();
        let media = [
            "--size",
            &size,
            "--fps",
            &fps,
            "--duration",
            &seconds,
            "--bitrate",
            &bitrate,
            "--codec",
            &args.codec,
        ];
        let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
        let a = loopback_peer(&exe, &signal, &ws, "bench-video", "specialist", &sa, &media)?;
        let b = loopback_peer(&exe, &signal, &ws, "bench-video", "presenter", &sb, &media)?;
        Ok((finish(a, &sa)?, finish(b, &sb)?))
    })();
    // The bulk call: no media, the offerer fills `bulk` (0 s: skipped).
    let bulk = (|| -> Result<Option<Value>> {
        if args.bulk_seconds <= 0.0 {
            return Ok(None);
        }
        let seconds = format!("{}", args.bulk_seconds);
        let quiet = ["--send", "none", "--tone", "0", "--duration", &seconds];
        let (sa, sb) = (dir.path().join("c.json"), dir.path().join("d.json"));
        let a = loopback_peer(&exe, &signal, &ws, "bench-bulk", "specialist", &sa, &quiet)?;
        let b = loopback_peer(
            &exe,
            &signal,
            &ws,
            "bench-bulk",
            "presenter",
            &sb,
            &[&quiet[..], &["--bulk"]].concat(),
        )?;
        finish(b, &sb)?;
        finish(a, &sa).map(Some)
    })();
    let _ = server.kill();
    let _ = server.wait();
    let (a, b) = video?;
    let bulk = bulk?;

    let num =
        |v: &Value, path: &str| -> Option<f64> { path.split('.').fold(v, |v, k| &v[k]).as_f64() };
    let first_frame = num(&b, "first_frame_after_ms");
    let p95 = [
        num(&a, "video_in.latency_ms_p95"),
        num(&b, "video_in.latency_ms_p95"),
    ]
    .into_iter()
    .flatten()
    .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let p50 = num(&a, "video_in.latency_ms_p50");
    // Which codec implementation each side used: hardware paths fall back
    // to software with a reason, so a figure says what it measured.
    let path = |v: &Value, side: &str, name: &str| json!({"name": v[side][name], "hardware": v[side]["hardware"]});
    let encoders = [
        path(&a, "video_out", "encoder"),
        path(&b, "video_out", "encoder"),
    ];
    let decoders = [
        path(&a, "video_in", "decoder"),
        path(&b, "video_in", "decoder"),
    ];
    let mbit = bulk.as_ref().and_then(|b| num(b, "data.bulk_mbit_s"));
    let results = json!({
        "size": size,
        "fps": args.fps,
        "codec": codec.mime(),
        "bitrate_kbps": args.bitrate,
        "encoders": encoders,
        "decoders": decoders,
        "join_to_first_frame_ms": first_frame,
        "join_to_first_frame_vs_target_500ms": first_frame.map(|x| x / 500.0),
        "glass_to_glass_ms_p50": p50,
        "glass_to_glass_ms_p95": p95,
        "glass_to_glass_p95_vs_target_80ms": p95.map(|x| x / 80.0),
        "codec_floor_ms": floor,
        "glass_to_glass_p95_vs_codec_floor": p95.map(|x| x / floor),
        "received_fps": [num(&a, "video_in.fps"), num(&b, "video_in.fps")],
        "frames_decoded": [num(&a, "video_in.frames_decoded"), num(&b, "video_in.frames_decoded")],
        "counter_gaps": [num(&a, "video_in.counter_gaps"), num(&b, "video_in.counter_gaps")],
        "bulk_mbit_s": mbit,
        "bulk_vs_target_100mbit": mbit.map(|x| x / 100.0),
    });
    println!("{}", serde_json::to_string_pretty(&results)?);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Median time to encode and decode one frame of the test pattern.
fn codec_floor(codec: VideoCodec, width: u32, height: u32, fps: u32, kbps: u32) -> Result<f64> {
    let mut encoder = VideoEncoder::new(EncoderConfig {
        codec,
        width,
        height,
        fps,
        bitrate_kbps: kbps,
        threads: 2,
    })?;
    let mut decoder = VideoDecoder::new(codec, 2)?;
    let mut pattern = TestPattern::new(width, height);
    let mut times = Vec::new();
    for i in 0..90 {
        let frame = pattern.next_frame(0);
        let start = Instant::now();
        for packet in encoder.encode(&frame)? {
            decoder.decode(&packet.data)?;
        }
        if i >= 10 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    crate::samples::median(&mut times).context("no frames timed")
}

/// The `kh` beside this benchmark, and the signalling server binary:
/// `given`, or the one beside it too.
pub(crate) fn programs(given: Option<&Path>) -> Result<(PathBuf, PathBuf)> {
    let kh = crate::kh_beside()?;
    let signal = given.map_or_else(|| kh.with_file_name("kakehashi-signal"), Path::to_path_buf);
    if !signal.is_file() {
        bail!(
            "{}: build it (cargo build --release -p kakehashi-signal) or pass --signal",
            signal.display()
        );
    }
    Ok((kh, signal))
}

/// Start the signalling server as `command` (its binary, perhaps wrapped to
/// run in a namespace; TLS from the environment) listening on `listen`;
/// returns it and the address it took.
pub(crate) fn start_signal(mut command: Command, listen: &str) -> Result<(Child, String)> {
    let mut server = command
        .args(["serve", "--listen", listen, "--token-secret", SECRET])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the signalling server")?;
    let line = BufReader::new(server.stdout.take().context("server stdout")?)
        .lines()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    let Some(addr) = kakehashi_signal::address_from_listening_line(&line) else {
        let _ = server.kill();
        let _ = server.wait();
        bail!("the signalling server did not start: {line:?}");
    };
    Ok((server, addr.to_string()))
}

/// Start `kh call` as `command` (a path, or one wrapped to run in a
/// network namespace) in `room` with a token from `signal`, bound to
/// `bind`, writing its final statistics to `stats`; returns once it has
/// joined, with the rest of its output (JSON lines).
pub(crate) fn peer(
    mut command: Command,
    signal: &Path,
    ws: &str,
    room: &str,
    (role, bind): (&str, &str),
    stats: &Path,
    extra: &[&str],
) -> Result<(Child, std::io::Lines<BufReader<std::process::ChildStdout>>)> {
    let token = Command::new(signal)
        .args([
            "token",
            "--room",
            room,
            "--role",
            role,
            "--token-secret",
            SECRET,
        ])
        .output()
        .context("issuing a token")?;
    let token = String::from_utf8(token.stdout)?.trim().to_owned();
    let mut child = command
        .args(["call", "--server", ws, "--room", room, "--token", &token])
        .args(["--bind", bind, "--stats-json"])
        .arg(stats)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting kh call")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    if !first.contains("joined") {
        bail!("kh call did not join: {first}");
    }
    Ok((child, lines))
}

/// [`peer`] on loopback, its output ignored.
fn loopback_peer(
    exe: &Path,
    signal: &Path,
    ws: &str,
    room: &str,
    role: &str,
    stats: &Path,
    extra: &[&str],
) -> Result<Child> {
    let (child, lines) = peer(
        Command::new(exe),
        signal,
        ws,
        room,
        (role, "127.0.0.1"),
        stats,
        extra,
    )?;
    std::thread::spawn(move || for _ in lines {});
    Ok(child)
}

pub(crate) fn finish(mut child: Child, stats: &Path) -> Result<Value> {
    let status = child.wait()?;
    if !status.success() {
        bail!("kh call exited {status}");
    }
    Ok(serde_json::from_str(&std::fs::read_to_string(stats)?)?)
}
