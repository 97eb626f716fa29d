//! The server: WebSocket rooms, the token endpoint, health and metrics.
//! Sockets and tasks live here; every decision is in [`crate::rooms`].

use crate::config::Config;
use crate::metrics::Metrics;
use crate::protocol::{self, ClientMessage, ErrorCode, Role, ServerMessage};
use crate::rooms::{ConnId, Output, Rooms};
use crate::token::{TokenKey, unix_now, valid_room};
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Messages queued for one connection before it counts as too slow and is
/// closed (a stuck client must not hold the server's memory); the bytes
/// they may hold are `limits.max_queued_bytes`.
const OUTBOUND_QUEUE: usize = 256;
/// Time given to connections to finish when the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

enum Outbound {
    Message(String),
    Ping,
    Close(u16, &'static str),
}

/// One connection's way out: its queue, the bytes waiting in it, and the
/// switch that ends it. A connection that does not keep up is ended with
/// the switch — not with a close frame pushed onto the very queue that is
/// full.
#[derive(Clone)]
struct Outbox {
    queue: mpsc::Sender<Outbound>,
    queued_bytes: Arc<std::sync::atomic::AtomicUsize>,
    end: CancellationToken,
}

/// What every connection task and route of the server reads: the
/// configuration, the token key, the rooms and each connection's outbox.
struct ServerState {
    config: Config,
    tokens: TokenKey,
    rooms: Mutex<Rooms>,
    senders: Mutex<HashMap<ConnId, Outbox>>,
    next_conn: AtomicU64,
    metrics: Metrics,
    shutdown: watch::Receiver<bool>,
    /// The WebSocket connections. Upgraded connections are no longer the
    /// HTTP server's, so shutdown waits on these itself: otherwise the
    /// process could exit before peers are told it is going away.
    connections: TaskTracker,
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    stop: watch::Sender<bool>,
    connections: TaskTracker,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Server {
    /// Validate `config`, bind and start serving.
    pub async fn start(config: Config) -> Result<Server, ServeError> {
        config.validate()?;
        let (stop, shutdown) = watch::channel(false);
        let shared = Arc::new(ServerState {
            tokens: TokenKey::new(config.token_secret.as_bytes()),
            rooms: Mutex::new(Rooms::new(config.limits.rooms())),
            senders: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            metrics: Metrics::default(),
            shutdown,
            connections: TaskTracker::new(),
            config: config.clone(),
        });
        let connections = shared.connections.clone();
        let metrics_for_refusals = shared.clone();
        let admission = crate::admission::AdmissionAcceptor {
            admission: crate::admission::Admission::new(
                config.limits.max_connections,
                config.limits.max_connections_per_source,
            ),
            on_refused: Arc::new(move |refused| {
                metrics_for_refusals
                    .metrics
                    .count_admission_refused(refused)
            }),
        };
        let header_timeout = Duration::from_secs(config.limits.header_timeout_s);
        let app = Router::new()
            .route("/ws", get(upgrade))
            .route("/healthz", get(health))
            .route("/metrics", get(metrics))
            .route("/v1/tokens", post(issue_token))
            .with_state(shared);
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let handle = axum_server::Handle::new();
        // A connection must have sent a whole first request within the
        // header timeout (a slowloris client sending a byte at a time is
        // closed); later requests on it the same; TLS handshakes too.
        // axum-server leaves all three off by default.
        let mut server = axum_server::bind(config.listen)
            .handle(handle.clone())
            .first_request_timeout(header_timeout);
        server
            .http_builder()
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout);
        let task = match &config.tls {
            Some(tls) => {
                let rustls =
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                        .await
                        .map_err(ServeError::Tls)?;
                let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(rustls)
                    .handshake_timeout(header_timeout)
                    .acceptor(admission);
                let server = server.acceptor(acceptor);
                tokio::spawn(async move { server.serve(service).await })
            }
            None => {
                let server = server.acceptor(admission);
                tokio::spawn(async move { server.serve(service).await })
            }
        };
        let Some(addr) = handle.listening().await else {
            let source = match task.await {
                Ok(Err(e)) => e,
                _ => std::io::Error::other("the listener stopped before it started"),
            };
            return Err(ServeError::Bind {
                addr: config.listen,
                source,
            });
        };
        tracing::info!(%addr, tls = config.tls.is_some(), "signalling server listening");
        Ok(Server {
            addr,
            handle,
            stop,
            task,
            connections,
        })
    }

