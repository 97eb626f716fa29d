//! The real `kakehashi-signal` binary on loopback, driven by WebSocket
//! clients (tokio-tungstenite) and raw HTTP: rooms, relaying, tokens,
//! hostile input, health, metrics, the token API and graceful shutdown.

use futures_util::{SinkExt, StreamExt};
use kakehashi_signal::{Role, TokenKey};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

mod common;

use common::BIN;
const SECRET: &str = "loopback test secret 0123456789";
const API_KEY: &str = "hospital system key 0123456789";
const WAIT: Duration = Duration::from_secs(10);

struct ServerProcess {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    fn start() -> ServerProcess {
        ServerProcess::start_with(Stdio::inherit(), |_| {})
    }

    /// The server logging everything it can (`RUST_LOG=trace`) into `log`.
    fn start_logging_into(log: &std::path::Path) -> ServerProcess {
        let file = std::fs::File::create(log).expect("log file");
        ServerProcess::start_with(file.into(), |command| {
            command.env("RUST_LOG", "trace");
        })
    }

    fn start_with(stderr: Stdio, adjust: impl FnOnce(&mut Command)) -> ServerProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("signal.toml");
        std::fs::write(
            &config,
            format!(
                r#"
listen = "127.0.0.1:0"
token_secret = "{SECRET}"
api_key = "{API_KEY}"
[ice]
stun_urls = ["stun:127.0.0.1:3478"]
turn_urls = ["turn:127.0.0.1:3478?transport=udp"]
turn_secret = "coturn static auth secret"
[limits]
max_peers_per_room = 3
max_message_bytes = 4096
messages_per_second = 20.0
message_burst = 20.0
join_timeout_s = 1
"#
            ),
        )
        .expect("config");
        let (child, addr) = common::serve_with(&config, stderr, adjust);
        ServerProcess {
            child,
            addr,
            _dir: dir,
        }
    }

    fn token(&self, room: &str, role: Role) -> String {
        TokenKey::new(SECRET.as_bytes())
            .issue(room, role, 600, kakehashi_signal::token::unix_now())
            .expect("token")
    }

    /// A raw HTTP/1.1 request: (status, body).
    fn http(&self, request: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.http(&format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        ))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Client {
    socket: Socket,
}

impl Client {
    async fn connect(server: &ServerProcess) -> Client {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr))
            .await
            .expect("websocket");
        Client { socket }
    }

    async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    async fn send_text(&mut self, text: String) {
        self.socket
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next JSON message; None when the server closed.
    async fn next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message within the wait");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("JSON from the server"));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    async fn expect(&mut self, kind: &str) -> Value {
        let m = self
            .next()
            .await
            .unwrap_or_else(|| panic!("closed before {kind}"));
        assert_eq!(m["type"], kind, "expected {kind}, got {m}");
        m
    }

    async fn join(server: &ServerProcess, room: &str, role: Role, name: &str) -> (Client, Value) {
        let mut c = Client::connect(server).await;
        c.send(
            json!({"type": "join", "version": 1, "token": server.token(room, role), "name": name}),
        )
        .await;
        let welcome = c.expect("welcome").await;
        (c, welcome)
    }

    /// The server closes this connection (after any messages).
    async fn expect_closed(&mut self) {
        while self.next().await.is_some() {}
    }
}

