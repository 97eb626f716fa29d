//! The real `kakehashi-signal` binary under hostile load on loopback:
//! hundreds of clients that send half a request header and stop
//! (slowloris), hundreds that upgrade, shrink their receive window to
//! nothing and flood binary frames without reading, a peer whose link
//! vanishes, a token used twice, a second presenter, the administrative
//! routes from another address. Attackers come from 127.0.0.2 and
//! 127.0.0.3 (loopback answers the whole 127/8), the legitimate clients
//! from 127.0.0.1.

use futures_util::{SinkExt, StreamExt};
use kakehashi_signal::{Role, TokenKey};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

mod common;
const SECRET: &str = "hostile load test secret 0123456789";
const WAIT: Duration = Duration::from_secs(20);

struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    fn start(limits: &str) -> ServerProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("signal.toml");
        std::fs::write(
            &config,
            format!("listen = \"127.0.0.1:0\"\ntoken_secret = \"{SECRET}\"\n[limits]\n{limits}\n"),
        )
        .expect("config");
        let (child, addr) = common::serve(&config, Stdio::null());
        let addr = addr.parse().expect("a socket address");
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

    /// The server's open file descriptors.
    fn descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// The server's `/metrics` value `name`, asked from 127.0.0.1.
    fn metric(&self, name: &str) -> f64 {
        let (_, body) = http_from(Ipv4Addr::LOCALHOST, self.addr, "/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP connection to `server` from the local address `from`.
fn tcp_from(
    from: Ipv4Addr,
    server: SocketAddr,
    receive_buffer: Option<usize>,
) -> std::net::TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes).expect("receive buffer");
    }
    socket
        .bind(&SocketAddr::from((from, 0)).into())
        .expect("bind the source address");
    socket.connect(&server.into()).expect("connect");
    socket.into()
}

