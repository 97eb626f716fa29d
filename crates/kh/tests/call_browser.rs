//! Interoperability with a real browser: headless Chromium (fake camera and
//! microphone) runs `tests/browser/peer.html`, a client written from
//! `docs/signalling.md`, and calls a `kh call` peer through a real
//! signalling server. Both sides report what they received.

mod call_common;

use call_common::{
    assert_kh_got_peer_media, assert_peer_got_kh_media, f, finish_one, kh_call, server_with, token,
    ws_url,
};
use kakehashi_signal::Role;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Serves the test page and receives its result: a few lines of HTTP/1.1,
/// enough for one browser on loopback.
fn page_server() -> (u16, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let page = std::fs::read(repo_root().join("tests/browser/peer.html")).expect("peer.html");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length.min(1 << 20)];
            let _ = reader.read_exact(&mut body);
            let (status, kind, content): (&str, &str, &[u8]) =
                if request.starts_with("GET /peer.html") {
                    ("200 OK", "text/html", &page)
                } else if request.starts_with("POST /result") {
                    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                        let _ = tx.send(v);
                    }
                    ("200 OK", "text/plain", b"ok")
                } else {
                    ("404 Not Found", "text/plain", b"no")
                };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                content.len()
            );
            let _ = stream.write_all(content);
        }
    });
    (port, rx)
}

fn chromium(url: &str, profile: &Path) -> Child {
    // docs/design.md: root, no GPU, fake devices, loopback candidates allowed.
    Command::new(kh_testkit::needs::program("chromium", "chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
            "--autoplay-policy=no-user-gesture-required",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromium")
}

/// kh joins `room` first and answers the browser's offer; both report.
async fn browser_call(room: &str, kh_extra: &[&str], page_params: &str) -> (Value, Value) {
    let server = server_with(|_| {}).await;
    let dir = tempfile::tempdir().expect("tmp");
    let stats_path = dir.path().join("kh.json");
    let ws = ws_url(&server);
    let kh = kh_call(
        &ws,
        room,
        Role::Specialist,
        &stats_path,
        &[&["--size", "640x360", "--duration", "14"][..], kh_extra].concat(),
    );
    let (port, results) = page_server();
    let url = format!(
        "http://127.0.0.1:{port}/peer.html?seconds=9&server={ws}&token={}{page_params}",
        token(room, Role::Presenter)
    );
    let profile = dir.path().join("chromium-profile");
    let mut browser = chromium(&url, &profile);
    let page = tokio::task::spawn_blocking(move || results.recv_timeout(Duration::from_secs(90)))
        .await
        .expect("join");
    let _ = browser.kill();
    let _ = browser.wait();
    let page = page.expect("the page reported within 90 s");
    let kh = finish_one(kh, &stats_path).await;
    server.shutdown().await;
    (page, kh)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_and_kh_call_exchange_video_audio_and_data() {
    let (page, kh) = browser_call("case-browser", &["--tone", "440"], "").await;

    // What the browser got from kh.
    assert_peer_got_kh_media("the browser", &page, "state", "video/VP8");
    let heard = f(&page, "audio_hz");
    assert!((heard - 440.0).abs() < 15.0, "the browser heard {heard} Hz");

    // What kh got from the browser (its fake camera carries no stamp).
    assert_kh_got_peer_media(&kh);
    assert_eq!(kh["video_in"]["codec"], "video/VP8");
}

/// kh's H.264 (x264) decoded by Chromium's own decoder, which reads every
/// stamp; Chromium's AV1 (libaom) decoded by kh through dav1d.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kh_sends_h264_to_chromium_and_decodes_its_av1() {
    let (page, kh) = browser_call(
        "case-browser-codecs",
        &["--codec", "h264", "--tone", "660"],
        "&send_codec=video/AV1",
    )
    .await;
    assert_peer_got_kh_media("the browser", &page, "state", "video/H264");
    assert_eq!(page["sent_codec"], "video/AV1", "{page}");
    assert_eq!(kh["video_out"]["codec"], "video/H264", "{kh}");
    assert_kh_got_peer_media(&kh);
    assert_eq!(kh["video_in"]["codec"], "video/AV1", "{kh}");
}

/// kh's VP9 to Chromium; Chromium's H.264 (its own encoder) decoded by kh
/// through FFmpeg.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kh_sends_vp9_to_chromium_and_decodes_its_h264() {
    let (page, kh) = browser_call(
        "case-browser-h264",
        &["--codec", "vp9", "--tone", "550"],
        "&send_codec=video/H264",
    )
    .await;
    assert_peer_got_kh_media("the browser", &page, "state", "video/VP9");
    assert_eq!(page["sent_codec"], "video/H264", "{page}");
    assert_kh_got_peer_media(&kh);
    assert_eq!(kh["video_in"]["codec"], "video/H264", "{kh}");
}
