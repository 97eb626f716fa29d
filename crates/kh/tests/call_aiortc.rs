//! Interoperability with aiortc (Python's WebRTC): `tests/peers/aiortc_peer.py`,
//! a client written from `docs/signalling.md`, calls a `kh call` peer
//! through a real signalling server. Each side sends its own tone, so each
//! proves it heard the other.

mod call_common;

use call_common::{
    assert_kh_got_peer_media, assert_peer_got_kh_media, f, finish, kh_call, server_with, token,
    ws_url,
};
use kakehashi_signal::Role;
use serde_json::Value;
use std::process::Command;

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

    let script = kh_testkit::workspace_root().join("tests/peers/aiortc_peer.py");
    let peer_token = token("case-aiortc", Role::Presenter);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(kh_testkit::python())
            .arg(script)
            .args([ws.as_str(), peer_token.as_str(), "8"])
            .output()
    })
    .await
    .expect("join")
    .expect("aiortc peer (pip install -r tests/requirements.txt)");
    let peer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "aiortc peer output ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let kh = tokio::task::spawn_blocking(move || finish(kh, &stats_path))
        .await
        .expect("join");

    // What aiortc got from kh.
    assert_peer_got_kh_media("aiortc", &peer, "states", "video/VP8");
    assert!((f(&peer, "audio_hz") - 440.0).abs() < 15.0, "{peer}");

    // What kh got from aiortc.
    assert_kh_got_peer_media(&kh);
    assert!((f(&kh, "audio.dominant_hz") - 880.0).abs() < 15.0, "{kh}");
    server.shutdown().await;
}
