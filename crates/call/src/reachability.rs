//! Can this workstation reach its signalling server and its STUN/TURN
//! relays? What `kh doctor` asks, answered the way a call would find out:
//! a WebSocket upgrade (with TLS where the URL says so) and a STUN binding
//! request over the URL's transport.

use rtc::stun::message::{BINDING_REQUEST, Getter, Message, Setter, TransactionId};
use rtc::stun::xoraddr::XorMappedAddress;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What one check found.
#[derive(Clone, Debug, Serialize)]
pub struct Reachability {
    pub url: String,
    /// The address that answered.
    pub address: Option<SocketAddr>,
    pub round_trip_ms: Option<f64>,
    /// For STUN/TURN: our address as the server saw it (behind NAT, the
    /// public one).
    pub mapped_address: Option<SocketAddr>,
    /// Why not, when it is not reachable.
    pub error: Option<String>,
}

impl Reachability {
    fn failed(url: &str, address: Option<SocketAddr>, error: String) -> Reachability {
        Reachability {
            url: url.to_owned(),
            address,
            round_trip_ms: None,
            mapped_address: None,
            error: Some(error),
        }
    }

    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Opens a WebSocket to the signalling server (TLS checked as a call would)
/// and closes it again without joining.
pub async fn check_signalling(url: &str, timeout: Duration) -> Reachability {
    crate::signalling::use_ring_for_tls();
    let started = Instant::now();
    let connect = tokio_tungstenite::connect_async(url);
    match tokio::time::timeout(timeout, connect).await {
        Err(_) => Reachability::failed(url, None, format!("no answer within {timeout:?}")),
        Ok(Err(e)) => Reachability::failed(url, None, crate::signalling::connect_failure(&e)),
        Ok(Ok((mut socket, _))) => {
            let round_trip = started.elapsed();
            let address = peer_address(socket.get_ref());
            let _ = socket.close(None).await;
            Reachability {
                url: url.to_owned(),
                address,
                round_trip_ms: Some(round_trip.as_secs_f64() * 1e3),
                mapped_address: None,
                error: None,
            }
        }
    }
}

fn peer_address(
    stream: &tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
) -> Option<SocketAddr> {
    match stream {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.peer_addr().ok(),
        tokio_tungstenite::MaybeTlsStream::Rustls(tls) => tls.get_ref().0.peer_addr().ok(),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// A `stun:`, `turn:` or `turns:` URL (RFC 7064/7065) taken apart.
#[derive(Debug, PartialEq, Eq)]
struct IceUrl {
    host: String,
    port: u16,
    transport: Transport,
}

fn parse_ice_url(url: &str) -> Result<IceUrl, String> {
    let (scheme, rest) = url
        .split_once(':')
        .ok_or_else(|| "not a stun:, turn: or turns: URL".to_string())?;
    let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
    let secure = match scheme {
        "stun" | "turn" => false,
        "stuns" | "turns" => true,
        _ => return Err(format!("unknown scheme {scheme:?}")),
    };
    let mut transport = if secure {
        Transport::Tls
    } else {
        Transport::Udp
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair {
            "transport=udp" if !secure => transport = Transport::Udp,
            "transport=tcp" => {
                transport = if secure {
                    Transport::Tls
                } else {
                    Transport::Tcp
                }
            }
            other => return Err(format!("unsupported parameter {other:?}")),
        }
    }
    let default_port = if secure { 5349 } else { 3478 };
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "unclosed [ in the host".to_string())?;
        (host, after.strip_prefix(':'))
    } else {
        match address.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        Some(text) => text
            .parse()
            .map_err(|_| format!("{text:?} is not a port"))?,
        None => default_port,
    };
    Ok(IceUrl {
        host: host.to_owned(),
        port,
        transport,
    })
}

/// Sends a STUN binding request to the server of `url` and waits for the
/// answer: the server is up, the transport gets through, and it says which
/// address it saw us from.
pub async fn check_ice_server(url: &str, timeout: Duration) -> Reachability {
    let parsed = match parse_ice_url(url) {
        Ok(parsed) => parsed,
        Err(why) => return Reachability::failed(url, None, why),
    };
    let deadline = Instant::now() + timeout;
    let address = match tokio::time::timeout(
        timeout,
        tokio::net::lookup_host((parsed.host.as_str(), parsed.port)),
    )
    .await
    {
        Ok(Ok(mut addresses)) => match addresses.next() {
            Some(address) => address,
            None => return Reachability::failed(url, None, "the name has no address".into()),
        },
        Ok(Err(e)) => {
            return Reachability::failed(url, None, format!("resolving {}: {e}", parsed.host));
        }
        Err(_) => {
            return Reachability::failed(url, None, format!("resolving {} timed out", parsed.host));
        }
    };
    let mut request = Message::new();
    let transaction = TransactionId::new();
    let setters: [Box<dyn Setter>; 2] = [Box::new(BINDING_REQUEST), Box::new(transaction)];
    if let Err(e) = request.build(&setters) {
        return Reachability::failed(url, Some(address), format!("building the request: {e}"));
    }
    let started = Instant::now();
    let answer = match parsed.transport {
        Transport::Udp => binding_over_udp(address, &request.raw, deadline).await,
        Transport::Tcp => match tokio::net::TcpStream::connect(address).await {
            Ok(stream) => binding_over_stream(stream, &request.raw, deadline).await,
            Err(e) => Err(format!("TCP connect: {e}")),
        },
        Transport::Tls => match tls_connect(address, &parsed.host, deadline).await {
            Ok(stream) => binding_over_stream(stream, &request.raw, deadline).await,
            Err(e) => Err(e),
        },
    };
    let round_trip = started.elapsed();
    let reply = match answer {
        Ok(reply) => reply,
        Err(why) => return Reachability::failed(url, Some(address), why),
    };
    let mut response = Message::new();
    if let Err(e) = response.unmarshal_binary(&reply) {
        return Reachability::failed(url, Some(address), format!("not a STUN answer: {e}"));
    }
    if response.transaction_id != transaction {
        return Reachability::failed(url, Some(address), "an answer to another request".into());
    }
    let mut mapped = XorMappedAddress::default();
    let mapped_address = mapped
        .get_from(&response)
        .ok()
        .map(|()| SocketAddr::new(mapped.ip, mapped.port));
    Reachability {
        url: url.to_owned(),
        address: Some(address),
        round_trip_ms: Some(round_trip.as_secs_f64() * 1e3),
        mapped_address,
        error: None,
    }
}

/// UDP loses packets: resend every 250 ms until the deadline (RFC 5389
/// retransmits too, with backoff; a diagnosis wants an answer quickly).
async fn binding_over_udp(
    address: SocketAddr,
    request: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    let local: SocketAddr = if address.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| "address".to_string())?
    } else {
        "[::]:0".parse().map_err(|_| "address".to_string())?
    };
    let socket = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|e| format!("UDP socket: {e}"))?;
    socket
        .connect(address)
        .await
        .map_err(|e| format!("UDP: {e}"))?;
    let mut reply = vec![0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(
                "no STUN answer over UDP (blocked by a firewall, or nothing listening)".into(),
            );
        }
        // An ICMP "port unreachable" shows as an error on a connected socket.
        socket
            .send(request)
            .await
            .map_err(|e| format!("UDP send: {e}"))?;
        match tokio::time::timeout(
            left.min(Duration::from_millis(250)),
            socket.recv(&mut reply),
        )
        .await
        {
            Ok(Ok(n)) => {
                reply.truncate(n);
                return Ok(reply);
            }
            Ok(Err(e)) => return Err(format!("UDP: {e}")),
            Err(_) => continue,
        }
    }
}