/// A GET from `from`: (status, body).
fn http_from(from: Ipv4Addr, server: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tcp_from(from, server, None);
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n");
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

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket client from `from`.
async fn websocket_from(
    from: Ipv4Addr,
    server: SocketAddr,
    receive_buffer: Option<usize>,
) -> Option<Socket> {
    let stream = tcp_from(from, server, receive_buffer);
    stream.set_nonblocking(true).ok()?;
    let stream = tokio::net::TcpStream::from_std(stream).ok()?;
    tokio_tungstenite::client_async(format!("ws://{server}/ws"), stream)
        .await
        .ok()
        .map(|(socket, _)| socket)
}

/// The next JSON message; None once the server closed.
async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await.ok()? {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).ok(),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

async fn join(
    server: &ServerProcess,
    room: &str,
    role: Role,
    token: Option<String>,
) -> (Socket, Value) {
    let mut socket = websocket_from(Ipv4Addr::LOCALHOST, server.addr, None)
        .await
        .expect("a legitimate client connects");
    let token = token.unwrap_or_else(|| server.token(room, role));
    socket
        .send(Message::Text(
            json!({"type": "join", "version": 1, "token": token, "name": "legit"})
                .to_string()
                .into(),
        ))
        .await
        .expect("send the join");
    let reply = next(&mut socket).await.expect("an answer to the join");
    (socket, reply)
}

/// Polls `what` until it holds, up to `WAIT`; the last value either way.
fn wait_for(mut what: impl FnMut() -> usize, holds: impl Fn(usize) -> bool) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = what();
        if holds(value) || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_non_reading_floods_are_shed_and_a_legitimate_client_joins() {
    let server = ServerProcess::start(
        "max_connections = 500\nmax_connections_per_source = 200\nheader_timeout_s = 2\n\
         send_timeout_s = 2\nmessages_per_second = 20.0\nmessage_burst = 20.0\njoin_timeout_s = 5",
    );
    let baseline = server.descriptors();
    assert!(baseline > 0, "the server's descriptors can be counted");

    // 300 half headers from 127.0.0.2: a request line, one header, then
    // silence. At most 200 are admitted; the rest are refused at once.
    let half_headers: Vec<std::net::TcpStream> = (0..300)
        .map(|_| {
            let mut stream = tcp_from(Ipv4Addr::new(127, 0, 0, 2), server.addr, None);
            let _ = stream.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n");
            stream
        })
        .collect();

    // 300 upgrades from 127.0.0.3 with a tiny receive window, each sending
    // binary frames it never reads the answers to.
    let mut floods = Vec::new();
    for _ in 0..300 {
        if let Some(socket) =
            websocket_from(Ipv4Addr::new(127, 0, 0, 3), server.addr, Some(1024)).await
        {
            floods.push(socket);
        }
    }
    let flooding = floods.len();
    let (stop, _) = tokio::sync::watch::channel(false);
    let frames_sent = std::sync::Arc::new(AtomicUsize::new(0));
    let cut_off = std::sync::Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for mut socket in floods {
        let mut stop = stop.subscribe();
        let (frames_sent, cut_off) = (frames_sent.clone(), cut_off.clone());
        tasks.push(tokio::spawn(async move {
            let frame = Message::Binary(vec![0x5a; 512].into());
            loop {
                tokio::select! {
                    sent = socket.send(frame.clone()) => match sent {
                        Ok(()) => frames_sent.fetch_add(1, Ordering::Relaxed),
                        Err(_) => break,
                    },
                    _ = stop.changed() => break,
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            cut_off.fetch_add(1, Ordering::Relaxed);
            // Held open until the end: the server must let go of its side.
            let _ = stop.wait_for(|stopped| *stopped).await;
            drop(socket);
        }));
    }
    // The flood under way (every socket has sent a few frames, or the
    // server has already cut it off) before the legitimate client comes.
    let deadline = Instant::now() + WAIT;
    while frames_sent.load(Ordering::Relaxed) < flooding * 4
        && cut_off.load(Ordering::Relaxed) < flooding
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Under that, a legitimate client from elsewhere joins.
    let started = Instant::now();
    let (_legit, welcome) = join(&server, "case-under-attack", Role::Specialist, None).await;
    let joined_after = started.elapsed();
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    eprintln!(
        "under {} half headers and {flooding} non-reading floods: a legitimate join took {joined_after:?}",
        half_headers.len()
    );

    // The attackers are shed: the slow headers after the header timeout,
    // the floods by their rates and send timeouts. The server's descriptors
    // come back to where they were (the legitimate client holds one).
    let left = wait_for(|| server.descriptors(), |n| n <= baseline + 3);
    assert!(
        left <= baseline + 3,
        "the server holds {left} descriptors, {baseline} before the attack"
    );
    assert!(
        server.metric("kakehashi_signal_admission_refused_source_total") >= 100.0,
        "the per-source cap refused the excess"
    );
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    drop(half_headers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_whose_link_vanished_leaves_and_the_room_is_told() {
    let server = ServerProcess::start("heartbeat_s = 1\nheartbeat_timeout_s = 3");
    let (mut a, welcome) = join(&server, "case-heartbeat", Role::Specialist, None).await;
    assert_eq!(welcome["type"], "welcome");
    // B joins and then is never read again: no pong ever comes back, as
    // when a link drops without a FIN.
    let (_b, welcome_b) = join(&server, "case-heartbeat", Role::Presenter, None).await;
    let b_id = welcome_b["peer_id"].clone();
    let started = Instant::now();
    let mut left = None;
    // A keeps reading (and so answers the server's pings).
    while let Some(message) = next(&mut a).await {
        if message["type"] == "peer_left" {
            left = Some(message);
            break;
        }
    }
    let left = left.expect("A was told that B left");
    assert_eq!(left["peer_id"], b_id);
    eprintln!("B's silence noticed after {:?}", started.elapsed());
    assert!(server.metric("kakehashi_signal_heartbeat_lost_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_joins_once_and_a_room_has_one_presenter() {
    let server = ServerProcess::start("");
    let token = server.token("case-tokens", Role::Presenter);
    let (_first, welcome) =
        join(&server, "case-tokens", Role::Presenter, Some(token.clone())).await;
    assert_eq!(welcome["type"], "welcome");
    let (_second, refused) = join(&server, "case-tokens", Role::Presenter, Some(token)).await;
    assert_eq!(refused["code"], "token_in_use", "{refused}");
    let (_other, refused) = join(&server, "case-tokens", Role::Presenter, None).await;
    assert_eq!(refused["code"], "role_taken", "{refused}");
    let (_specialist, welcome) = join(&server, "case-tokens", Role::Specialist, None).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
}

#[test]
fn the_administrative_routes_answer_only_allowed_addresses() {
    let server = ServerProcess::start("");
    let (status, _) = http_from(Ipv4Addr::LOCALHOST, server.addr, "/metrics");
    assert_eq!(status, 200);
    let (status, body) = http_from(Ipv4Addr::new(127, 0, 0, 9), server.addr, "/metrics");
    assert_eq!(status, 403, "{body}");
    // Health stays public (load balancers ask it).
    let (status, _) = http_from(Ipv4Addr::new(127, 0, 0, 9), server.addr, "/healthz");
    assert_eq!(status, 200);
}
