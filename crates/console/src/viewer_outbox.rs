//! Messages on their way to the viewer. A thread of its own writes them, so
//! whoever sends — the call's receive path with each video frame, the page
//! with a view — never waits on the viewer: a viewer that stops reading
//! (hung, stopped, starved of CPU) costs a bounded queue, not a stalled
//! call. When the queue is full the oldest video goes first (a later frame
//! and a keyframe request make up for it); control messages are small and
//! kept.

use kh_ipc::{Connection, IpcError, ToViewer};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes waiting for the viewer at most. An 8K HEVC keyframe is ~2 MB
/// (its bytes travel raw in the frame) and the call's receive path delivers
/// ~12 MB/s at 100 Mbit/s: 32 MiB is over two seconds of the heaviest video,
/// far more than a healthy viewer ever lets pile up.
pub const MAX_QUEUED_BYTES: usize = 32 << 20;
/// Control messages may take the queue this far past `MAX_QUEUED_BYTES`
/// (video never does); past it even they are refused.
const CONTROL_ALLOWANCE: usize = 4 << 20;
/// One write that takes longer than this means the viewer stopped reading:
/// the connection is given up (a half-written frame leaves it out of step).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What became of a message handed to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Waiting to be written; `dropped_video` older video frames made room.
    Yes { dropped_video: usize },
    /// Not queued: video that found the queue full of control messages, a
    /// message that could not be encoded, or a connection already given up.
    No,
}

struct Item {
    frame: Vec<u8>,
    video: bool,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    bytes: usize,
    closed: bool,
    /// Why writing stopped, once it has.
    failed: Option<String>,
}

struct Line {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// The writing half of one viewer connection.
pub struct Outbox {
    line: Arc<Line>,
    /// The same socket, to unblock a write in progress on close.
    socket: Connection,
    writer: Option<JoinHandle<()>>,
}

impl Outbox {
    pub fn start(connection: Connection) -> Result<Outbox, IpcError> {
        connection.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let socket = connection.try_clone()?;
        let line = Arc::new(Line {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        });
        let thread_line = line.clone();
        let writer = std::thread::Builder::new()
            .name("viewer-outbox".into())
            .spawn(move || write_loop(&thread_line, connection))
            .map_err(IpcError::Io)?;
        Ok(Outbox {
            line,
            socket,
            writer: Some(writer),
        })
    }

