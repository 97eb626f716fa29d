//! Two `kh call` processes meet through a real signalling server on
//! loopback and exchange video, audio and data both ways. The stamps
//! burned into the test pattern prove order and give latency; the tones
//! prove audio crossed in each direction.

mod call_common;

use call_common::{f, finish_both, finish_one, kh_call, server_with, token, ws_url};
use kakehashi_signal::{Role, Server};
use kh_media::stamp;
use kh_media::y4m::Y4mReader;
use serde_json::Value;
use std::io::BufReader;
use std::path::Path;
use std::process::{Child, Command};

async fn server() -> Server {
    server_with(|_| {}).await
}

/// `kh call` at a small size, so four processes share two cores.
fn peer(server: &Server, room: &str, role: Role, stats: &Path, extra: &[&str]) -> Child {
    let small = ["--size", "320x240", "--fps", "15"];
    kh_call(
        &ws_url(server),
        room,
        role,
        stats,
        &[&small[..], extra].concat(),
    )
}

/// What every good direction of a call shows.
fn assert_received(name: &str, s: &Value, tone_heard: f64) {
    assert!(f(s, "video_in.frames_decoded") >= 20.0, "{name}: {s}");
    assert_eq!(
        f(s, "video_in.stamps_read"),
        f(s, "video_in.frames_decoded"),
        "{name}: every decoded frame carries its stamp: {s}"
    );
    assert_eq!(f(s, "video_in.out_of_order"), 0.0, "{name}: {s}");
    let p50 = f(s, "video_in.latency_ms_p50");
    assert!((0.0..5000.0).contains(&p50), "{name}: latency {p50}");
    assert!(f(s, "first_frame_after_ms") > 0.0);
    assert!(f(s, "audio.packets_received") > 20.0, "{name}: {s}");
    let heard = f(s, "audio.dominant_hz");
    assert!(
        (heard - tone_heard).abs() < 15.0,
        "{name} heard {heard} Hz, not {tone_heard}"
    );
    assert!(f(s, "data.pointer_received") > 10.0, "{name}: {s}");
    assert!(f(s, "data.control_received") >= 1.0, "{name}: {s}");
    assert!(f(s, "transport.rtt_ms") >= 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_exchange_video_audio_and_data() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let record = dir.path().join("rec");
    let record_arg = record.to_str().expect("utf-8");
    let a = peer(
        &server,
        "case-call",
        Role::Specialist,
        &sa,
        &["--duration", "7", "--tone", "440", "--record", record_arg],
    );
    let b = peer(
        &server,
        "case-call",
        Role::Presenter,
        &sb,
        &["--duration", "6", "--tone", "660"],
    );
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    assert_received("A", &a, 660.0);
    assert_received("B", &b, 440.0);
    // Counters from the start: nothing before the first frame was lost.
    assert!(f(&a, "video_in.first_counter") < 15.0, "{a}");

    // The recording holds what A decoded, stamps intact and in order.
    let file = std::fs::File::open(record.join("received-320x240.y4m")).expect("recording");
    let mut reader = Y4mReader::new(BufReader::new(file)).expect("y4m");
    let mut counters = Vec::new();
    while let Some(frame) = reader.next_frame().expect("frame") {
        counters.push(stamp::read(&frame).expect("stamp").counter);
    }
    assert_eq!(counters.len() as f64, f(&a, "video_in.recorded"));
    assert!(counters.len() >= 20);
    assert!(counters.windows(2).all(|w| w[0] < w[1]), "{counters:?}");
    server.shutdown().await;
}

/// A call between A (specialist, tone 440 Hz) and B (presenter, 660 Hz),
/// each sending with its own `--codec`; both sides' statistics, each
/// checked as a good direction of a call.
async fn call_sending(room: &str, codec_a: &str, codec_b: &str) -> (Value, Value) {
    let server = server().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let with = |tone, codec| ["--tone", tone, "--codec", codec];
    let a = peer(
        &server,
        room,
        Role::Specialist,
        &sa,
        &[&["--duration", "7"][..], &with("440", codec_a)].concat(),
    );
    let b = peer(
        &server,
        room,
        Role::Presenter,
        &sb,
        &[&["--duration", "6"][..], &with("660", codec_b)].concat(),
    );
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    assert_received("A", &a, 660.0);
    assert_received("B", &b, 440.0);
    server.shutdown().await;
    (a, b)
}

/// Says which path a codec is on, and why not hardware where it is not
/// (no GPU on the build machines: NVENC and NVDEC say why).
fn assert_hardware_or_why_not(side: &str, stats: &Value) {
    let what = stats["encoder"]
        .as_str()
        .or(stats["decoder"].as_str())
        .unwrap_or_default();
    assert!(
        stats["hardware"] == true || what.contains("not hardware"),
        "{side}: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_side_sends_its_own_codec_h264_one_way_and_vp9_the_other() {
    let (a, b) = call_sending("case-codecs", "h264", "vp9").await;
    assert_eq!(a["video_out"]["codec"], "video/H264", "{a}");
    assert_eq!(b["video_in"]["codec"], "video/H264", "{b}");
    assert_eq!(b["video_out"]["codec"], "video/VP9", "{b}");
    assert_eq!(a["video_in"]["codec"], "video/VP9", "{a}");
    assert_hardware_or_why_not("A", &a["video_out"]);
    assert_hardware_or_why_not("B", &b["video_in"]);
}

/// HEVC (how 8K goes out on hardware): x265 here, packetized as RFC 7798
/// by the library and reassembled by kh-call's depacketizer on the other
/// side, whose decoder reads every stamp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hevc_is_sent_to_a_kakehashi_peer_one_way_and_vp8_the_other() {
    let (a, b) = call_sending("case-hevc", "hevc", "vp8").await;
    assert_eq!(a["video_out"]["codec"], "video/H265", "{a}");
    assert_eq!(b["video_in"]["codec"], "video/H265", "{b}");
    assert_eq!(a["video_in"]["codec"], "video/VP8", "{a}");
    assert_hardware_or_why_not("A", &a["video_out"]);
    assert_hardware_or_why_not("B", &b["video_in"]);
}

/// `--send FILE.ivf`: a recording sent as coded, in its own codec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_stream_is_sent_as_coded_and_counted_undecoded() {
    // A VP9 recording of the stamped pattern, made with kh-media's encoder.
    let dir = tempfile::tempdir().expect("tmp");
    let ivf = dir.path().join("clip.ivf");
    let mut encoder = kh_media::VideoEncoder::new(kh_media::EncoderConfig {
        codec: kh_media::VideoCodec::Vp9,
        width: 320,
        height: 240,
        fps: 15,
        bitrate_kbps: 500,
        threads: 1,
    })
    .expect("encoder");
    let header = kh_media::ivf::IvfHeader {
        codec: kh_media::VideoCodec::Vp9,
        width: 320,
        height: 240,
        timebase_num: 1,
        timebase_den: 15,
        frames: 45,
    };
    let mut writer =
        kh_media::ivf::IvfWriter::new(std::fs::File::create(&ivf).expect("ivf"), header)
            .expect("writer");
    let mut pattern = kh_media::pattern::TestPattern::new(320, 240);
    for i in 0..45u64 {
        for packet in encoder.encode(&pattern.next_frame(i * 66)).expect("encode") {
            writer.write(i, &packet.data).expect("frame");
        }
    }
    writer.finish().expect("finish");

    let server = server().await;
    let ivf_arg = ivf.to_str().expect("utf-8");
    let (sa, sb, sc) = (
        dir.path().join("a.json"),
        dir.path().join("b.json"),
        dir.path().join("c.json"),
    );
    // Sent in the recording's codec (VP9) though kh call's default is VP8,
    // looped (45 frames = 3 s in a 5 s call); decoded on one side...
    let a = peer(
        &server,
        "case-recording",
        Role::Presenter,
        &sa,
        &["--duration", "6", "--send", ivf_arg],
    );
    let b = peer(
        &server,
        "case-recording",
        Role::Specialist,
        &sb,
        &["--duration", "5", "--send", "none"],
    );
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    assert_eq!(a["video_out"]["codec"], "video/VP9", "{a}");
    assert!(f(&a, "video_out.frames_encoded") > 45.0, "looped: {a}");
    assert_eq!(b["video_in"]["codec"], "video/VP9", "{b}");
    assert!(f(&b, "video_in.frames_decoded") >= 30.0, "{b}");
    assert_eq!(
        f(&b, "video_in.stamps_read"),
        f(&b, "video_in.frames_decoded"),
        "{b}"
    );
    // ...and counted whole but not decoded on the other.
    let a = peer(
        &server,
        "case-undecoded",
        Role::Presenter,
        &sa,
        &["--duration", "5", "--send", ivf_arg],
    );
    let c = peer(
        &server,
        "case-undecoded",
        Role::Specialist,
        &sc,
        &["--duration", "4", "--send", "none", "--no-decode"],
    );
    let (_, c) = finish_both(a, &sa, c, &sc).await;
    assert!(f(&c, "video_in.frames_forwarded") >= 30.0, "{c}");
    assert_eq!(f(&c, "video_in.frames_decoded"), 0.0, "{c}");
    assert!(f(&c, "video_in.bytes") > 0.0, "{c}");
    server.shutdown().await;
}

