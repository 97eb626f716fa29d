//! A call that may only use a TURN relay (as from behind a hospital
//! firewall that blocks direct UDP): two `kh call --relay-only` peers get
//! coturn credentials in the signalling server's welcome (the REST
//! shared-secret scheme) and exchange media through a real coturn.

mod call_common;

use call_common::{TURN_SECRET, coturn, finish_both, free_udp_port, kh_call, server_with, ws_url};
use kakehashi_signal::Role;
use std::path::Path;
use std::process::Child;

fn peer(ws: &str, role: Role, stats: &Path, duration: &str) -> Child {
    kh_call(
        ws,
        "case-relay",
        role,
        stats,
        &[
            "--size",
            "320x240",
            "--fps",
            "15",
            "--relay-only",
            "--duration",
            duration,
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_calls_go_through_coturn() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_udp_port();
    let log = dir.path().join("coturn.log");
    let _coturn = coturn(port, &log);
    let server = server_with(|config| {
        config.ice.turn_urls = vec![format!("turn:127.0.0.1:{port}?transport=udp")];
        config.ice.turn_secret = Some(TURN_SECRET.into());
    })
    .await;
    let ws = ws_url(&server);
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let a = peer(&ws, Role::Specialist, &sa, "11");
    let b = peer(&ws, Role::Presenter, &sb, "10");
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    // coturn's own account of what it refused, for when the relay fails.
    let coturn_log = std::fs::read_to_string(&log).unwrap_or_default();
    let coturn_said = coturn_log
        .lines()
        .filter(|line| line.contains("error") || line.contains("user <"))
        .take(40)
        .collect::<Vec<_>>()
        .join("\n");
    for (name, s) in [("A", &a), ("B", &b)] {
        assert_eq!(
            s["transport"]["local_candidate_type"], "relay",
            "{name}: {s}\ncoturn:\n{coturn_said}"
        );
        let frames = s["video_in"]["frames_decoded"].as_f64().unwrap_or(0.0);
        assert!(frames > 20.0, "{name}: {s}");
        assert!(
            s["audio"]["packets_received"].as_f64().unwrap_or(0.0) > 20.0,
            "{name}"
        );
    }
    server.shutdown().await;
}