/// Over TCP or TLS, STUN messages are framed by their own header: 20 bytes
/// whose bytes 2..4 give the attributes' length.
async fn binding_over_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    let exchange = async {
        stream.write_all(request).await?;
        let mut header = [0u8; 20];
        stream.read_exact(&mut header).await?;
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let mut reply = header.to_vec();
        reply.resize(20 + length, 0);
        stream.read_exact(&mut reply[20..]).await?;
        Ok::<_, std::io::Error>(reply)
    };
    match tokio::time::timeout_at(deadline.into(), exchange).await {
        Ok(result) => result.map_err(|e| format!("STUN over a stream: {e}")),
        Err(_) => Err("no STUN answer in time".into()),
    }
}

async fn tls_connect(
    address: SocketAddr,
    host: &str,
    deadline: Instant,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    crate::signalling::use_ring_for_tls();
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host:?} is not a TLS server name: {e}"))?;
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("TCP connect: {e}"))?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))
    };
    tokio::time::timeout_at(deadline.into(), connect)
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_urls_are_taken_apart_as_rfc_7064_and_7065_say() {
        let cases = [
            (
                "stun:stun.example.org",
                "stun.example.org",
                3478,
                Transport::Udp,
            ),
            (
                "turn:10.0.0.1:3479?transport=tcp",
                "10.0.0.1",
                3479,
                Transport::Tcp,
            ),
            (
                "turns:relay.example.org",
                "relay.example.org",
                5349,
                Transport::Tls,
            ),
            (
                "turn:[2001:db8::1]:3478?transport=udp",
                "2001:db8::1",
                3478,
                Transport::Udp,
            ),
        ];
        for (url, host, port, transport) in cases {
            assert_eq!(
                parse_ice_url(url),
                Ok(IceUrl {
                    host: host.into(),
                    port,
                    transport
                }),
                "{url}"
            );
        }
        for bad in [
            "http://x",
            "turn:",
            "turn:host:port",
            "turn:h?transport=sctp",
            "turns:h?transport=udp",
            "turn:[::1",
        ] {
            assert!(parse_ice_url(bad).is_err(), "{bad}");
        }
    }
}