    /// Stop: refuse new connections, tell every peer the server is going
    /// away, give them a moment, then finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
        let _ = self.task.await;
        self.connections.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.connections.len(),
                "connections still open after the grace period; leaving them"
            );
        }
        tracing::info!("signalling server stopped");
    }
}

async fn health(State(shared): State<Arc<ServerState>>) -> impl IntoResponse {
    let rooms = shared.rooms.lock();
    axum::Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": protocol::PROTOCOL_VERSION,
        "rooms": rooms.room_count(),
        "peers": rooms.peer_count(),
    }))
}

/// Whether `remote` may reach the administrative routes (`/metrics`, the
/// token API): only the addresses the configuration allows — loopback by
/// default — however the network around the server is drawn.
fn admin_allowed(shared: &ServerState, remote: SocketAddr) -> bool {
    shared.config.admin_allow.contains(&remote.ip())
}

fn admin_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({
            "error": "this address may not use the administrative routes (see admin_allow)"
        })),
    )
        .into_response()
}

async fn metrics(
    State(shared): State<Arc<ServerState>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
) -> Response {
    if !admin_allowed(&shared, remote) {
        return admin_refused();
    }
    let (rooms, peers) = {
        let r = shared.rooms.lock();
        (r.room_count(), r.peer_count())
    };
    (
        [("content-type", "text/plain; version=0.0.4")],
        shared.metrics.render(rooms, peers),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    room: String,
    role: Role,
    ttl_s: u64,
    /// Participants of this role the room may hold when it joins.
    #[serde(default)]
    seats: Option<u16>,
}

/// `POST /v1/tokens` with `Authorization: Bearer <api_key>`.
async fn issue_token(
    State(shared): State<Arc<ServerState>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !admin_allowed(&shared, remote) {
        return admin_refused();
    }
    let refuse = |status: StatusCode, message: &str| {
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    };
    let Some(api_key) = &shared.config.api_key else {
        return refuse(
            StatusCode::NOT_FOUND,
            "token issuing is not enabled on this server",
        );
    };
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), api_key.as_bytes()) {
        shared.metrics.count_api_refused();
        tracing::warn!("token request with a wrong or missing API key");
        return refuse(StatusCode::UNAUTHORIZED, "wrong or missing API key");
    }
    let request: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
    };
    if request.ttl_s == 0 || request.ttl_s > shared.config.max_token_ttl_s {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("ttl_s must be 1..={}", shared.config.max_token_ttl_s),
        );
    }
    if !valid_room(&request.room) {
        return refuse(StatusCode::BAD_REQUEST, "bad room name");
    }
    let now = unix_now();
    match shared.tokens.issue_seated(
        &request.room,
        request.role,
        request.ttl_s,
        request.seats,
        now,
    ) {
        Ok(token) => {
            shared.metrics.count_token_issued();
            // Who may enter which room, for the audit: the token's id, the
            // room as a tag (a room name is the client's to choose, and
            // clients have put patient names in them; the token id links
            // this line to the join) and the role.
            let id = shared
                .tokens
                .verify(&token, now)
                .map(|c| c.jti)
                .unwrap_or_default();
            tracing::info!(token = %id, room = %kh_log::tag(&request.room), role = request.role.as_str(), ttl_s = request.ttl_s, "token issued");
            axum::Json(serde_json::json!({
                "token": token, "expires_at": now + request.ttl_s,
            }))
            .into_response()
        }
        Err(e) => refuse(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

async fn upgrade(
    State(shared): State<Arc<ServerState>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    // The connection cap itself is held when connections are accepted
    // (`admission`), before any request is read.
    if *shared.shutdown.borrow() {
        shared.metrics.count_connection_refused();
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
            .into_response();
    }
    // Room for a message slightly over the limit, so it is read and
    // refused with an error rather than cutting the connection blind.
    let limit = shared.config.limits.max_message_bytes;
    // Buffers sized for signalling (tungstenite's defaults are 128 KiB
    // each, a connection's largest cost), the write buffer bounded too.
    ws.max_message_size(limit + 1024)
        .max_frame_size(limit + 1024)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(shared.config.limits.max_queued_bytes.max(limit + 1024))
        .on_upgrade(move |socket| {
            let connections = shared.connections.clone();
            connections.track_future(connection(shared, socket, remote))
        })
}

/// A connection's read buffer: a few typical messages (an offer is ~10 KB).
const READ_BUFFER: usize = 16 * 1024;

/// How long a connection the server closed may take to answer the close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// A token bucket: messages, or bytes, a connection may send.
struct Bucket {
    tokens: f64,
    per_second: f64,
    burst: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_second: f64, burst: f64) -> Bucket {
        Bucket {
            tokens: burst,
            per_second,
            burst,
            last: Instant::now(),
        }
    }

    /// Take `amount` at `now`; whether there was room. The debt a refusal
    /// leaves counts: a client that keeps sending past a burst's worth of
    /// refusals is cut off.
    fn take(&mut self, now: Instant, amount: f64) -> bool {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.tokens -= amount;
        self.tokens >= 0.0
    }

    fn deeply_overdrawn(&self) -> bool {
        self.tokens < -self.burst
    }
}

/// Writes one connection's queue to its socket: each message within the
/// send timeout, or the connection ends.
async fn write_connection(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outbound: mpsc::Receiver<Outbound>,
    outbox: Outbox,
    send_timeout: Duration,
) {
    loop {
        let item = tokio::select! {
            item = outbound.recv() => item,
            () = outbox.end.cancelled() => None,
        };
        let Some(item) = item else { break };
        let (message, closing) = match item {
            Outbound::Message(text) => {
                outbox.queued_bytes.fetch_sub(text.len(), Ordering::Relaxed);
                (Message::Text(text.into()), false)
            }
            Outbound::Ping => (Message::Ping(Vec::new().into()), false),
            Outbound::Close(code, reason) => (
                Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })),
                true,
            ),
        };
        let sent = tokio::select! {
            sent = tokio::time::timeout(send_timeout, sink.send(message)) => sent,
            () = outbox.end.cancelled() => break,
        };
        match sent {
            Ok(Ok(())) if !closing => {}
            Ok(Ok(())) => break,
            Ok(Err(_)) => {
                outbox.end.cancel();
                break;
            }
            Err(_) => {
                tracing::warn!(
                    "a connection did not take a message in {send_timeout:?}; closing it"
                );
                outbox.end.cancel();
                break;
            }
        }
    }
    // A connection ended by the switch may not be read by its client at
    // all: the socket is dropped rather than closed politely.
    if !outbox.end.is_cancelled() {
        let _ = tokio::time::timeout(send_timeout, sink.close()).await;
    }
}

