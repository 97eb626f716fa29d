//! One pass-through for the interceptors that look at packets on their way
//! (and may drop one, or add RTCP of their own) without queueing them:
//! webrtc-rs's sans-IO `Protocol` asks every interceptor for read and write
//! queues, timeouts and stream bindings; a [`PacketWatcher`] says only
//! what it does with a packet, and [`Watching`] is the rest.

use rtc::interceptor::{Interceptor, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::time::Instant;

/// What an interceptor that watches packets does. Every method has a
/// default that lets the packet pass untouched.
pub trait PacketWatcher: Send + Sync {
    /// A packet on its way in, from the wire towards the application;
    /// `false` drops it here.
    fn on_read(&mut self, _packet: &mut TaggedPacket) -> bool {
        true
    }

    /// A packet on its way out; `false` drops it here.
    fn on_write(&mut self, _packet: &mut TaggedPacket) -> bool {
        true
    }

    /// Time passed: packets of its own to send (RTCP) go into `send`.
    fn on_timeout(&mut self, _now: Instant, _send: &mut VecDeque<TaggedPacket>) {}

    /// When it next wants [`Self::on_timeout`].
    fn next_timeout(&self) -> Option<Instant> {
        None
    }

    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// A [`PacketWatcher`] as an interceptor of the chain.
pub struct Watching<W> {
    pub watcher: W,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl<W: PacketWatcher> Watching<W> {
    pub fn new(watcher: W) -> Watching<W> {
        Watching {
            watcher,
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }
}

impl<W: PacketWatcher> Protocol<TaggedPacket, TaggedPacket, ()> for Watching<W> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if self.watcher.on_read(&mut msg) {
            self.read.push_back(msg);
        }
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if self.watcher.on_write(&mut msg) {
            self.write.push_back(msg);
        }
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.watcher.on_timeout(now, &mut self.write);
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.watcher.next_timeout()
    }
}

impl<W: PacketWatcher> Interceptor for Watching<W> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.watcher.bind_local_stream(info);
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.watcher.unbind_local_stream(info);
    }
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.watcher.bind_remote_stream(info);
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.watcher.unbind_remote_stream(info);
    }
}
