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
use tokio_util::task::TaskTracker;

/// Messages queued for one connection before it counts as too slow and is
/// dropped (a stuck client must not hold the server's memory).
const OUTBOUND_QUEUE: usize = 256;
/// Time given to connections to finish when the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

enum Outbound {
    Message(String),
    Close(u16, &'static str),
}

/// What every connection task and route of the server reads: the
/// configuration, the token key, the rooms and each connection's outbox.
struct ServerState {
    config: Config,
    tokens: TokenKey,
    rooms: Mutex<Rooms>,
    senders: Mutex<HashMap<ConnId, mpsc::Sender<Outbound>>>,
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
        let app = Router::new()
            .route("/ws", get(upgrade))
            .route("/healthz", get(health))
            .route("/metrics", get(metrics))
            .route("/v1/tokens", post(issue_token))
            .with_state(shared);
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let handle = axum_server::Handle::new();
        let task = match &config.tls {
            Some(tls) => {
                let rustls =
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                        .await
                        .map_err(ServeError::Tls)?;
                let server = axum_server::bind_rustls(config.listen, rustls).handle(handle.clone());
                tokio::spawn(async move { server.serve(service).await })
            }
            None => {
                let server = axum_server::bind(config.listen).handle(handle.clone());
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

async fn metrics(State(shared): State<Arc<ServerState>>) -> impl IntoResponse {
    let (rooms, peers) = {
        let r = shared.rooms.lock();
        (r.room_count(), r.peer_count())
    };
    (
        [("content-type", "text/plain; version=0.0.4")],
        shared.metrics.render(rooms, peers),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    room: String,
    role: Role,
    ttl_s: u64,
}

/// `POST /v1/tokens` with `Authorization: Bearer <api_key>`.
async fn issue_token(
    State(shared): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
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
    match shared
        .tokens
        .issue(&request.room, request.role, request.ttl_s, now)
    {
        Ok(token) => {
            shared.metrics.count_token_issued();
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
    let open = shared.senders.lock().len();
    if open >= shared.config.limits.max_connections || *shared.shutdown.borrow() {
        shared.metrics.count_connection_refused();
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    }
    // Room for a message slightly over the limit, so it is read and
    // refused with an error rather than cutting the connection blind.
    let limit = shared.config.limits.max_message_bytes;
    ws.max_message_size(limit + 1024)
        .max_frame_size(limit + 1024)
        .on_upgrade(move |socket| {
            let connections = shared.connections.clone();
            connections.track_future(connection(shared, socket, remote))
        })
}

/// How long a connection the server closed may take to answer the close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Messages a connection may send: a token bucket.
struct RateLimit {
    tokens: f64,
    per_second: f64,
    burst: f64,
    last: Instant,
}

impl RateLimit {
    fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn connection(shared: Arc<ServerState>, socket: WebSocket, remote: SocketAddr) {
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let (send, mut outbound) = mpsc::channel::<Outbound>(OUTBOUND_QUEUE);
    shared.senders.lock().insert(conn, send.clone());
    shared.metrics.connection_opened();
    tracing::debug!(conn, %remote, "connected");
    let writer = tokio::spawn(async move {
        while let Some(item) = outbound.recv().await {
            let result = match item {
                Outbound::Message(text) => sink.send(Message::Text(text.into())).await,
                Outbound::Close(code, reason) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        })))
                        .await;
                    break;
                }
            };
            if result.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let limits = shared.config.limits;
    let mut rate = RateLimit {
        tokens: limits.message_burst,
        per_second: limits.messages_per_second,
        burst: limits.message_burst,
        last: Instant::now(),
    };
    let join_deadline = tokio::time::Instant::now() + Duration::from_secs(limits.join_timeout_s);
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
            _ = shutdown.changed() => {
                deliver(&shared, error_then_close(conn, ErrorCode::GoingAway, "the server is shutting down"));
                server_closed = true;
                break;
            }
        };
        let text = match next {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
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
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => break,
            Some(Err(e)) => {
                // Oversized frames end here, as do broken connections.
                tracing::debug!(conn, "connection error: {e}");
                shared.metrics.count_error(ErrorCode::TooLarge);
                break;
            }
        };
        shared.metrics.count_message_in();
        if !rate.allow(Instant::now()) {
            shared.metrics.count_error(ErrorCode::RateLimited);
            // Refused with an error; a client that keeps flooding past
            // another burst's worth is cut off.
            if rate.tokens < -limits.message_burst {
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
            rate.tokens -= 1.0;
            continue;
        }
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
    if server_closed {
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
        let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
    }
    // Gone, by choice or not: the room hears of it.
    let left = shared.rooms.lock().leave(conn);
    deliver(&shared, left);
    shared.senders.lock().remove(&conn);
    drop(send);
    let _ = writer.await;
    shared.metrics.connection_closed();
    tracing::debug!(conn, "disconnected");
}

fn join(shared: &ServerState, conn: ConnId, version: u32, token: &str, name: &str) -> Vec<Output> {
    let claims = match shared.tokens.verify(token, unix_now()) {
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
            crate::turn::ice_servers(
                &ice.stun_urls,
                &ice.turn_urls,
                ice.turn_secret.as_deref().map(str::as_bytes),
                peer_id,
                ice.turn_ttl_s,
                unix_now(),
            )
        });
    if let Some(Output::Send(_, ServerMessage::Welcome { peer_id, room, .. })) = out.first() {
        // Room names are case numbers chosen by the hospital system, not
        // patient data; display names are never logged.
        tracing::info!(conn, peer = %peer_id, room = %room, role = claims.role.as_str(), token = %claims.jti, "joined");
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

/// Queue outputs on their connections. A connection whose queue is full
/// is too slow to keep up and is closed.
fn deliver(shared: &ServerState, outputs: Vec<Output>) {
    let senders = shared.senders.lock();
    for output in outputs {
        let (conn, item) = match output {
            Output::Send(conn, message) => {
                if let ServerMessage::Error { code, .. } = &message {
                    shared.metrics.count_error(*code);
                }
                match serde_json::to_string(&message) {
                    Ok(text) => (conn, Outbound::Message(text)),
                    Err(e) => {
                        tracing::error!("encoding a message: {e}");
                        continue;
                    }
                }
            }
            Output::Close(conn) => (conn, Outbound::Close(1008, "closed by the server")),
        };
        if let Some(sender) = senders.get(&conn)
            && sender.try_send(item).is_err()
        {
            tracing::warn!(conn, "a connection is not reading its messages; closing it");
            let _ = sender.try_send(Outbound::Close(1008, "too slow"));
        }
    }
}
