//! A blocking connection over a Unix-domain socket. The console listens; the
//! viewer it spawns connects to the path it was given.

use crate::{FrameDecoder, IpcError, encode};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

impl Listener {
    /// Listen at `path` (a stale socket file there is replaced).
    pub fn bind(path: &Path) -> Result<Listener, IpcError> {
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        Ok(Listener {
            listener: UnixListener::bind(path)?,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn accept(&self) -> Result<Connection, IpcError> {
        let (stream, _) = self.listener.accept()?;
        Ok(Connection::new(stream))
    }

    /// Waits for a connection until `deadline`, asking `keep_waiting`
    /// every few milliseconds (a supervisor stops waiting when the process
    /// it started has already died). `Ok(None)` when it gave up.
    pub fn accept_until(
        &self,
        deadline: std::time::Instant,
        mut keep_waiting: impl FnMut() -> bool,
    ) -> Result<Option<Connection>, IpcError> {
        self.listener.set_nonblocking(true)?;
        let accepted = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break Ok(Some(stream)),
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

    pub fn send<M: Serialize>(&mut self, msg: &M) -> Result<(), IpcError> {
        let frame = encode(msg)?;
        self.stream.write_all(&frame)?;
        Ok(())
    }

    /// Block until a whole message arrives; `Closed` when the peer hangs up.
    pub fn recv<M: for<'de> Deserialize<'de>>(&mut self) -> Result<M, IpcError> {
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
