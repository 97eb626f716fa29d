//! The pacer: smooths what leaves to a rate, and never sends stale media.
//!
//! webrtc-rs's pacer holds up to 4096 packets whatever their age. When the
//! estimate falls fast — a link dropping from 50 to 5 Mbit/s — the packets
//! queued at the old rate drain at the new one: a minute's worth at a few
//! hundred kbit/s. Measured here, the receiver then got only seconds-old
//! pieces of frames and never a whole one again. This pacer releases at
//! the rate GCC sets (the leaky bucket is the library's) and drops a packet
//! that has waited longer than [`MAX_QUEUE_TIME`]: by then its frame is
//! past use (the receiver's frame buffer waits 300 ms for a piece), and the
//! receiver asks for a keyframe instead. The encoder keeps its own share of
//! the queue shorter than that (`ladder::SendBacklog`), so in steady
//! operation nothing is dropped.

use rtc::interceptor::{Attribute, Interceptor, Pacer, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::marshal::MarshalSize;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest a packet may wait to leave.
pub const MAX_QUEUE_TIME: Duration = Duration::from_millis(500);
/// A bound on the queue's length whatever the times say.
const MAX_QUEUED: usize = 8192;

pub struct FreshPacer {
    bucket: Pacer,
    queue: VecDeque<(Instant, TaggedPacket)>,
    /// RTCP passes at once; released media waits here for `poll_write`.
    out: VecDeque<TaggedPacket>,
    read: VecDeque<TaggedPacket>,
    /// Packets dropped as stale (or over the length bound).
    dropped: Arc<AtomicU64>,
}

impl FreshPacer {
    pub fn new(start_bps: f64, dropped: Arc<AtomicU64>) -> FreshPacer {
        FreshPacer {
            bucket: Pacer::new(start_bps),
            queue: VecDeque::new(),
            out: VecDeque::new(),
            read: VecDeque::new(),
            dropped,
        }
    }

    fn bits_of(packet: &TaggedPacket) -> f64 {
        match &packet.message.packet {
            Packet::Rtp(rtp) => (rtp.marshal_size() * 8) as f64,
            _ => 0.0,
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FreshPacer {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        // The estimate crosses on the read leg, attached by the congestion
        // controller (wire-ward of here) to the feedback that moved it.
        if let Some(Attribute::TargetBitrateChanged { bits_per_second }) =
            msg.message.get(&Attribute::TargetBitrateChanged {
                bits_per_second: 0.0,
            })
        {
            self.bucket.set_target_bitrate(*bits_per_second);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if !matches!(msg.message.packet, Packet::Rtp(_)) {
            self.out.push_back(msg);
            return Ok(());
        }
        self.bucket.refill(msg.now);
        if self.queue.len() >= MAX_QUEUED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.queue.push_back((msg.now, msg));
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.out.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.bucket.refill(now);
        while let Some((queued, _)) = self.queue.front() {
            if now.saturating_duration_since(*queued) > MAX_QUEUE_TIME {
                self.queue.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let bits = Self::bits_of(&self.queue[0].1);
            if !self.bucket.can_release(bits) {
                break;
            }
            if let Some((_, mut packet)) = self.queue.pop_front() {
                self.bucket.consume(bits);
                // It departs now: what records departures (the send
                // history GCC reads) must see this instant, not the
                // enqueue one, or the queueing is charged to the network.
                packet.now = now;
                self.out.push_back(packet);
            }
        }
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let (queued, head) = self.queue.front()?;
        let releasable = self.bucket.releasable_at(Self::bits_of(head))?;
        // Wake for the release or to drop the head, whichever is first.
        Some(releasable.min(*queued + MAX_QUEUE_TIME + Duration::from_millis(1)))
    }
}

impl Interceptor for FreshPacer {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::shared::TransportContext;

    fn rtp(at: Instant, seq: u16) -> TaggedPacket {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.sequence_number = seq;
        packet.payload = vec![0u8; 1000].into();
        TaggedPacket {
            now: at,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(packet)),
        }
    }

    fn released(pacer: &mut FreshPacer) -> Vec<u16> {
        std::iter::from_fn(|| pacer.poll_write())
            .filter_map(|p| match p.message.packet {
                Packet::Rtp(rtp) => Some(rtp.header.sequence_number),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn packets_leave_at_the_rate_and_stale_ones_are_dropped() {
        let t = Instant::now();
        let dropped = Arc::new(AtomicU64::new(0));
        // 100 kbit/s: one ~1 kB packet per ~80 ms after the first burst.
        let mut pacer = FreshPacer::new(100_000.0, dropped.clone());
        for seq in 0..20 {
            pacer.handle_write(rtp(t, seq)).expect("write");
        }
        pacer.handle_timeout(t).expect("timeout");
        let first = released(&mut pacer);
        assert!(
            !first.is_empty() && first.len() < 5,
            "a burst, not all: {first:?}"
        );
        let mut sent = first.len();
        let mut at = t;
        while let Some(wake) = pacer.poll_timeout() {
            assert!(wake > at, "the wake-up moves on");
            at = wake;
            pacer.handle_timeout(at).expect("timeout");
            sent += released(&mut pacer).len();
        }
        // About half a second's worth left; the rest waited too long.
        assert!((6..=10).contains(&sent), "{sent} sent");
        assert_eq!(sent as u64 + dropped.load(Ordering::Relaxed), 20);
        assert!(at <= t + MAX_QUEUE_TIME + Duration::from_millis(2));
    }

    #[test]
    fn the_estimate_on_the_read_leg_sets_the_rate() {
        let t = Instant::now();
        let mut pacer = FreshPacer::new(100_000.0, Arc::default());
        let mut feedback = rtp(t, 0);
        feedback.message.add(Attribute::TargetBitrateChanged {
            bits_per_second: 10_000_000.0,
        });
        pacer.handle_read(feedback).expect("read");
        assert!(pacer.poll_read().is_some(), "passed on");
        for seq in 0..20 {
            pacer.handle_write(rtp(t, seq)).expect("write");
        }
        pacer
            .handle_timeout(t + Duration::from_millis(20))
            .expect("timeout");
        assert_eq!(
            released(&mut pacer).len(),
            20,
            "10 Mbit/s lets 20 kB out at once"
        );
    }
}