#[tokio::test]
async fn peers_negotiate_chat_and_see_each_other_leave() {
    let server = ServerProcess::start();
    let (mut a, welcome_a) = Client::join(&server, "case-1", Role::Specialist, "Dr A").await;
    assert_eq!(welcome_a["participants"], json!([]));
    // TURN credentials in coturn's REST form: "<expiry>:<peer id>".
    let ice = &welcome_a["ice_servers"];
    assert_eq!(ice[0]["urls"][0], "stun:127.0.0.1:3478");
    let user = ice[1]["username"].as_str().expect("TURN username");
    assert!(user.ends_with(welcome_a["peer_id"].as_str().expect("id")));
    assert!(ice[1]["credential"].as_str().is_some_and(|c| c.len() == 28));

    let (mut b, welcome_b) = Client::join(&server, "case-1", Role::Presenter, "Dr B").await;
    let (a_id, b_id) = (
        welcome_a["peer_id"].as_str().expect("a").to_string(),
        welcome_b["peer_id"].as_str().expect("b").to_string(),
    );
    assert_eq!(welcome_b["participants"][0]["peer_id"], a_id);
    assert_eq!(welcome_b["participants"][0]["role"], "specialist");
    let joined = a.expect("peer_joined").await;
    assert_eq!(joined["participant"]["peer_id"], b_id);

    b.send(json!({"type": "offer", "to": a_id, "sdp": "v=0 offer"}))
        .await;
    let offer = a.expect("offer").await;
    assert_eq!(
        (offer["from"].as_str(), offer["sdp"].as_str()),
        (Some(b_id.as_str()), Some("v=0 offer"))
    );
    a.send(json!({"type": "answer", "to": b_id, "sdp": "v=0 answer"}))
        .await;
    assert_eq!(b.expect("answer").await["sdp"], "v=0 answer");
    a.send(json!({"type": "candidate", "to": b_id, "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdp_mid": "0", "sdp_mline_index": 0})).await;
    let candidate = b.expect("candidate").await;
    assert_eq!(candidate["sdp_mline_index"], 0);
    b.send(json!({"type": "ice_restart", "to": a_id})).await;
    assert_eq!(a.expect("ice_restart").await["from"], b_id);
    a.send(json!({"type": "offer", "to": b_id, "sdp": "v=0 restart", "ice_restart": true}))
        .await;
    assert_eq!(b.expect("offer").await["ice_restart"], true);
    a.send(json!({"type": "chat", "text": "the margin at 3 o'clock"}))
        .await;
    for c in [&mut a, &mut b] {
        let chat = c.expect("chat").await;
        assert_eq!(
            (chat["from"].as_str(), chat["text"].as_str()),
            (Some(a_id.as_str()), Some("the margin at 3 o'clock"))
        );
    }
    b.send(json!({"type": "ping", "id": 7})).await;
    assert_eq!(b.expect("pong").await["id"], 7);

    // B vanishes mid-negotiation (TCP dropped, no close handshake).
    b.send(json!({"type": "offer", "to": a_id, "sdp": "v=0 half"}))
        .await;
    drop(b);
    a.expect("offer").await;
    assert_eq!(a.expect("peer_left").await["peer_id"], b_id);
    // The room still works: a new peer joins and sees only A.
    let (_c, welcome_c) = Client::join(&server, "case-1", Role::Observer, "Student").await;
    assert_eq!(welcome_c["participants"].as_array().map(Vec::len), Some(1));
    a.expect("peer_joined").await;

    let (status, health) = server.get("/healthz");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&health).expect("health JSON");
    assert_eq!(
        (health["rooms"].as_u64(), health["peers"].as_u64()),
        (Some(1), Some(2))
    );
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("kakehashi_signal_peers 2"), "{metrics}");
    assert!(
        metrics.contains("kakehashi_signal_joins_total 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn tokens_are_checked_and_rooms_are_sealed() {
    let server = ServerProcess::start();
    let key = TokenKey::new(SECRET.as_bytes());
    let now = kakehashi_signal::token::unix_now();
    let expired = key
        .issue("case-2", Role::Presenter, 60, now - 3600)
        .expect("token");
    let foreign = TokenKey::new(b"another server's secret!!")
        .issue("case-2", Role::Specialist, 600, now)
        .expect("token");
    let good = server.token("case-2", Role::Specialist);
    let mut tampered = good.clone();
    tampered.insert(tampered.len() - 3, 'A');
    tampered.truncate(good.len());
    for (what, join) in [
        ("no token", json!({"type": "join", "version": 1})),
        (
            "empty token",
            json!({"type": "join", "version": 1, "token": ""}),
        ),
        (
            "expired",
            json!({"type": "join", "version": 1, "token": expired}),
        ),
        (
            "bad signature",
            json!({"type": "join", "version": 1, "token": foreign}),
        ),
        (
            "tampered",
            json!({"type": "join", "version": 1, "token": tampered}),
        ),
    ] {
        let mut c = Client::connect(&server).await;
        c.send(join).await;
        let reply = c
            .next()
            .await
            .unwrap_or_else(|| panic!("{what}: closed without a reason"));
        assert_eq!(reply["type"], "error", "{what}: {reply}");
        assert!(
            reply["code"] == "unauthorized" || reply["code"] == "bad_message",
            "{what}: {reply}"
        );
        if reply["code"] == "unauthorized" {
            c.expect_closed().await;
        }
    }
    // Nothing before join.
    let mut c = Client::connect(&server).await;
    c.send(json!({"type": "chat", "text": "hello?"})).await;
    assert_eq!(c.expect("error").await["code"], "not_joined");

    // Two rooms: a peer of one cannot reach a peer of the other, even by id.
    let (mut a, wa) = Client::join(&server, "case-2", Role::Specialist, "A").await;
    let (mut b, _) = Client::join(&server, "case-3", Role::Specialist, "B").await;
    b.send(json!({"type": "offer", "to": wa["peer_id"], "sdp": "intrusion"}))
        .await;
    assert_eq!(b.expect("error").await["code"], "no_such_peer");
    b.send(json!({"type": "chat", "text": "anyone?"})).await;
    b.expect("chat").await;
    a.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(
        a.expect("pong").await["id"],
        1,
        "A received nothing from the other room"
    );

    // The token API: wrong key refused; right key gives a token that joins.
    let post = |key: &str, body: &str| {
        format!(
            "POST /v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let body = r#"{"room":"case-4","role":"presenter","ttl_s":7200}"#;
    assert_eq!(server.http(&post("wrong key", body)).0, 401);
    assert_eq!(
        server
            .http(&post(
                API_KEY,
                r#"{"room":"case-4","role":"king","ttl_s":60}"#
            ))
            .0,
        400
    );
    assert_eq!(
        server
            .http(&post(
                API_KEY,
                r#"{"room":"case-4","role":"presenter","ttl_s":999999}"#
            ))
            .0,
        400
    );
    let (status, issued) = server.http(&post(API_KEY, body));
    assert_eq!(status, 200, "{issued}");
    let issued: Value = serde_json::from_str(&issued).expect("JSON");
    let mut c = Client::connect(&server).await;
    c.send(json!({"type": "join", "version": 1, "token": issued["token"]}))
        .await;
    let welcome = c.expect("welcome").await;
    assert_eq!(
        (welcome["room"].as_str(), welcome["role"].as_str()),
        (Some("case-4"), Some("presenter"))
    );

    // And the CLI issues tokens the server accepts.
    let out = Command::new(BIN)
        .args([
            "token", "--room", "case-5", "--role", "observer", "--ttl", "2h",
        ])
        .env("KAKEHASHI_SIGNAL_TOKEN_SECRET", SECRET)
        .output()
        .expect("token command");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut c = Client::connect(&server).await;
    c.send(json!({"type": "join", "version": 1, "token": token}))
        .await;
    assert_eq!(c.expect("welcome").await["role"], "observer");
}

#[tokio::test]
async fn hostile_input_meets_errors_and_limits() {
    let server = ServerProcess::start();
    let (mut a, wa) = Client::join(&server, "case-6", Role::Specialist, "A").await;
    let a_id = wa["peer_id"].as_str().expect("id").to_string();

    for (i, (text, code)) in [
        ("{not json".to_string(), "bad_message"),
        ("[1,2,3]".to_string(), "bad_message"),
        (
            r#"{"type":"teleport","to":"x"}"#.to_string(),
            "unknown_type",
        ),
        (r#"{"type":"offer","to":7}"#.to_string(), "bad_message"),
        (
            r#"{"type":"answer","to":"nobody","sdp":""}"#.to_string(),
            "no_such_peer",
        ),
        (
            json!({"type": "join", "version": 1, "token": "x"}).to_string(),
            "unauthorized",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // A room each: the previous one's departure must not be the reply.
        let room = format!("case-7-{i}");
        let (mut c, _) = Client::join(&server, &room, Role::Presenter, "fuzzer").await;
        c.send_text(text.clone()).await;
        let reply = c
            .next()
            .await
            .unwrap_or_else(|| panic!("{text}: closed without a reason"));
        assert_eq!(reply["code"], code, "{text}: {reply}");
    }

    // Observers do not send offers.
    let (mut o, _) = Client::join(&server, "case-6", Role::Observer, "O").await;
    a.expect("peer_joined").await;
    o.send(json!({"type": "offer", "to": a_id, "sdp": "x"}))
        .await;
    assert_eq!(o.expect("error").await["code"], "forbidden");

    // Too large: an error naming the limit, then the connection closes.
    let (mut big, _) = Client::join(&server, "case-8", Role::Presenter, "big").await;
    big.send(json!({"type": "chat", "text": "x".repeat(4500)}))
        .await;
    let reply = big.expect("error").await;
    assert_eq!(reply["code"], "too_large");
    big.expect_closed().await;
    // Far too large for the socket layer: the connection is cut.
    // (Its own room: a room holds one presenter, and the one above may
    // not have left yet.)
    let (mut huge, _) = Client::join(&server, "case-8b", Role::Presenter, "huge").await;
    let _ = huge
        .socket
        .send(Message::Text("y".repeat(1 << 20).into()))
        .await;
    huge.expect_closed().await;

    // A flood: refused past the burst, then cut off; others unaffected.
    let (mut flood, _) = Client::join(&server, "case-9", Role::Presenter, "flood").await;
    for i in 0..200 {
        if flood
            .socket
            .send(Message::Text(
                json!({"type": "ping", "id": i}).to_string().into(),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut limited = false;
    while let Some(m) = flood.next().await {
        limited |= m["code"] == "rate_limited";
    }
    assert!(limited, "the flood was never rate limited");

    // Joining and then never speaking is fine; connecting and never
    // joining is closed after the join timeout (1 s here).
    let mut idle = Client::connect(&server).await;
    assert_eq!(idle.expect("error").await["code"], "not_joined");
    idle.expect_closed().await;

    // A room full at 3.
    let (_x, _) = Client::join(&server, "case-6", Role::Observer, "X").await;
    let mut full = Client::connect(&server).await;
    full.send(
        json!({"type": "join", "version": 1, "token": server.token("case-6", Role::Observer)}),
    )
    .await;
    assert_eq!(full.expect("error").await["code"], "room_full");

    // After all that, the first peer still works.
    a.send(json!({"type": "ping", "id": 99})).await;
    loop {
        let m = a.next().await.expect("A is still connected");
        if m["type"] == "pong" {
            assert_eq!(m["id"], 99);
            break;
        }
    }
}

#[tokio::test]
async fn shutdown_tells_peers_and_exits_cleanly() {
    let mut server = ServerProcess::start();
    let (mut a, _) = Client::join(&server, "case-10", Role::Specialist, "A").await;
    let pid = server.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let reply = a.expect("error").await;
    assert_eq!(reply["code"], "going_away");
    a.expect_closed().await;
    let exit = tokio::task::spawn_blocking(move || {
        let status = server.child.wait();
        (server, status)
    })
    .await
    .expect("join");
    assert!(
        exit.1.expect("wait").success(),
        "the server exits 0 on SIGTERM"
    );
}

/// Clients choose room names and display names, and hospitals have put
/// patients' names in both: the server's log — at its most verbose, every
/// library included — keeps the audit (who was issued what, who joined)
/// and names neither.
#[tokio::test]
async fn the_log_names_no_room_no_person_and_no_chat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("signal.log");
    let mut server = ServerProcess::start_logging_into(&log);
    let room = "Yamada_Taro-biopsy";
    let body = format!(r#"{{"room":"{room}","role":"presenter","ttl_s":600}}"#);
    let (status, issued) = server.http(&format!(
        "POST /v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(status, 200, "{issued}");
    let issued: Value = serde_json::from_str(&issued).expect("JSON");
    let mut a = Client::connect(&server).await;
    a.send(
        json!({"type": "join", "version": 1, "token": issued["token"], "name": "Yamada Taro's GP"}),
    )
    .await;
    a.expect("welcome").await;
    let (mut b, _) = Client::join(&server, room, Role::Specialist, "Dr Suzuki").await;
    a.expect("peer_joined").await;
    b.send(json!({"type": "chat", "text": "Yamada-san's margins look clear"}))
        .await;
    a.expect("chat").await;
    drop(b);
    a.expect("peer_left").await;
    let pid = server.child.id().to_string();
    let stopped = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(stopped.expect("kill").success());
    let server = tokio::task::spawn_blocking(move || {
        let _ = server.child.wait();
        server
    })
    .await
    .expect("join");
    drop(server);

    let text = std::fs::read_to_string(&log).expect("log");
    for audit in ["token issued", "joined", "disconnected"] {
        assert!(text.contains(audit), "no {audit:?} in the log:\n{text}");
    }
    for secret in ["Yamada", "Suzuki", "margins"] {
        assert!(
            !text.to_lowercase().contains(&secret.to_lowercase()),
            "{secret} is in the server's log:\n{text}"
        );
    }
}
