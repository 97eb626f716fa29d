//! `kh-bench island`: a call over an emulated island link (kh-netem: two
//! network namespaces joined by a userspace link with a rate, a delay and
//! loss), measuring goodput — the video that arrived whole at the
//! hospital — against the link's rate (target: at least 80 %), how long the
//! sender took to get there, and what the link itself carried in the same
//! window (the reference: goodput plus repairs, probes, audio and headers).
//!
//! The hospital (side A) runs the signalling server (over TLS, with a CA
//! made for the run) and a `kh call` that only listens; the island (side
//! B) sends the stamped test pattern with sensor-like grain, at the rate
//! congestion control finds. Needs root (network namespaces, TAP).

use crate::call_bench::{finish, peer, programs, start_signal};
use anyhow::{Context, Result, bail};
use kh_netem::{ADDRESS_A, ADDRESS_B, IslandLink, LinkShape};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct IslandBenchArgs {
    /// The link's rate, Mbit/s.
    #[arg(long, default_value_t = 20.0)]
    rate_mbit: f64,
    /// Round trip, ms.
    #[arg(long, default_value_t = 60)]
    rtt_ms: u64,
    /// Random loss each way, percent.
    #[arg(long, default_value_t = 1.0)]
    loss_percent: f64,
    /// The island's video, WIDTHxHEIGHT. At 960x540 one core of a build
    /// machine encodes 16 Mbit/s in real time; at 1080p that encoder, not
    /// the link, sets the rate.
    #[arg(long, default_value = "960x540")]
    size: String,
    /// Sensor-like noise on the pattern (± luma levels): a camera's
    /// picture, which costs bits at every rate.
    #[arg(long, default_value_t = 12)]
    grain: u8,
    /// vp8, vp9, h264 or h265.
    #[arg(long, default_value = "vp8")]
    codec: String,
    /// Send this recording (IVF, as coded) instead of encoding the pattern:
    /// the transport alone, without an encoder's CPU or rate control.
    #[arg(long)]
    recording: Option<PathBuf>,
    /// Where the estimate starts, kbit/s.
    #[arg(long, default_value_t = 2000)]
    start_kbps: u32,
    /// Length of the call, seconds.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Goodput is measured from this many seconds after connecting to the
    /// end (the ramp before it is reported on its own).
    #[arg(long, default_value_t = 10.0)]
    measure_from: f64,
    /// The signalling server binary (default: beside this one).
    #[arg(long)]
    signal: Option<PathBuf>,
    /// Also write the results here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The statistics a peer printed, each with when it was read.
type Timeline = Vec<(Instant, Value)>;

pub fn run(args: IslandBenchArgs) -> Result<()> {
    let (exe, signal) = programs(args.signal.as_deref())?;
    let rate_bps = args.rate_mbit * 1e6;
    let link = IslandLink::start(LinkShape::new(
        args.rate_mbit,
        args.rtt_ms,
        args.loss_percent,
    ))?;
    let dir = tempfile::tempdir()?;
    let ca = certificates(dir.path(), ADDRESS_A)?;
    let mut server_command = link.command_in_a(&signal);
    server_command
        .env("KAKEHASHI_SIGNAL_TLS_CERT", dir.path().join("server.pem"))
        .env("KAKEHASHI_SIGNAL_TLS_KEY", dir.path().join("server.key"));
    let (mut server, addr) = start_signal(server_command, &format!("{ADDRESS_A}:0"))?;
    let ws = format!("wss://{addr}/ws");
    let seconds = format!("{}", args.seconds);
    let common = ["--duration", &seconds, "--stats-every", "0.5"];
    let in_namespace = |mut command: Command| {
        command.env("SSL_CERT_FILE", &ca);
        command
    };
    let (sa, sb) = (
        dir.path().join("hospital.json"),
        dir.path().join("island.json"),
    );
    let calls = (|| -> Result<(Value, Value, Timeline, Timeline)> {
        let (hospital, hospital_lines) = peer(
            in_namespace(link.command_in_a(&exe)),
            &signal,
            &ws,
            "island-bench",
            ("specialist", ADDRESS_A),
            &sa,
            &[
                &common[..],
                &["--send", "none", "--tone", "440", "--no-decode"],
            ]
            .concat(),
        )?;
        let timeline = read_timeline(hospital_lines);
        let start_kbps = args.start_kbps.to_string();
        let grain = args.grain.to_string();
        let send = match &args.recording {
            Some(path) => path.display().to_string(),
            None => "testsrc".to_owned(),
        };
        let (island, island_lines) = peer(
            in_namespace(link.command_in_b(&exe)),
            &signal,
            &ws,
            "island-bench",
            ("presenter", ADDRESS_B),
            &sb,
            &[
                &common[..],
                &[
                    "--send",
                    &send,
                    "--size",
                    &args.size,
                    "--grain",
                    &grain,
                    "--codec",
                    &args.codec,
                ],
                &["--bitrate", &start_kbps, "--tone", "330"],
            ]
            .concat(),
        )?;
        let island_timeline = read_timeline(island_lines);
        let island = finish(island, &sb)?;
        let hospital_stats = finish(hospital, &sa)?;
        let timeline = timeline.recv().unwrap_or_default();
        let island_timeline = island_timeline.recv().unwrap_or_default();
        Ok((hospital_stats, island, timeline, island_timeline))
    })();
    let _ = server.kill();
    let _ = server.wait();
    let (hospital, island, timeline, island_timeline) = calls?;
    let carried = link.b_to_a();

    let num = |v: &Value, path: &str| path.split('.').fold(v, |v, k| &v[k]).as_f64();
    let connected_at = timeline
        .iter()
        .find(|(_, s)| s["state"] == "connected")
        .map(|(at, _)| *at)
        .context("the call never connected")?;
    let since = |at: Instant| at.saturating_duration_since(connected_at).as_secs_f64();
    // Goodput over the measuring window, and when a half second's goodput
    // first reached 80 % of the link.
    let window: Vec<&(Instant, Value)> = timeline
        .iter()
        .filter(|(at, _)| since(*at) >= args.measure_from)
        .collect();
    let (Some(first), Some(last)) = (window.first(), window.last()) else {
        bail!("no statistics after {} s", args.measure_from);
    };
    let video_bytes = |s: &Value| num(s, "video_in.bytes").unwrap_or(0.0);
    let span = last.0.duration_since(first.0).as_secs_f64();
    let goodput_bps = (video_bytes(&last.1) - video_bytes(&first.1)) * 8.0 / span.max(1e-9);
    let ramp = timeline.windows(2).find_map(|pair| {
        let secs = pair[1].0.duration_since(pair[0].0).as_secs_f64();
        let bps = (video_bytes(&pair[1].1) - video_bytes(&pair[0].1)) * 8.0 / secs.max(1e-9);
        (bps >= 0.8 * rate_bps).then(|| since(pair[1].0))
    });
    // Each second: the estimate, what the encoder was asked for, what
    // left the island, and the goodput that arrived.
    let per_second: Vec<Value> = island_timeline
        .iter()
        .step_by(2)
        .map(|(at, s)| {
            let arrived = timeline
                .windows(2)
                .find(|pair| pair[1].0 >= *at)
                .map(|pair| {
                    let secs = pair[1].0.duration_since(pair[0].0).as_secs_f64();
                    (video_bytes(&pair[1].1) - video_bytes(&pair[0].1)) * 8.0 / secs.max(1e-9) / 1e3
                });
            json!({
                "t": (since(*at) * 10.0).round() / 10.0,
                "estimate_kbps": num(s, "congestion.estimate_kbps").map(f64::round),
                "delay_based_kbps": num(s, "congestion.delay_based_kbps").map(f64::round),
                "loss_based_kbps": num(s, "congestion.loss_based_kbps").map(f64::round),
                "loss_percent": num(s, "congestion.loss_percent"),
                "encoder_kbps": num(s, "congestion.encoder_kbps"),
                "sent_kbps": num(s, "transport.bitrate_out_kbps").map(f64::round),
                "goodput_kbps": arrived.map(f64::round),
            })
        })
        .collect();
    let results = json!({
        "link": {
            "rate_mbit_s": args.rate_mbit,
            "rtt_ms": args.rtt_ms,
            "loss_percent": args.loss_percent,
            "carried_mbit_s_whole_call": carried.bytes_delivered as f64 * 8.0 / 1e6
                / args.seconds,
            "dropped_by_queue": carried.dropped_by_queue,
            "dropped_by_loss": carried.dropped_by_loss,
        },
        "size": args.size,
        "codec": args.codec,
        "measured_from_s": args.measure_from,
        "goodput_mbit_s": goodput_bps / 1e6,
        "goodput_vs_link": goodput_bps / rate_bps,
        "goodput_vs_target_80pct": goodput_bps / rate_bps / 0.8,
        "seconds_to_80pct_of_link": ramp,
        "estimate_kbps_at_end": num(&island, "congestion.estimate_kbps"),
        "probes": num(&island, "congestion.probes"),
        "repairs_sent": num(&island, "congestion.repairs_sent"),
        "rung_at_end": island["congestion"]["rung"],
        "received_fps": num(&hospital, "video_in.fps"),
        "frames_decoded": num(&hospital, "video_in.frames_decoded"),
        "frames_dropped": num(&hospital, "video_in.frames_dropped"),
        "glass_to_glass_ms_p50": num(&hospital, "video_in.latency_ms_p50"),
        "glass_to_glass_ms_p95": num(&hospital, "video_in.latency_ms_p95"),
        "audio_packets_received": num(&hospital, "audio.packets_received"),
        "per_second": per_second,
    });
    println!("{}", serde_json::to_string_pretty(&results)?);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Collect a peer's `stats` events until its output ends.
fn read_timeline(
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) -> mpsc::Receiver<Timeline> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut timeline = Timeline::new();
        for line in lines.map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["event"] == "stats"
            {
                timeline.push((Instant::now(), event["stats"].clone()));
            }
        }
        let _ = tx.send(timeline);
    });
    rx
}

/// A CA made for this run and a server certificate it signed for `ip`,
/// written to `dir` (ca.pem, server.pem, server.key); returns the CA's
/// path, for the peers' `SSL_CERT_FILE`.
fn certificates(dir: &Path, ip: &str) -> Result<PathBuf> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Kakehashi island-bench CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(vec![ip.to_owned()])?;
    server_params.use_authority_key_identifier_extension = true;
    let server = server_params.signed_by(&server_key, &issuer)?;
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem())?;
    std::fs::write(dir.join("server.pem"), server.pem())?;
    std::fs::write(dir.join("server.key"), server_key.serialize_pem())?;
    Ok(ca_path)
}