async fn connection(shared: Arc<ServerState>, socket: WebSocket, remote: SocketAddr) {
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (sink, mut stream) = socket.split();
    let (send, outbound) = mpsc::channel::<Outbound>(OUTBOUND_QUEUE);
    let limits = shared.config.limits;
    let outbox = Outbox {
        queue: send,
        queued_bytes: Arc::default(),
        end: CancellationToken::new(),
    };
    shared.senders.lock().insert(conn, outbox.clone());
    shared.metrics.connection_opened();
    tracing::debug!(conn, %remote, "connected");
    let writer = tokio::spawn(write_connection(
        sink,
        outbound,
        outbox.clone(),
        Duration::from_secs(limits.send_timeout_s),
    ));
    let mut messages = Bucket::new(limits.messages_per_second, limits.message_burst);
    let mut bytes = Bucket::new(limits.bytes_per_second, limits.byte_burst);
    let join_deadline = tokio::time::Instant::now() + Duration::from_secs(limits.join_timeout_s);
    let heartbeat_timeout = Duration::from_secs(limits.heartbeat_timeout_s);
    let mut heartbeat = tokio::time::interval(Duration::from_secs(limits.heartbeat_s));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    let mut shutdown = shared.shutdown.clone();
    // Whether the server ended the connection (and so sent a close frame).
    let mut server_closed = false;
    loop {
        let joined = shared.rooms.lock().is_joined(conn);
        let next = tokio::select! {
            m = stream.next() => m,
            _ = tokio::time::sleep_until(join_deadline), if !joined => {
                deliver(&shared, error_then_close(conn, ErrorCode::NotJoined, "no join within the time allowed"));
                server_closed = true;
                break;
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > heartbeat_timeout {
                    // The link vanished (nothing, not even a pong, came
                    // back): the peer leaves, and its room is told.
                    tracing::info!(conn, "no answer for {heartbeat_timeout:?}; the connection is gone");
                    shared.metrics.count_heartbeat_lost();
                    outbox.end.cancel();
                    break;
                }
                queue(&shared, &outbox, conn, Outbound::Ping, 0);
                continue;
            }
            () = outbox.end.cancelled() => break,
            _ = shutdown.changed() => {
                deliver(&shared, error_then_close(conn, ErrorCode::GoingAway, "the server is shutting down"));
                server_closed = true;
                break;
            }
        };
        let message = match next {
            Some(Ok(message)) => message,
            None => break,
            Some(Err(e)) => {
                // Oversized frames end here, as do broken connections.
                tracing::debug!(conn, "connection error: {e}");
                shared.metrics.count_error(ErrorCode::TooLarge);
                break;
            }
        };
        last_heard = tokio::time::Instant::now();
        if matches!(message, Message::Close(_)) {
            break;
        }
        // Every frame a client sends counts against its rates, before it
        // is looked at: a flood of binary frames or pings answered with
        // errors would otherwise cost the server more than the client.
        let now = Instant::now();
        let size = match &message {
            Message::Text(text) => text.len(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data.len(),
            Message::Close(_) => 0,
        } as f64;
        let within = messages.take(now, 1.0) & bytes.take(now, size);
        if matches!(message, Message::Pong(_) | Message::Ping(_)) && within {
            continue;
        }
        shared.metrics.count_message_in();
        if !within {
            shared.metrics.count_error(ErrorCode::RateLimited);
            if messages.deeply_overdrawn() || bytes.deeply_overdrawn() {
                deliver(
                    &shared,
                    error_then_close(
                        conn,
                        ErrorCode::RateLimited,
                        "too many messages; the connection is closed",
                    ),
                );
                server_closed = true;
                break;
            }
            deliver(
                &shared,
                reply_error(conn, ErrorCode::RateLimited, "too many messages; slow down"),
            );
            continue;
        }
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                deliver(
                    &shared,
                    reply_error(
                        conn,
                        ErrorCode::BadMessage,
                        "binary messages are not part of the protocol",
                    ),
                );
                continue;
            }
            _ => continue,
        };
        if text.len() > limits.max_message_bytes {
            deliver(
                &shared,
                error_then_close(
                    conn,
                    ErrorCode::TooLarge,
                    &format!("messages are at most {} bytes", limits.max_message_bytes),
                ),
            );
            server_closed = true;
            break;
        }
        let outputs = match protocol::parse_client(&text) {
            Err((code, message)) => reply_error(conn, code, &message),
            Ok(ClientMessage::Join {
                version,
                token,
                name,
            }) => join(&shared, conn, version, &token, &name),
            Ok(message) => {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let out = shared.rooms.lock().handle(conn, message, now_ms);
                shared.metrics.count_relayed(&out);
                out
            }
        };
        let closing = outputs
            .iter()
            .any(|o| matches!(o, Output::Close(c) if *c == conn));
        deliver(&shared, outputs);
        if closing {
            server_closed = true;
            break;
        }
    }
    if server_closed && !outbox.end.is_cancelled() {
        // The closing handshake: keep reading (and discarding) until the
        // client answers the close frame. Closing the socket with its
        // messages unread would make the kernel reset the connection, and
        // a reset throws away what the client had not yet read — the very
        // error that says why it was closed.
        let drain = async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(CLOSE_GRACE, drain) => {}
            () = outbox.end.cancelled() => {}
        }
    }
    // Gone, by choice or not: the room hears of it.
    let left = shared.rooms.lock().leave(conn);
    deliver(&shared, left);
    shared.senders.lock().remove(&conn);
    if tokio::time::timeout(CLOSE_GRACE, writer).await.is_err() {
        outbox.end.cancel();
    }
    drop(stream);
    shared.metrics.connection_closed();
    tracing::debug!(conn, "disconnected");
}

