//! A call that may only use a TURN relay (as from behind a hospital
//! firewall that blocks direct UDP): two `kh call --relay-only` peers get
//! coturn credentials in the signalling server's welcome (the REST
//! shared-secret scheme) and exchange media through a real coturn.

mod call_common;

use call_common::{finish_both, kh_call, server_with, ws_url};
use kakehashi_signal::Role;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TURN_SECRET: &str = "coturn static auth secret for tests";

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// coturn on loopback, answering once a STUN binding request gets a reply.
struct Coturn(Child);

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn coturn(port: u16, log: &Path) -> Coturn {
    let child = Command::new("turnserver")
        .args([
            "-n",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--listening-ip=127.0.0.1",
        ])
        .args([
            "--relay-ip=127.0.0.1",
            "--allow-loopback-peers",
            "--realm=kakehashi",
        ])
        .arg(format!("--listening-port={port}"))
        .arg("--use-auth-secret")
        .arg(format!("--static-auth-secret={TURN_SECRET}"))
        .arg(format!("--log-file={}", log.display()))
        .arg("--simple-log")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnserver (coturn): `cargo xtask test` installs it");
    let coturn = Coturn(child);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // A STUN binding request: type 1, no attributes, the magic cookie.
    let mut request = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
    request.extend_from_slice(b"kakehashi-tx");
    for _ in 0..100 {
        let _ = socket.send_to(&request, ("127.0.0.1", port));
        let mut reply = [0u8; 512];
        if socket.recv(&mut reply).is_ok() {
            return coturn;
        }
    }
    panic!("coturn did not answer on port {port}");
}

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
    for (name, s) in [("A", &a), ("B", &b)] {
        assert_eq!(
            s["transport"]["local_candidate_type"], "relay",
            "{name}: {s}"
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
