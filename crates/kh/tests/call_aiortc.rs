//! Interoperability with aiortc (Python's WebRTC): `tests/peers/aiortc_peer.py`,
//! a client written from `docs/signalling.md`, calls a `kh call` peer
//! through a real signalling server. Each side sends its own tone, so each
//! proves it heard the other.

mod call_common;

use call_common::{
    assert_kh_got_peer_media, assert_peer_got_kh_media, f, finish_both, finish_one, kh_call,
    server_with, token, ws_url,
};
use kakehashi_signal::Role;
use serde_json::Value;
use std::process::Command;

/// Run `tests/peers/aiortc_peer.py` for `seconds` and read its report.
async fn aiortc_peer(ws: String, token: String, seconds: u32) -> Value {
    aiortc_peer_with(ws, token, seconds, &[]).await
}

/// [`aiortc_peer`] with the script's extra arguments (`hostile`).
async fn aiortc_peer_with(ws: String, token: String, seconds: u32, extra: &[&str]) -> Value {
    let script = kh_testkit::workspace_root().join("tests/peers/aiortc_peer.py");
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(kh_testkit::python())
            .arg(script)
            .args([ws, token, seconds.to_string()])
            .args(extra)
            .output()
    })
    .await
    .expect("join")
    .expect("aiortc peer (pip install -r tests/requirements.txt)");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "aiortc peer output ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_and_kh_call_exchange_video_audio_and_data() {
    let server = server_with(|_| {}).await;
    let dir = tempfile::tempdir().expect("tmp");
    let stats_path = dir.path().join("kh.json");
    let ws = ws_url(&server);
    let kh = kh_call(
        &ws,
        "case-aiortc",
        Role::Specialist,
        &stats_path,
        &["--size", "640x360", "--duration", "12", "--tone", "440"],
    );

    let peer = aiortc_peer(ws, token("case-aiortc", Role::Presenter), 8).await;
    let kh = finish_one(kh, &stats_path).await;

    // What aiortc got from kh.
    assert_peer_got_kh_media("aiortc", &peer, "states", "video/VP8");
    assert!((f(&peer, "audio_hz") - 440.0).abs() < 15.0, "{peer}");

    // What kh got from aiortc.
    assert_kh_got_peer_media(&kh);
    assert!((f(&kh, "audio.dominant_hz") - 880.0).abs() < 15.0, "{kh}");
    server.shutdown().await;
}

/// A third participant who offers to someone already in a call (a second
/// workstation opened by mistake, or a hostile client with a valid token)
/// must not take the call over: aiortc joins a room where two `kh call`
/// peers are talking and offers to the first of them with a valid SDP. The
/// call goes on without a break, and the intruder never connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_from_a_third_peer_does_not_break_a_running_call() {
    let server = server_with(|_| {}).await;
    let dir = tempfile::tempdir().expect("tmp");
    let ws = ws_url(&server);
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let small = ["--size", "320x240", "--fps", "15"];
    let a = kh_call(
        &ws,
        "case-intruder",
        Role::Specialist,
        &sa,
        &[&small[..], &["--duration", "10"]].concat(),
    );
    let b = kh_call(
        &ws,
        "case-intruder",
        Role::Presenter,
        &sb,
        &[&small[..], &["--duration", "9"]].concat(),
    );
    // Observers may not offer (the server refuses), and a second presenter
    // is refused a seat unless its token grants one: this one does, and
    // its offer must still not take the running call over.
    let intruder = aiortc_peer(
        ws,
        call_common::token_with_seats("case-intruder", Role::Presenter, 2),
        5,
    )
    .await;
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    assert!(
        !intruder["states"].to_string().contains("\"connected\""),
        "the intruder got in: {intruder}"
    );
    for (name, s) in [("A", &a), ("B", &b)] {
        // ~9 s at 15 fps; a broken call would stop at the intrusion.
        assert!(f(s, "video_in.frames_decoded") >= 90.0, "{name}: {s}");
        assert_eq!(f(s, "video_in.out_of_order"), 0.0, "{name}: {s}");
        assert!(f(s, "video_in.counter_gaps") < 15.0, "{name}: {s}");
    }
    server.shutdown().await;
}

/// A peer with a valid seat that turns hostile on the data channels: a
/// second channel labelled `control`, thousands of pongs answering nothing
/// and of pings, messages over the size of `control` and `pointer`, a
/// pointer storm. kh drops what is over its limits, answers pings at its
/// rate only, keeps its first `control` (the peer's own pings are still
/// answered after the flood) and the call's media goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_channel_flood_is_bounded_and_the_call_goes_on() {
    let server = server_with(|_| {}).await;
    let dir = tempfile::tempdir().expect("tmp");
    let stats_path = dir.path().join("kh.json");
    let ws = ws_url(&server);
    let kh = kh_call(
        &ws,
        "case-flood",
        Role::Specialist,
        &stats_path,
        &["--size", "320x240", "--fps", "15", "--duration", "14"],
    );
    let peer = aiortc_peer_with(ws, token("case-flood", Role::Presenter), 10, &["hostile"]).await;
    let kh = finish_one(kh, &stats_path).await;
    assert_eq!(peer["flooded"], true, "{peer}");
    assert!(
        peer["errors"].as_array().is_some_and(|e| e.is_empty()),
        "{peer}"
    );
    // The first `control` still answers: the peer's pings after the flood.
    assert!(f(&peer, "pong_rtts_after_flood") >= 3.0, "{peer}");
    let data = &kh["data"];
    eprintln!("kh under the flood: {data}");
    // 5000 pings in well under a second: the burst and the rate answered,
    // the rest not.
    assert!(f(data, "pings_refused") >= 4000.0, "{data}");
    assert!(f(data, "pings_answered") < 1000.0, "{data}");
    assert!(f(data, "pongs_ignored") >= 5000.0, "{data}");
    assert_eq!(f(data, "channels.control.too_large"), 5.0, "{data}");
    assert!(f(data, "channels.pointer.too_large") >= 1000.0, "{data}");
    // kh's own round trips are still measured.
    assert!(data["control_rtt_ms_p50"].is_number(), "{data}");
    assert!(f(&kh, "video_in.frames_decoded") >= 60.0, "{kh}");
    server.shutdown().await;
}