    /// Queues `message` without waiting.
    pub fn push(&self, message: &ToViewer) -> Queued {
        let frame = match kh_ipc::encode(message) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!("viewer link: a message not sent: {e}");
                return Queued::No;
            }
        };
        let video = matches!(message, ToViewer::RemoteVideo { .. });
        let mut queue = self.line.queue.lock();
        if queue.closed || queue.failed.is_some() {
            return Queued::No;
        }
        let queued = make_room(&mut queue, frame.len(), video);
        if queued != Queued::No {
            queue.bytes += frame.len();
            queue.items.push_back(Item { frame, video });
            self.line.ready.notify_one();
        }
        queued
    }

    /// Why the writer stopped (a write failed or timed out), if it has.
    pub fn failed(&self) -> Option<String> {
        self.line.queue.lock().failed.clone()
    }

    /// Bytes waiting to be written.
    #[cfg(test)]
    fn queued_bytes(&self) -> usize {
        self.line.queue.lock().bytes
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.line.queue.lock().closed = true;
        self.line.ready.notify_one();
        // A write blocked on a viewer that does not read ends here, not
        // after its timeout.
        self.socket.shutdown();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Drops the oldest video until `incoming` bytes fit; says whether the
/// message may be queued.
fn make_room(queue: &mut Queue, incoming: usize, video: bool) -> Queued {
    let limit = if video {
        MAX_QUEUED_BYTES
    } else {
        MAX_QUEUED_BYTES + CONTROL_ALLOWANCE
    };
    let mut dropped_video = 0;
    while queue.bytes + incoming > limit {
        let Some(oldest) = queue.items.iter().position(|item| item.video) else {
            break;
        };
        if let Some(item) = queue.items.remove(oldest) {
            queue.bytes -= item.frame.len();
            dropped_video += 1;
        }
    }
    if queue.bytes + incoming > limit {
        tracing::warn!(
            queued = queue.bytes,
            "viewer link: the viewer is not reading; a message was dropped"
        );
        return Queued::No;
    }
    Queued::Yes { dropped_video }
}

fn write_loop(line: &Line, mut connection: Connection) {
    loop {
        let item = {
            let mut queue = line.queue.lock();
            loop {
                if queue.closed {
                    return;
                }
                if let Some(item) = queue.items.pop_front() {
                    queue.bytes -= item.frame.len();
                    break item;
                }
                line.ready.wait(&mut queue);
            }
        };
        if let Err(e) = connection.send_frame(&item.frame) {
            let mut queue = line.queue.lock();
            if !queue.closed {
                tracing::warn!("viewer link: writing failed: {e}");
            }
            queue.failed = Some(e.to_string());
            queue.items.clear();
            queue.bytes = 0;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(bytes: usize, video: bool) -> Item {
        Item {
            frame: vec![0; bytes],
            video,
        }
    }

    fn queue_of(items: Vec<Item>) -> Queue {
        Queue {
            bytes: items.iter().map(|i| i.frame.len()).sum(),
            items: items.into(),
            ..Queue::default()
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_video_and_keeps_control() {
        let mb = 1 << 20;
        let mut queue = queue_of(vec![
            item(mb, false),
            item(15 * mb, true),
            item(mb, false),
            item(15 * mb, true),
        ]);
        // 32 MiB queued: a 2 MiB frame makes the oldest video go.
        assert_eq!(
            make_room(&mut queue, 2 * mb, true),
            Queued::Yes { dropped_video: 1 }
        );
        assert_eq!(queue.items.len(), 3);
        assert!(!queue.items[0].video && !queue.items[1].video && queue.items[2].video);
        assert_eq!(queue.bytes, 17 * mb);
    }

    #[test]
    fn control_messages_fit_past_the_video_limit_but_not_without_end() {
        let mb = 1 << 20;
        let mut queue = queue_of((0..32).map(|_| item(mb, false)).collect());
        assert_eq!(
            make_room(&mut queue, 1024, false),
            Queued::Yes { dropped_video: 0 }
        );
        // Video cannot push control out.
        assert_eq!(make_room(&mut queue, 1024, true), Queued::No);
        let mut queue = queue_of((0..36).map(|_| item(mb, false)).collect());
        assert_eq!(make_room(&mut queue, 1024, false), Queued::No);
    }

    #[test]
    fn a_viewer_that_does_not_read_never_blocks_the_sender() {
        let (console_end, _viewer_end) = std::os::unix::net::UnixStream::pair().unwrap();
        let outbox = Outbox::start(Connection::from_stream(console_end)).unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let frame = ToViewer::RemoteVideo {
                codec: "video/VP8".into(),
                data: vec![7; 1 << 20],
            };
            // Frames that did not reach the viewer: dropped to make room,
            // or refused once the writer gave the connection up (its write
            // timed out).
            let mut lost = 0;
            for _ in 0..200 {
                match outbox.push(&frame) {
                    Queued::Yes { dropped_video } => lost += dropped_video,
                    Queued::No => lost += 1,
                }
            }
            let queued = outbox.queued_bytes();
            // Closing does not wait for the stuck write either.
            drop(outbox);
            let _ = done.send((lost, queued));
        });
        // 200 MiB offered to a socket nobody reads: the queue stays bounded
        // and the oldest frames went. (A minute is a hang detector, not a
        // speed: each push takes milliseconds, and a blocked one forever.)
        let (lost, queued) = finished
            .recv_timeout(Duration::from_secs(60))
            .expect("pushing to a viewer that does not read blocked");
        assert!(queued <= MAX_QUEUED_BYTES, "{queued}");
        assert!(lost > 150, "{lost}");
    }
}
