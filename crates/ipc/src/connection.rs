//! A blocking connection over a Unix-domain socket. The console listens; the
//! viewer it spawns connects to the path it was given.
//!
//! Who may connect is checked twice: the socket's directory must be private
//! (`socket_dir.rs`), and each accepted peer's credentials, as the kernel
//! reports them (`SO_PEERCRED` on Linux), must be this user's and, when the
//! listener knows which process it started, that process's. A peer that
//! fails is closed at once and logged; the listener keeps waiting for the
//! right one, so a squatter cannot stop the viewer from connecting.
//!
//! Elsewhere the same checks map to `getpeereid` plus `LOCAL_PEERPID`
//! (macOS) or `LOCAL_PEERCRED` (FreeBSD), and on Windows to a named pipe
//! with an owner-only DACL and `GetNamedPipeClientProcessId`; only Linux is
//! built and tested today (see docs/design.md, "The viewer socket").

use crate::socket_dir::check_private_dir;
use crate::{FrameDecoder, IpcError, encode};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
    refused: AtomicU64,
}

impl Listener {
    /// Listen at `path`, whose directory must be private to this user
    /// ([`crate::SocketDir`]); a stale socket file there is replaced.
    pub fn bind(path: &Path) -> Result<Listener, IpcError> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        check_private_dir(dir)?;
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        Ok(Listener {
            listener: UnixListener::bind(path)?,
            path: path.to_path_buf(),
            refused: AtomicU64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connections closed because their peer was not one allowed.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The first connection from a process of this user (`from_pid`: from
    /// that process only); others are closed as they come.
    pub fn accept(&self, from_pid: Option<u32>) -> Result<Connection, IpcError> {
        loop {
            let (stream, _) = self.listener.accept()?;
            if self.allowed(&stream, from_pid) {
                return Ok(Connection::new(stream));
            }
        }
    }

    /// Whether the peer of `stream` may talk to us; logs and counts it
    /// when not.
    fn allowed(&self, stream: &UnixStream, from_pid: Option<u32>) -> bool {
        match peer_is_allowed(stream, from_pid) {
            Ok(()) => true,
            Err(why) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(socket = %self.path.display(), "refused a connection: {why}");
                let _ = stream.shutdown(std::net::Shutdown::Both);
                false
            }
        }
    }

    /// Waits for a connection until `deadline`, asking `keep_waiting`
    /// every few milliseconds (a supervisor stops waiting when the process
    /// it started has already died). `Ok(None)` when it gave up. Peers
    /// are checked as in [`Self::accept`].
    pub fn accept_until(
        &self,
        deadline: std::time::Instant,
        from_pid: Option<u32>,
        mut keep_waiting: impl FnMut() -> bool,
    ) -> Result<Option<Connection>, IpcError> {
        self.listener.set_nonblocking(true)?;
        let accepted = loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.allowed(&stream, from_pid) {
                        break Ok(Some(stream));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if std::time::Instant::now() >= deadline || !keep_waiting() {
                        break Ok(None);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => break Err(IpcError::Io(e)),
            }
        };
        self.listener.set_nonblocking(false)?;
        match accepted? {
            Some(stream) => {
                stream.set_nonblocking(false)?;
                Ok(Some(Connection::new(stream)))
            }
            None => Ok(None),
        }
    }
}

/// The peer is a process of this user and, given `from_pid`, that process.
#[cfg(target_os = "linux")]
fn peer_is_allowed(stream: &UnixStream, from_pid: Option<u32>) -> Result<(), String> {
    let peer = rustix::net::sockopt::socket_peercred(stream)
        .map_err(|e| format!("its credentials could not be read: {e}"))?;
    let me = rustix::process::getuid();
    if peer.uid != me {
        return Err(format!(
            "process {} of user {} is not ours (user {})",
            peer.pid.as_raw_pid(),
            peer.uid.as_raw(),
            me.as_raw()
        ));
    }
    let pid = u32::try_from(peer.pid.as_raw_pid()).unwrap_or(0);
    match from_pid {
        Some(expected) if pid != expected => Err(format!(
            "process {pid} is not the viewer this console started ({expected})"
        )),
        _ => Ok(()),
    }
}

/// Without peer credentials the private directory is the fence, and the
/// supervisor's check of the viewer's Hello the second.
#[cfg(not(target_os = "linux"))]
fn peer_is_allowed(_stream: &UnixStream, _from_pid: Option<u32>) -> Result<(), String> {
    Ok(())
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Leaving the file would only make the next bind remove it.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One end of a console–viewer connection.
pub struct Connection {
    stream: UnixStream,
    decoder: FrameDecoder,
}

impl Connection {
    pub fn connect(path: &Path) -> Result<Connection, IpcError> {
        Ok(Connection::new(UnixStream::connect(path)?))
    }

    /// A connection over a socket made elsewhere (a socket pair in tests).
    pub fn from_stream(stream: UnixStream) -> Connection {
        Connection::new(stream)
    }

    /// Ends the connection both ways, also for every clone of it: a thread
    /// blocked reading or writing on it returns.
    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    fn new(stream: UnixStream) -> Connection {
        Connection {
            stream,
            decoder: FrameDecoder::new(),
        }
    }

    /// A second handle on the same socket, so one thread can read while
    /// another writes.
    pub fn try_clone(&self) -> Result<Connection, IpcError> {
        Ok(Connection::new(self.stream.try_clone()?))
    }

    pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> Result<(), IpcError> {
        Ok(self.stream.set_read_timeout(timeout)?)
    }

    /// A write that cannot finish within `timeout` fails (the peer stopped
    /// reading); the connection is then out of step and must be dropped.
    pub fn set_write_timeout(&self, timeout: Option<std::time::Duration>) -> Result<(), IpcError> {
        Ok(self.stream.set_write_timeout(timeout)?)
    }

    /// Writes an already encoded frame ([`crate::encode`]).
    pub fn send_frame(&mut self, frame: &[u8]) -> Result<(), IpcError> {
        self.stream.write_all(frame)?;
        Ok(())
    }

    pub fn send<M: crate::Message>(&mut self, msg: &M) -> Result<(), IpcError> {
        let frame = encode(msg)?;
        self.stream.write_all(&frame)?;
        Ok(())
    }

    /// Block until a whole message arrives; `Closed` when the peer hangs up.
    pub fn recv<M: crate::Message>(&mut self) -> Result<M, IpcError> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(msg) = self.decoder.next_message()? {
                return Ok(msg);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(IpcError::Closed);
            }
            self.decoder.feed(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_socket_in_a_directory_others_can_reach_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bound = Listener::bind(&dir.path().join("viewer.sock"));
        assert!(
            matches!(bound, Err(IpcError::UnsafeDirectory { .. })),
            "{:?}",
            bound.err()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_the_expected_process_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        crate::ensure_private_dir(&run).unwrap();
        let socket = run.join("viewer.sock");
        let listener = Listener::bind(&socket).unwrap();
        // A squatter (here: this process) while the listener waits for
        // another: closed, counted, and the wait goes on to its deadline.
        let mut squatter = UnixStream::connect(&socket).unwrap();
        let someone_else = std::process::id() + 1;
        let accepted = listener
            .accept_until(
                Instant::now() + Duration::from_millis(300),
                Some(someone_else),
                || true,
            )
            .unwrap();
        assert!(accepted.is_none());
        assert_eq!(listener.refused(), 1);
        let mut byte = [0u8; 1];
        assert_eq!(squatter.read(&mut byte).unwrap_or(0), 0, "closed");

        // The expected process gets through, and can talk.
        let mut ours = Connection::connect(&socket).unwrap();
        let mut accepted = listener
            .accept_until(
                Instant::now() + Duration::from_secs(5),
                Some(std::process::id()),
                || true,
            )
            .unwrap()
            .expect("accepted");
        ours.send(&crate::ToViewer::Ping { seq: 1 }).unwrap();
        assert_eq!(
            accepted.recv::<crate::ToViewer>().unwrap(),
            crate::ToViewer::Ping { seq: 1 }
        );
        assert_eq!(listener.refused(), 1);
    }
}