fn join(shared: &ServerState, conn: ConnId, version: u32, token: &str, name: &str) -> Vec<Output> {
    let now = unix_now();
    let claims = match shared
        .tokens
        .verify_lifetime(token, now, shared.config.max_token_ttl_s)
    {
        Ok(c) => c,
        Err(e) => {
            shared.metrics.count_error(ErrorCode::Unauthorized);
            tracing::warn!(conn, "join refused: {e}");
            return error_then_close(conn, ErrorCode::Unauthorized, &format!("join refused: {e}"));
        }
    };
    let ice = &shared.config.ice;
    let out = shared
        .rooms
        .lock()
        .join(conn, &claims, version, name, |peer_id| {
            // TURN credentials live no longer than the token that admitted
            // the peer.
            let token_left = claims.exp.saturating_sub(now).max(1);
            crate::turn::ice_servers(
                &ice.stun_urls,
                &ice.turn_urls,
                ice.turn_secret.as_deref().map(str::as_bytes),
                peer_id,
                ice.turn_ttl_s.min(token_left),
                now,
            )
        });
    if let Some(Output::Send(_, ServerMessage::Welcome { peer_id, room, .. })) = out.first() {
        // Room names are case numbers chosen by the hospital system, not
        // patient data; display names are never logged.
        tracing::info!(conn, peer = %peer_id, room = %kh_log::tag(room), role = claims.role.as_str(), token = %claims.jti, "joined");
        shared.metrics.count_join();
    }
    out
}

