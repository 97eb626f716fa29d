//! Calls over an emulated island link (kh-testkit's `IslandLink`: two
//! network namespaces joined through a userspace link with a rate, a
//! delay, loss and cuts). The hospital (side A) runs the signalling server
//! and a `kh call`; the island (side B) calls in over the link, as a rural
//! clinic would, sending its camera (the stamped test pattern) and a tone.
//! Signalling crosses the same link as the media.

mod call_common;

use call_common::{SECRET, certificates, f};
use kakehashi_signal::config::TlsConfig;
use kakehashi_signal::{Config, Role, Server, TokenKey};
use kh_netem::{ADDRESS_A, ADDRESS_B, IslandLink, LinkShape};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The signalling server, listening on side A over TLS (plain WebSocket
/// is refused off loopback) with a certificate from a private CA.
struct SignalInA {
    wss: String,
    /// The CA's certificate, for `SSL_CERT_FILE`.
    ca: std::path::PathBuf,
    _certificates: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalInA {
    fn start(link: &IslandLink) -> SignalInA {
        let certificates_dir = tempfile::tempdir().expect("tmp");
        certificates(certificates_dir.path(), &format!("IP:{ADDRESS_A}"));
        let tls = TlsConfig {
            cert: certificates_dir.path().join("server.pem"),
            key: certificates_dir.path().join("server.key"),
        };
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = link.spawn_in_a(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listen = format!("{ADDRESS_A}:0").parse().expect("address");
                let mut config = Config::loopback(listen, SECRET.into());
                config.tls = Some(tls);
                let server = Server::start(config).await.expect("signalling server in A");
                addr_tx.send(server.addr).expect("address to the test");
                let _ = stopped.await;
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server started in A");
        SignalInA {
            wss: format!("wss://{addr}/ws"),
            ca: certificates_dir.path().join("ca.pem"),
            _certificates: certificates_dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for SignalInA {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a peer printed: its state changes and its statistics every half
/// second, each with the instant the test read it.
enum Heard {
    State(String),
    Stats(Instant, Value),
    Joined,
}

struct Peer {
    child: Child,
    heard: mpsc::Receiver<Heard>,
    states: Vec<String>,
    stats: Vec<(Instant, Value)>,
    joins: usize,
}

impl Peer {
    fn start(
        mut command: std::process::Command,
        signal: &SignalInA,
        role: Role,
        bind: &str,
        extra: &[&str],
    ) -> Peer {
        let room = "case-island";
        // The room seats one presenter and one specialist: each peer takes
        // its own seat, as the clinic and the hospital do.
        let token = TokenKey::new(SECRET.as_bytes())
            .issue(room, role, 600, kakehashi_signal::token::unix_now())
            .expect("token");
        let mut child = command
            .env("SSL_CERT_FILE", &signal.ca)
            .args(["call", "--server", &signal.wss, "--room", room])
            .args(["--token", &token])
            .args(["--bind", bind, "--stats-every", "0.25", "--duration", "120"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("kh call in a namespace");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, heard) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let heard = match event["event"].as_str() {
                    Some("state") => Heard::State(event["state"].as_str().unwrap_or("").into()),
                    Some("stats") => Heard::Stats(Instant::now(), event["stats"].clone()),
                    Some("joined") => Heard::Joined,
                    _ => continue,
                };
                if tx.send(heard).is_err() {
                    break;
                }
            }
        });
        Peer {
            child,
            heard,
            states: Vec::new(),
            stats: Vec::new(),
            joins: 0,
        }
    }

    /// Take in what was printed so far.
    fn drain(&mut self) {
        while let Ok(heard) = self.heard.try_recv() {
            match heard {
                Heard::State(state) => self.states.push(state),
                Heard::Stats(at, stats) => self.stats.push((at, stats)),
                Heard::Joined => self.joins += 1,
            }
        }
    }

    fn latest(&mut self) -> Value {
        self.drain();
        self.stats
            .last()
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    /// Wait until `check` holds for the latest statistics.
    fn wait_for(&mut self, what: &str, limit: Duration, check: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let latest = self.latest();
            if check(&latest) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} not within {limit:?}; states {:?}; last stats {latest}",
                self.states
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One island call at a time: each is two encoders and decoders on a
/// 2-core machine, and two at once would measure the machine, not the link.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static CALLS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    CALLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn hospital_and_island(link: &IslandLink, island_video: &[&str]) -> (SignalInA, Peer, Peer) {
    hospital_and_island_with(link, &[], island_video)
}

/// As [`hospital_and_island`], with `both` given to each peer.
fn hospital_and_island_with(
    link: &IslandLink,
    both: &[&str],
    island_video: &[&str],
) -> (SignalInA, Peer, Peer) {
    let signal = SignalInA::start(link);
    let kh = env!("CARGO_BIN_EXE_kh");
    let hospital = Peer::start(
        link.command_in_a(kh),
        &signal,
        Role::Specialist,
        ADDRESS_A,
        &[both, &["--send", "none", "--tone", "440"]].concat(),
    );
    let mut args = both.to_vec();
    args.extend_from_slice(&["--tone", "330"]);
    args.extend_from_slice(island_video);
    let island = Peer::start(
        link.command_in_b(kh),
        &signal,
        Role::Presenter,
        ADDRESS_B,
        &args,
    );
    (signal, hospital, island)
}

fn connected(stats: &Value) -> bool {
    stats["state"] == "connected"
}

/// Frames the hospital decoded.
fn decoded(stats: &Value) -> f64 {
    stats["video_in"]["frames_decoded"].as_f64().unwrap_or(0.0)
}

#[test]
fn a_call_on_a_thin_lossy_link_carries_video_at_the_estimate_and_continuous_audio() {
    let _one = one_at_a_time();
    kh_testkit::needs::island_link();
    let link = IslandLink::start(LinkShape::new(20.0, 60, 1.0)).expect("island link");
    let (_signal, mut hospital, mut island) = hospital_and_island(
        &link,
        &["--size", "960x540", "--grain", "12", "--bitrate", "2000"],
    );
    hospital.wait_for("the call connected", Duration::from_secs(20), connected);
    // Let the estimate settle, then measure over 8 s.
    std::thread::sleep(Duration::from_secs(8));
    let (before_h, before_i) = (hospital.latest(), island.latest());
    std::thread::sleep(Duration::from_secs(8));
    let (after_h, after_i) = (hospital.latest(), island.latest());
    eprintln!("hospital: {after_h:#}\nisland: {after_i:#}");
    eprintln!("link B→A {:?}, A→B {:?}", link.b_to_a(), link.a_to_b());

    // Congestion control ran on the island's side, fed by the hospital's
    // transport-wide feedback.
    let cc = &after_i["congestion"];
    assert_eq!(cc["enabled"], true);
    assert!(f(cc, "feedback_reports") > 50.0, "{cc}");
    let estimate_kbps = f(cc, "estimate_kbps");
    let sent_kbps =
        (f(&after_i, "video_out.bytes") - f(&before_i, "video_out.bytes")) * 8.0 / 8.0 / 1e3;
    // The encoder stays within its share of the estimate (never floods a
    // link the estimate says is smaller), and the estimate stays within
    // the link (20 Mbit/s) once it has met it.
    assert!(
        sent_kbps <= estimate_kbps * 1.05,
        "video sent at {sent_kbps:.0} kbit/s over an estimate of {estimate_kbps:.0}"
    );
    // What was sent arrived: at 1 % loss NACK retransmissions (on their
    // own RTX stream) fill the holes, so nearly every frame decodes at the
    // full rate.
    assert_eq!(cc["repairs_on_rtx"], true, "{cc}");
    assert!(f(cc, "repairs_sent") > 0.0, "{cc}");
    let frames = decoded(&after_h) - decoded(&before_h);
    assert!(
        frames >= 8.0 * 30.0 * 0.8,
        "{frames} frames decoded in 8 s at 30 fps"
    );
    let dropped = f(&after_h, "video_in.frames_dropped") - f(&before_h, "video_in.frames_dropped");
    assert!(
        dropped <= frames * 0.02,
        "{dropped} frames dropped of {frames}"
    );

    // Audio both ways, continuous: 50 Opus packets a second, less the 1 %
    // lost, and each side hears the other's tone.
    for (who, before, after, tone) in [
        ("hospital", &before_h, &after_h, 330.0),
        ("island", &before_i, &after_i, 440.0),
    ] {
        let packets = f(after, "audio.packets_received") - f(before, "audio.packets_received");
        assert!(
            packets >= 8.0 * 50.0 * 0.95,
            "{who} heard {packets} packets in 8 s"
        );
        let heard = f(after, "audio.dominant_hz");
        assert!(
            (heard - tone).abs() < 15.0,
            "{who} hears {heard} Hz, not {tone}"
        );
    }
}

#[test]
fn a_ten_second_cut_heals_by_itself_without_rejoining() {
    let _one = one_at_a_time();
    kh_testkit::needs::island_link();
    let link = IslandLink::start(LinkShape::new(20.0, 60, 0.0)).expect("island link");
    let (_signal, mut hospital, mut island) =
        hospital_and_island(&link, &["--size", "640x360", "--bitrate", "1000"]);
    hospital.wait_for("the call connected", Duration::from_secs(20), |s| {
        connected(s) && decoded(s) > 30.0
    });
    std::thread::sleep(Duration::from_secs(3));
    link.set_cut(true);
    std::thread::sleep(Duration::from_secs(10));
    let frames_at_return = decoded(&hospital.latest());
    let returned = Instant::now();
    link.set_cut(false);
    hospital.wait_for(
        "new frames after the link returned",
        Duration::from_secs(5),
        |s| decoded(s) > frames_at_return,
    );
    let first_frame_after = returned.elapsed();
    eprintln!("link return → first new frame: {first_frame_after:?}");
    hospital.wait_for("connected again", Duration::from_secs(5), connected);
    // Flowing again, not a single frame: a second later, more.
    let resumed = decoded(&hospital.latest());
    std::thread::sleep(Duration::from_secs(2));
    let (h, i) = (hospital.latest(), island.latest());
    assert!(
        decoded(&h) > resumed + 20.0,
        "frames did not keep coming after the first: {resumed} then {}; hospital video {:#}, island video {:#} congestion {:#}",
        decoded(&h),
        h["video_in"],
        i["video_out"],
        i["congestion"]
    );
    let audio_before = f(&island.latest(), "audio.packets_received");
    std::thread::sleep(Duration::from_secs(1));
    assert!(f(&island.latest(), "audio.packets_received") > audio_before + 25.0);
    for peer in [&mut hospital, &mut island] {
        peer.drain();
        assert_eq!(peer.joins, 1, "a peer joined the room again");
        // The break and the recovery were seen, once, by ICE itself.
        assert_eq!(f(&peer.latest(), "recoveries"), 1.0, "{:?}", peer.states);
    }
    eprintln!(
        "hospital states {:?}, island states {:?}",
        hospital.states, island.states
    );
}

#[test]
fn a_cut_long_enough_for_ice_to_fail_is_healed_by_ice_restarts() {
    let _one = one_at_a_time();
    kh_testkit::needs::island_link();
    let link = IslandLink::start(LinkShape::new(20.0, 60, 0.0)).expect("island link");
    // ICE calls the path failed 2 s after it went quiet-and-disconnected
    // (about 7 s into the cut); restarts follow at 1, 2, 4, 8 s.
    let (_signal, mut hospital, mut island) = hospital_and_island_with(
        &link,
        &["--ice-failed-after", "2"],
        &["--size", "640x360", "--bitrate", "1000"],
    );
    hospital.wait_for("the call connected", Duration::from_secs(20), |s| {
        connected(s) && decoded(s) > 30.0
    });
    link.set_cut(true);
    // Until both sides have given up on the old path and restarted.
    island.wait_for("an ICE restart", Duration::from_secs(20), |s| {
        f(s, "ice_restarts") >= 1.0
    });
    std::thread::sleep(Duration::from_secs(6));
    let frames_at_return = decoded(&hospital.latest());
    let returned = Instant::now();
    link.set_cut(false);
    hospital.wait_for(
        "new frames after the link returned",
        Duration::from_secs(30),
        |s| connected(s) && decoded(s) > frames_at_return,
    );
    eprintln!(
        "link return → first new frame after ICE restarts: {:?}",
        returned.elapsed()
    );
    let resumed = decoded(&hospital.latest());
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        decoded(&hospital.latest()) > resumed + 20.0,
        "frames kept coming"
    );
    for (who, peer) in [("hospital", &mut hospital), ("island", &mut island)] {
        peer.drain();
        assert_eq!(peer.joins, 1, "{who} joined the room again");
        assert!(
            !peer.states.iter().any(|s| s == "failed"),
            "{who} showed the call as failed: {:?}",
            peer.states
        );
        let reconnecting = peer.states.iter().position(|s| s == "reconnecting");
        let back = peer.states.iter().rposition(|s| s == "connected");
        assert!(
            reconnecting.is_some() && back > reconnecting,
            "{who}: {:?}",
            peer.states
        );
        eprintln!("{who} states {:?}", peer.states);
    }
    // The island offered the call, so its restarts were offers; and its
    // video restarted from a keyframe asked for on recovery.
    assert!(f(&island.latest(), "ice_restarts") >= 1.0);
    assert!(f(&island.latest(), "recoveries") >= 1.0);
}

#[test]
fn a_network_change_restarts_ice_onto_the_new_address_at_once() {
    let _one = one_at_a_time();
    kh_testkit::needs::island_link();
    let link = IslandLink::start(LinkShape::new(20.0, 60, 0.0)).expect("island link");
    let signal = SignalInA::start(&link);
    let kh = env!("CARGO_BIN_EXE_kh");
    let mut hospital = Peer::start(
        link.command_in_a(kh),
        &signal,
        Role::Specialist,
        ADDRESS_A,
        &["--send", "none", "--tone", "440"],
    );
    // The island gathers on every interface it has, at each ICE (re)start.
    let mut island = Peer::start(
        link.command_in_b(kh),
        &signal,
        Role::Presenter,
        "0.0.0.0",
        &["--tone", "330", "--size", "640x360", "--bitrate", "1000"],
    );
    hospital.wait_for("the call connected", Duration::from_secs(20), |s| {
        connected(s) && decoded(s) > 30.0
    });
    // A handover: the island gets a new address, and media on the old one
    // dies (signalling, over TCP, survives).
    let old: std::net::Ipv4Addr = ADDRESS_B.parse().expect("address");
    link.add_address_b("10.77.0.3").expect("a new address");
    link.block_udp(Some(old));
    let frames_at_change = decoded(&hospital.latest());
    let changed = Instant::now();
    hospital.wait_for("frames on the new address", Duration::from_secs(10), |s| {
        decoded(s) > frames_at_change + 10.0
    });
    let after = changed.elapsed();
    eprintln!("network change → frames again: {after:?}");
    // Before ICE would even have called the old path failed (5 s without
    // answers, then 10 s).
    assert!(after < Duration::from_secs(8), "{after:?}");
    assert!(f(&island.latest(), "ice_restarts") >= 1.0);
    for peer in [&mut hospital, &mut island] {
        peer.drain();
        assert_eq!(peer.joins, 1, "a peer joined the room again");
    }
    assert!(
        link.b_to_a().dropped_by_block > 0,
        "the old path was used, then blocked"
    );
}

#[test]
fn a_link_that_drops_from_50_to_5_mbit_s_makes_the_sender_step_down() {
    let _one = one_at_a_time();
    kh_testkit::needs::island_link();
    let link = IslandLink::start(LinkShape::new(50.0, 40, 0.0)).expect("island link");
    let (_signal, mut hospital, mut island) = hospital_and_island(
        &link,
        &[
            "--size",
            "960x540",
            "--grain",
            "12",
            "--bitrate",
            "12000",
            "--max-bitrate",
            "20000",
        ],
    );
    hospital.wait_for("the call connected", Duration::from_secs(20), connected);
    std::thread::sleep(Duration::from_secs(6));
    // The sender fills more than the new link will carry, or the drop
    // would prove nothing.
    let before = island.latest();
    assert!(
        f(&before, "transport.bitrate_out_kbps") > 8000.0,
        "sending only {} kbit/s before the drop",
        before["transport"]["bitrate_out_kbps"]
    );
    link.set_shape(LinkShape::new(5.0, 40, 0.0));
    let dropped = Instant::now();
    island.wait_for(
        "the estimate under the new rate",
        Duration::from_secs(3),
        |s| f(s, "congestion.estimate_kbps") < 5000.0,
    );
    eprintln!("stepped down after {:?}", dropped.elapsed());
    // The receiver's pictures: frames lost in the drop's burst of loss are
    // given up together and a keyframe restarts the stream; then video
    // flows at the new rate. Sampled every 100 ms for 8 s.
    let mut samples = Vec::new();
    while dropped.elapsed() < Duration::from_secs(8) {
        samples.push((dropped.elapsed(), decoded(&hospital.latest())));
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut longest_freeze = Duration::ZERO;
    let mut last_new = (Duration::ZERO, samples[0].1);
    for &(at, frames) in &samples {
        if frames > last_new.1 {
            last_new = (at, frames);
        }
        longest_freeze = longest_freeze.max(at - last_new.0);
    }
    let (at_4s, frames_at_4s) = samples
        .iter()
        .copied()
        .find(|(at, _)| *at >= Duration::from_secs(4))
        .expect("a sample at 4 s");
    let (at_end, frames_at_end) = samples[samples.len() - 1];
    let late_fps = (frames_at_end - frames_at_4s) / (at_end - at_4s).as_secs_f64();
    let island_now = island.latest();
    eprintln!(
        "after the drop: longest freeze {longest_freeze:?}, {late_fps:.1} fps from 4 s; sender {:#}",
        island_now["congestion"]
    );
    assert!(
        longest_freeze < Duration::from_secs(3),
        "the receiver's pictures stopped for {longest_freeze:?} after the drop"
    );
    assert!(
        late_fps >= 15.0,
        "{late_fps:.1} fps once the sender had stepped down (30 sent)"
    );
    // Sent within the new link, not flooding it.
    assert!(f(&island_now, "congestion.estimate_kbps") < 5000.0);
}