/// `--send FILE` with an MP4 the `ffmpeg` tool made from the stamped
/// pattern: the receiver decodes the file's frames in the file's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_file_is_sent_frame_by_frame() {
    let dir = tempfile::tempdir().expect("tmp");
    let y4m = dir.path().join("clip.y4m");
    let header = kh_media::y4m::Y4mHeader {
        width: 320,
        height: 240,
        fps_num: 15,
        fps_den: 1,
        colour: kh_media::ColourInfo::BT709_LIMITED,
    };
    let mut writer =
        kh_media::y4m::Y4mWriter::new(std::fs::File::create(&y4m).expect("y4m"), header)
            .expect("writer");
    let mut pattern = kh_media::pattern::TestPattern::new(320, 240);
    for i in 0..150 {
        writer.write(&pattern.next_frame(i * 66)).expect("frame");
    }
    drop(writer);
    let mp4 = dir.path().join("clip.mp4");
    let made = Command::new(kh_testkit::needs::program("ffmpeg", "ffmpeg"))
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&y4m)
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(&mp4)
        .status()
        .expect("running ffmpeg");
    assert!(made.success());

    let server = server().await;
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let mp4_arg = mp4.to_str().expect("utf-8");
    let a = peer(
        &server,
        "case-file",
        Role::Presenter,
        &sa,
        &["--duration", "5", "--send", mp4_arg],
    );
    let b = peer(
        &server,
        "case-file",
        Role::Specialist,
        &sb,
        &["--duration", "4", "--send", "none"],
    );
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    assert_eq!(a["video_out"]["width"], 320, "{a}");
    assert!(f(&b, "video_in.frames_decoded") >= 20.0, "{b}");
    assert_eq!(
        f(&b, "video_in.stamps_read"),
        f(&b, "video_in.frames_decoded"),
        "{b}"
    );
    // From the file's start, in the file's order (150 frames do not loop
    // within the call).
    assert!(f(&b, "video_in.first_counter") < 15.0, "{b}");
    assert_eq!(f(&b, "video_in.out_of_order"), 0.0, "{b}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echo_peer_returns_our_own_frames_and_tone() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let a = peer(
        &server,
        "case-echo",
        Role::Presenter,
        &sa,
        &["--duration", "7", "--tone", "550"],
    );
    let b = peer(
        &server,
        "case-echo",
        Role::Specialist,
        &sb,
        &["--duration", "6", "--echo"],
    );
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    // A hears its own tone and sees its own counters come back: the
    // latency is now a full round trip through two codecs.
    assert_received("A", &a, 550.0);
    assert!(f(&b, "video_out.frames_encoded") >= 20.0, "{b}");
    assert!(
        f(&a, "video_in.last_counter") <= f(&a, "video_out.frames_encoded"),
        "the echoed counters are A's own: {a}"
    );
    server.shutdown().await;
}

