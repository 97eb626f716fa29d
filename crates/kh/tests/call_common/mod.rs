//! What the call tests share: a real signalling server on loopback, room
//! tokens, `kh call` processes, and reading their statistics.
// Each test file uses its own subset.
#![allow(dead_code)]

use kakehashi_signal::{Config, Role, Server, TokenKey};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const SECRET: &str = "a call test secret of at least 32 bytes";

/// A signalling server on a free loopback port; `edit` adjusts its config.
pub async fn server_with(edit: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config::loopback("127.0.0.1:0".parse().expect("addr"), SECRET.into());
    edit(&mut config);
    Server::start(config).await.expect("signalling server")
}

pub fn ws_url(server: &Server) -> String {
    format!("ws://{}/ws", server.addr)
}

pub fn token(room: &str, role: Role) -> String {
    TokenKey::new(SECRET.as_bytes())
        .issue(room, role, 600, kakehashi_signal::token::unix_now())
        .expect("token")
}

/// A token that lets the room hold `seats` participants of `role` (a
/// second presenter, say, which the server otherwise refuses).
pub fn token_with_seats(room: &str, role: Role, seats: u16) -> String {
    TokenKey::new(SECRET.as_bytes())
        .issue_seated(
            room,
            role,
            600,
            Some(seats),
            kakehashi_signal::token::unix_now(),
        )
        .expect("token")
}

/// Start `kh call` on loopback and return once it has joined the room.
pub fn kh_call(ws: &str, room: &str, role: Role, stats: &Path, extra: &[&str]) -> Child {
    kh_call_with_env(ws, room, role, stats, extra, &[])
}

/// [`kh_call`] with extra environment variables.
pub fn kh_call_with_env(
    ws: &str,
    room: &str,
    role: Role,
    stats: &Path,
    extra: &[&str],
    env: &[(&str, &Path)],
) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kh"))
        .envs(env.iter().copied())
        .args([
            "call",
            "--server",
            ws,
            "--room",
            room,
            "--token",
            &token(room, role),
        ])
        .args(["--bind", "127.0.0.1", "--stats-json"])
        .arg(stats)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("kh call");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(
        first.contains(r#""joined""#),
        "kh call did not join: {first}"
    );
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

/// Wait for a `kh call`, check it succeeded, and read its statistics.
pub fn finish(mut child: Child, stats: &Path) -> Value {
    let status = child.wait().expect("wait");
    assert!(status.success(), "kh call exited {status}");
    read_json(stats)
}

/// [`finish`] for two calls, waited for off the async runtime (the
/// in-process signalling server keeps running on it).
pub async fn finish_both(a: Child, a_stats: &Path, b: Child, b_stats: &Path) -> (Value, Value) {
    let (a_stats, b_stats) = (a_stats.to_owned(), b_stats.to_owned());
    tokio::task::spawn_blocking(move || (finish(a, &a_stats), finish(b, &b_stats)))
        .await
        .expect("join")
}

/// [`finish`] for one call, off the async runtime.
pub async fn finish_one(child: Child, stats: &Path) -> Value {
    let stats = stats.to_owned();
    tokio::task::spawn_blocking(move || finish(child, &stats))
        .await
        .expect("join")
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("stats JSON");
    serde_json::from_str(&text).expect("stats parse")
}

/// A number at a dotted path, or a failure naming it.
pub fn f(v: &Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

/// What a foreign test peer (browser, aiortc) reports about kh's media:
/// connected, decoding `codec`, kh's stamps read in order, the pointer and pongs on the
/// data channels, no errors. `who` names the peer in failures.
pub fn assert_peer_got_kh_media(who: &str, report: &Value, states: &str, codec: &str) {
    assert!(
        report["errors"].as_array().is_some_and(|e| e.is_empty()),
        "{who}: {report}"
    );
    assert!(
        report[states].to_string().contains("connected"),
        "{who}: {report}"
    );
    assert_eq!(report["video_codec"], codec, "{who}: {report}");
    let stamps: Vec<u64> = report["stamps"]
        .as_array()
        .expect("stamps")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(stamps.len() > 20, "{who} read kh's stamps: {report}");
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "{who}, in order: {stamps:?}"
    );
    assert!(f(report, "pointer_received") > 10.0, "{who}: {report}");
    assert!(
        !report["pong_rtts"].as_array().expect("rtts").is_empty(),
        "{who}: {report}"
    );
}

/// What kh reports about a foreign peer's media: video decoded, audio
/// received, pointer moves and pong round trips on the data channels.
pub fn assert_kh_got_peer_media(kh: &Value) {
    assert!(f(kh, "video_in.frames_decoded") > 20.0, "{kh}");
    assert!(f(kh, "audio.packets_received") > 20.0, "{kh}");
    assert!(f(kh, "data.pointer_received") > 10.0, "{kh}");
    assert!(f(kh, "data.control_rtt_ms_p50") >= 0.0, "{kh}");
}

pub const TURN_SECRET: &str = "coturn static auth secret for tests";

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// coturn on loopback, answering once a STUN binding request gets a reply.
pub struct Coturn(Child);

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn coturn(port: u16, log: &Path) -> Coturn {
    let child = Command::new(kh_testkit::needs::program("turnserver", "coturn"))
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
        .expect("starting turnserver");
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

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new(kh_testkit::needs::program("openssl", "openssl"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        status.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// A private CA (`ca.pem`) and a server certificate (`server.pem`,
/// `server.key`) for the subject alternative names `san`
/// (`DNS:localhost,IP:127.0.0.1`).
pub fn certificates(dir: &Path, san: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &[
                "req",
                "-x509",
                "-days",
                "1",
                "-subj",
                "/CN=Kakehashi test CA",
            ][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign"],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req", "-subj", "/CN=localhost"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("san.ext"),
        format!("subjectAltName={san}\nextendedKeyUsage=serverAuth\n"),
    )
    .expect("extfile");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}
