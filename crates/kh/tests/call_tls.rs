//! Calls through the signalling server over TLS (`wss://`), as hospitals
//! deploy it: the server loads a certificate chain and key from PEM files
//! (made here by the `openssl` tool, signed by a private CA), and `kh call`
//! trusts what the system trusts — here the private CA, given through
//! `SSL_CERT_FILE` as IT would install it. Without it, the connection is
//! refused with a reason.

mod call_common;

use call_common::{certificates, f, finish_both, kh_call_with_env, server_with, token};
use kakehashi_signal::Role;
use kakehashi_signal::config::TlsConfig;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_join_over_wss_with_the_hospitals_ca_and_are_refused_without_it() {
    let dir = tempfile::tempdir().expect("tmp");
    certificates(dir.path(), "DNS:localhost,IP:127.0.0.1");
    let tls = TlsConfig {
        cert: dir.path().join("server.pem"),
        key: dir.path().join("server.key"),
    };
    let server = server_with(|c| c.tls = Some(tls)).await;
    let wss = format!("wss://localhost:{}/ws", server.addr.port());
    let ca = dir.path().join("ca.pem");
    let trust = [("SSL_CERT_FILE", ca.as_path())];

    // Without the CA: refused, and the reason names the certificate.
    let refused = tokio::task::spawn_blocking({
        let wss = wss.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_kh"))
                .args(["call", "--server", &wss, "--room", "case-tls", "--token"])
                .arg(token("case-tls", Role::Observer))
                .args(["--duration", "2"])
                .output()
                .expect("kh call")
        }
    })
    .await
    .expect("join");
    assert!(!refused.status.success());
    let reason = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(
        reason.contains("certificate") && reason.contains("ssl_cert_file"),
        "{reason}"
    );

    // With it: two peers meet through the TLS server and call.
    let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let small = ["--size", "320x240", "--fps", "15"];
    let a = kh_call_with_env(
        &wss,
        "case-tls",
        Role::Specialist,
        &sa,
        &[&small[..], &["--duration", "5"]].concat(),
        &trust,
    );
    let b = kh_call_with_env(
        &wss,
        "case-tls",
        Role::Presenter,
        &sb,
        &[&small[..], &["--duration", "4"]].concat(),
        &trust,
    );
    let (a, b) = finish_both(a, &sa, b, &sb).await;
    for s in [&a, &b] {
        assert!(f(s, "video_in.frames_decoded") >= 20.0, "{s}");
        assert_eq!(
            f(s, "video_in.stamps_read"),
            f(s, "video_in.frames_decoded")
        );
    }
    server.shutdown().await;
}