// The server runs on this test's runtime while the blocking child
// processes wait on another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_with_a_reason() {
    let server = server().await;
    let output = Command::new(env!("CARGO_BIN_EXE_kh"))
        .args(["call", "--server"])
        .arg(format!("ws://{}/ws", server.addr))
        .args([
            "--room",
            "case-x",
            "--token",
            "v1.bogus.token",
            "--duration",
            "1",
        ])
        .output()
        .expect("kh call");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("unauthorized")
            || stderr.contains("Unauthorized"),
        "{stderr}"
    );
    // A token for another room is caught before any media flows.
    let output = Command::new(env!("CARGO_BIN_EXE_kh"))
        .args(["call", "--server"])
        .arg(format!("ws://{}/ws", server.addr))
        .args([
            "--room",
            "case-y",
            "--token",
            &token("case-z", Role::Observer),
        ])
        .output()
        .expect("kh call");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("case-z"), "{stderr}");
    // Nothing listening: a clear error, not a hang.
    let output = Command::new(env!("CARGO_BIN_EXE_kh"))
        .args([
            "call",
            "--server",
            "ws://127.0.0.1:9/ws",
            "--room",
            "r",
            "--token",
            "t",
        ])
        .output()
        .expect("kh call");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connecting to the signalling server"),
        "{stderr}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_channel_carries_data_reliably() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let quiet = ["--send", "none", "--tone", "0"];
    let a = peer(
        &server,
        "case-bulk",
        Role::Specialist,
        &sa,
        &[&quiet[..], &["--duration", "5"]].concat(),
    );
    let b = peer(
        &server,
        "case-bulk",
        Role::Presenter,
        &sb,
        &[&quiet[..], &["--duration", "4", "--bulk"]].concat(),
    );
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    let sent = f(&b, "data.bulk_bytes_sent");
    let received = f(&a, "data.bulk_bytes_received");
    assert!(received > 1e6, "{a}");
    // Reliable: whole 64 KiB messages, none invented, and at most what was
    // still in flight when B hung up is missing.
    assert_eq!(received % 65536.0, 0.0);
    assert!(received <= sent, "received {received} of {sent}");
    assert!(f(&a, "data.bulk_mbit_s") > 0.0);
    // The sender waits for the channel to drain rather than queueing all
    // it is given (webrtc-rs's default: gigabytes within seconds).
    let peak = f(&b, "peak_memory_mib");
    assert!(
        (1.0..300.0).contains(&peak),
        "the sender peaked at {peak} MiB"
    );
    server.shutdown().await;
}

