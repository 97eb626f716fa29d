//! Which TCP connections the server takes: every accepted connection —
//! before its HTTP request, during a TLS handshake, after the WebSocket
//! upgrade — holds a place until its socket closes, against a cap on all
//! of them and a cap per source address. Counted when accepted, so a burst
//! of simultaneous connections cannot overshoot the cap, and a host that
//! opens connections and then says nothing (slowloris) fills at most its
//! own share.

use axum_server::accept::Accept;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Open connections, all and per source.
#[derive(Debug, Default)]
struct Open {
    all: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// The caps and the count, shared by the acceptor and the places it hands
/// out.
#[derive(Debug)]
pub struct Admission {
    max_all: usize,
    max_per_source: usize,
    open: Mutex<Open>,
}

impl Admission {
    pub fn new(max_all: usize, max_per_source: usize) -> Arc<Admission> {
        Arc::new(Admission {
            max_all,
            max_per_source,
            open: Mutex::default(),
        })
    }

    /// A place for a connection from `source`, or why not.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Result<Place, Refused> {
        let mut open = self.open.lock();
        if open.all >= self.max_all {
            return Err(Refused::Full);
        }
        let from_source = open.by_source.entry(source).or_default();
        if *from_source >= self.max_per_source {
            return Err(Refused::SourceFull);
        }
        *from_source += 1;
        open.all += 1;
        Ok(Place {
            admission: self.clone(),
            source,
        })
    }

    /// Connections open now: all, and from `source`.
    pub fn open(&self, source: Option<IpAddr>) -> (usize, usize) {
        let open = self.open.lock();
        let from = source
            .and_then(|s| open.by_source.get(&s).copied())
            .unwrap_or(0);
        (open.all, from)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Full,
    SourceFull,
}

/// A connection's place; given back when the connection is dropped.
#[derive(Debug)]
pub struct Place {
    admission: Arc<Admission>,
    source: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock();
        open.all = open.all.saturating_sub(1);
        if let Some(n) = open.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                open.by_source.remove(&self.source);
            }
        }
    }
}

/// A TCP stream holding its place.
pub struct Admitted {
    stream: TcpStream,
    _place: Place,
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The acceptor: a connection without a place is closed at once.
#[derive(Clone)]
pub struct AdmissionAcceptor {
    pub admission: Arc<Admission>,
    pub on_refused: Arc<dyn Fn(Refused) + Send + Sync>,
}

impl<S: Send + 'static> Accept<TcpStream, S> for AdmissionAcceptor {
    type Stream = Admitted;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Admitted, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let source = match stream.peer_addr() {
            Ok(addr) => addr.ip(),
            Err(e) => return std::future::ready(Err(e)),
        };
        std::future::ready(match self.admission.admit(source) {
            Ok(place) => {
                // Replies are small and latency matters more than packing.
                let _ = stream.set_nodelay(true);
                Ok((
                    Admitted {
                        stream,
                        _place: place,
                    },
                    service,
                ))
            }
            Err(refused) => {
                (self.on_refused)(refused);
                Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    match refused {
                        Refused::Full => "the server has as many connections as it allows",
                        Refused::SourceFull => "this address has as many connections as it may",
                    },
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_in_all_and_per_source_and_given_back() {
        let admission = Admission::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().expect("address");
        let b: IpAddr = "10.0.0.2".parse().expect("address");
        let first = admission.admit(a).expect("a first");
        let second = admission.admit(a).expect("a second");
        assert_eq!(admission.admit(a).err(), Some(Refused::SourceFull));
        let third = admission.admit(b).expect("b is not locked out by a");
        assert_eq!(admission.admit(b).err(), Some(Refused::Full));
        assert_eq!(admission.open(Some(a)), (3, 2));
        drop((first, second, third));
        assert_eq!(admission.open(Some(a)), (0, 0));
        assert!(admission.open.lock().by_source.is_empty());
    }
}
