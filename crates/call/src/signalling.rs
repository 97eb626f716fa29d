//! A client of `kakehashi-signal` (protocol of `docs/signalling.md`): one
//! WebSocket, `ws://` on loopback or `wss://` with the system's trust store.

use futures_util::{SinkExt, StreamExt};
use kh_signal_protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The largest message accepted from the signalling server.
const MAX_SERVER_MESSAGE: usize = 1 << 20;
/// Server messages read ahead of the call engine.
const INBOX_MESSAGES: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("connecting to the signalling server {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the signalling server refused to join ({}): {message}", code_name(*.code))]
    Refused {
        code: kh_signal_protocol::ErrorCode,
        message: String,
    },
    #[error("the signalling server closed the connection{0}")]
    Closed(String),
    #[error("the signalling server sent something unexpected: {0}")]
    Unexpected(String),
}

/// What `join` answered.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub peer_id: String,
    pub room: String,
    /// Ours, as the token says.
    pub role: kh_signal_protocol::Role,
    pub participants: Vec<kh_signal_protocol::Participant>,
    pub ice_servers: Vec<kh_signal_protocol::IceServer>,
}

/// A joined connection: send with `outbox`, receive on `inbox`. Dropping
/// `outbox` leaves the room.
pub struct SignalConnection {
    pub welcome: Welcome,
    pub outbox: mpsc::UnboundedSender<ClientMessage>,
    pub inbox: mpsc::Receiver<ServerMessage>,
}

/// rustls needs one process-wide crypto provider before the first TLS
/// connection; installing it again is refused, which is fine.
pub(crate) fn use_ring_for_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Connect to `url` and join with `token`.
pub async fn join(url: &str, token: &str, name: &str) -> Result<SignalConnection, SignalError> {
    use_ring_for_tls();
    // A server's message may carry a relayed SDP (server limit 64 KiB by
    // default, configurable) plus its envelope; 1 MiB bounds what a broken
    // or hostile server can make us buffer (tungstenite allows 64 MiB).
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_SERVER_MESSAGE))
        .max_frame_size(Some(MAX_SERVER_MESSAGE));
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| SignalError::Connect {
            url: url.to_owned(),
            reason: connect_failure(&e),
        })?;
    let (mut sink, mut stream) = socket.split();
    let join = ClientMessage::Join {
        version: PROTOCOL_VERSION,
        token: token.to_owned(),
        name: name.to_owned(),
    };
    sink.send(Message::Text(encode(&join).into()))
        .await
        .map_err(|e| SignalError::Closed(format!(" while joining: {e}")))?;
    let welcome = match next_message(&mut stream).await? {
        ServerMessage::Welcome {
            peer_id,
            room,
            role,
            participants,
            ice_servers,
            ..
        } => Welcome {
            peer_id,
            room,
            role,
            participants,
            ice_servers,
        },
        ServerMessage::Error { code, message } => {
            return Err(SignalError::Refused { code, message });
        }
        other => {
            return Err(SignalError::Unexpected(format!(
                "{other:?} before the welcome"
            )));
        }
    };
    let (outbox, mut outgoing) = mpsc::unbounded_channel::<ClientMessage>();
    // Bounded: when the call engine falls behind, reading stops and TCP
    // pushes back on the server, rather than our memory growing.
    let (incoming, inbox) = mpsc::channel::<ServerMessage>(INBOX_MESSAGES);
    tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            if sink
                .send(Message::Text(encode(&message).into()))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = sink
            .send(Message::Text(encode(&ClientMessage::Leave).into()))
            .await;
        let _ = sink.close().await;
    });
    tokio::spawn(async move {
        loop {
            match next_message(&mut stream).await {
                Ok(message) => {
                    if incoming.send(message).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::info!("signalling connection ended: {e}");
                    return;
                }
            }
        }
    });
    Ok(SignalConnection {
        welcome,
        outbox,
        inbox,
    })
}

/// An error code as the protocol spells it (`unauthorized`, `room_full`).
fn code_name(code: kh_signal_protocol::ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn encode(message: &ClientMessage) -> String {
    // Plain data: serialising cannot fail.
    serde_json::to_string(message).unwrap_or_default()
}

type Stream = futures_util::stream::SplitStream<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
>;

async fn next_message(stream: &mut Stream) -> Result<ServerMessage, SignalError> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).map_err(|e| {
                    SignalError::Unexpected(format!(
                        "{e} in {:?}",
                        kh_signal_protocol::truncate(&text, 80)
                    ))
                });
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(SignalError::Closed(
                    frame.map(|f| format!(": {}", f.reason)).unwrap_or_default(),
                ));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(SignalError::Closed(format!(": {e}"))),
            None => return Err(SignalError::Closed(String::new())),
        }
    }
}

/// Why the connection failed, in words IT can act on: an untrusted
/// certificate says where trust comes from.
pub(crate) fn connect_failure(error: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let tls = match error {
        WsError::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match tls {
        Some(rustls::Error::InvalidCertificate(why)) => format!(
            "the server's TLS certificate is not accepted ({why:?}); if the hospital \
             uses its own certificate authority, install its certificate in the system \
             store or point SSL_CERT_FILE at it"
        ),
        Some(other) => format!("TLS: {other}"),
        None => error.to_string(),
    }
}