/// The server's `/metrics` value `name` (0 when it has none).
async fn metric(server: &Server, name: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect to the server");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .expect("ask for metrics");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read metrics");
    answer
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits (up to a minute) until the server has seen `joins` joins.
async fn joins_reach(server: &Server, joins: f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while metric(server, "kakehashi_signal_joins_total").await < joins {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not see {joins} joins within a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A call joins the presenter and the specialist, whoever came first: an
/// observer already in the room is not offered the call (before, the
/// presenter offered to the first participant it found, and an observer
/// there took the call and its media), and the specialist who comes
/// after gets the presenter's video.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_in_the_room_first_does_not_take_the_presenters_call() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = server().await;
    let (so, sa, sb) = (
        dir.path().join("observer.json"),
        dir.path().join("presenter.json"),
        dir.path().join("specialist.json"),
    );
    let room = "case-roles";
    let observer = peer(
        &server,
        room,
        Role::Observer,
        &so,
        &["--duration", "10", "--send", "none"],
    );
    // Each joins once the one before is in the room: the order is the test.
    joins_reach(&server, 1.0).await;
    let presenter = peer(&server, room, Role::Presenter, &sa, &["--duration", "8"]);
    joins_reach(&server, 2.0).await;
    let specialist = peer(
        &server,
        room,
        Role::Specialist,
        &sb,
        &["--duration", "6", "--send", "none"],
    );
    let (a, b) = finish_both(presenter, &sa, specialist, &sb).await;
    let observer = finish_one(observer, &so).await;
    assert!(f(&b, "video_in.frames_decoded") >= 30.0, "{b}");
    assert!(f(&a, "video_out.frames_encoded") >= 30.0, "{a}");
    assert!(
        observer["connected_after_ms"].is_null(),
        "the observer connected: {observer}"
    );
    assert_eq!(f(&observer, "video_in.frames_decoded"), 0.0, "{observer}");
    server.shutdown().await;
}
