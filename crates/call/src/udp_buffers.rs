//! UDP sockets with buffers sized for video bursts.
//!
//! An 8K keyframe is a megabyte or more that leaves in one burst; Linux's
//! default receive buffer (~208 KB) overflows before the reading task
//! wakes, and the loss looks like network loss (`kh-bench replay` measures
//! both with an 8K VP9 recording at 40 Mbit/s). webrtc-rs binds its
//! sockets itself, so the runtime it is
//! given is wrapped: every UDP socket passes through `wrap_udp_socket`,
//! where its buffers are raised before it is handed on.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
};

/// Asked for each way. The kernel caps it at `net.core.rmem_max` /
/// `wmem_max` (see `kh doctor`); what was granted is reported.
pub const WANTED_BUFFER_BYTES: usize = 8 << 20;

/// The default runtime, with sockets given large buffers.
#[derive(Debug)]
pub struct LargeBuffers {
    inner: Arc<dyn Runtime>,
    /// The receive buffer the kernel granted the last socket, bytes.
    pub granted_receive: Arc<AtomicUsize>,
}

impl LargeBuffers {
    pub fn new(inner: Arc<dyn Runtime>, granted_receive: Arc<AtomicUsize>) -> LargeBuffers {
        LargeBuffers {
            inner,
            granted_receive,
        }
    }
}

/// Raise `socket`'s buffers towards [`WANTED_BUFFER_BYTES`]; returns the
/// receive buffer granted. Failing is not fatal: the call works with the
/// default, it just loses more on bursts.
pub fn enlarge(socket: &std::net::UdpSocket) -> usize {
    let socket = socket2::SockRef::from(socket);
    if let Err(e) = socket.set_recv_buffer_size(WANTED_BUFFER_BYTES) {
        tracing::warn!("UDP receive buffer: {e}");
    }
    if let Err(e) = socket.set_send_buffer_size(WANTED_BUFFER_BYTES) {
        tracing::warn!("UDP send buffer: {e}");
    }
    socket.recv_buffer_size().unwrap_or(0)
}

impl Runtime for LargeBuffers {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(
        &self,
        socket: std::net::UdpSocket,
    ) -> std::io::Result<Arc<dyn AsyncUdpSocket>> {
        let granted = enlarge(&socket);
        self.granted_receive.store(granted, Ordering::Relaxed);
        tracing::debug!(granted, "UDP receive buffer");
        self.inner.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> std::io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> std::time::Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio, large UDP buffers"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_socket_gets_more_than_the_default_buffer() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let before = socket2::SockRef::from(&socket)
            .recv_buffer_size()
            .expect("read");
        let granted = super::enlarge(&socket);
        assert!(granted > before, "{before} → {granted}");
    }
}
