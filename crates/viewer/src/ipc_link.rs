//! The viewer's end of the console connection: a reader thread posts
//! messages into the event loop; sends happen on the UI thread (small
//! frames on a local socket).

use crate::app::UserEvent;
use kh_ipc::{Connection, FromViewer, ToViewer};
use std::path::Path;
use winit::event_loop::EventLoopProxy;

pub struct IpcLink {
    connection: Connection,
    broken: bool,
}

impl IpcLink {
    pub fn connect(path: &Path, proxy: EventLoopProxy<UserEvent>) -> anyhow::Result<IpcLink> {
        let mut connection = Connection::connect(path)
            .map_err(|e| anyhow::anyhow!("connecting to the console at {}: {e}", path.display()))?;
        connection
            .send(&FromViewer::Hello {
                version: kh_ipc::VERSION,
                pid: std::process::id(),
            })
            .map_err(|e| anyhow::anyhow!("greeting the console: {e}"))?;
        let mut reader = connection
            .try_clone()
            .map_err(|e| anyhow::anyhow!("IPC socket: {e}"))?;
        std::thread::Builder::new()
            .name("kh-ipc".into())
            .spawn(move || {
                loop {
                    match reader.recv::<ToViewer>() {
                        Ok(msg) => {
                            if proxy.send_event(UserEvent::Ipc(msg)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            // Closed or out of step: either way the link is over.
                            let _ = proxy.send_event(UserEvent::IpcClosed(e.to_string()));
                            return;
                        }
                    }
                }
            })?;
        Ok(IpcLink {
            connection,
            broken: false,
        })
    }

    /// Send, logging (once) rather than failing: a console that went away
    /// must not take the viewer down.
    pub fn send(&mut self, msg: &FromViewer) {
        if self.broken {
            return;
        }
        if let Err(e) = self.connection.send(msg) {
            tracing::warn!("console link lost: {e}");
            self.broken = true;
        }
    }
}