fn reply_error(conn: ConnId, code: ErrorCode, message: &str) -> Vec<Output> {
    vec![Output::Send(
        conn,
        ServerMessage::Error {
            code,
            message: message.to_owned(),
        },
    )]
}

fn error_then_close(conn: ConnId, code: ErrorCode, message: &str) -> Vec<Output> {
    let mut out = reply_error(conn, code, message);
    out.push(Output::Close(conn));
    out
}

/// Queue outputs on their connections.
fn deliver(shared: &ServerState, outputs: Vec<Output>) {
    let senders = shared.senders.lock();
    for output in outputs {
        let (conn, item, bytes) = match output {
            Output::Send(conn, message) => {
                if let ServerMessage::Error { code, .. } = &message {
                    shared.metrics.count_error(*code);
                }
                match serde_json::to_string(&message) {
                    Ok(text) => {
                        let bytes = text.len();
                        (conn, Outbound::Message(text), bytes)
                    }
                    Err(e) => {
                        tracing::error!("encoding a message: {e}");
                        continue;
                    }
                }
            }
            Output::Close(conn) => (conn, Outbound::Close(1008, "closed by the server"), 0),
        };
        if let Some(outbox) = senders.get(&conn) {
            queue(shared, outbox, conn, item, bytes);
        }
    }
}

/// Queue one item for a connection. One whose queue is full, in messages
/// or in bytes, is not reading: it is ended at once.
fn queue(shared: &ServerState, outbox: &Outbox, conn: ConnId, item: Outbound, bytes: usize) {
    let limit = shared.config.limits.max_queued_bytes;
    let queued = outbox.queued_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
    if queued > limit || outbox.queue.try_send(item).is_err() {
        outbox.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        if !outbox.end.is_cancelled() {
            tracing::warn!(conn, "a connection is not reading its messages; closing it");
            shared.metrics.count_slow_closed();
            outbox.end.cancel();
        }
    }
}
