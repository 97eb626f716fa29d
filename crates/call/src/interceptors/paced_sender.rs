//! What leaves, and in what order: the pacer, the answers to NACKs, and
//! what is never sent twice for nothing.
//!
//! One interceptor (in webrtc-rs's pacer slot, above the transport-wide
//! numbering) does what libwebrtc's paced sender and packet history do
//! together, because each part needs the others' state:
//!
//! - **Lanes**: audio first, then repairs (retransmissions), then video.
//!   Audio is a few kbit/s and must never wait behind a keyframe; a repair
//!   completes a frame the receiver already waits for, so it goes before
//!   new video.
//! - **Pacing** at the rate the congestion controller hands down (a
//!   multiple of the estimate, see `congestion::PACING_FACTOR`), with the
//!   library's leaky bucket.
//! - **Nothing stale**: video and audio that waited longer than
//!   [`MAX_QUEUE_TIME`], and repairs older than [`MAX_REPAIR_WAIT`] (the
//!   receiver's frame buffer has given their frame up by then), are
//!   dropped rather than sent late.
//! - **Repairs** from our own history of what was sent (webrtc-rs's NACK
//!   responder is not used): a packet is resent only if no copy of it is
//!   still queued here and none left within a round trip (a copy on its
//!   way needs no second one), and within a budget of the estimate's rate.
//!   webrtc-rs's responder resent every packet each time it was asked: on
//!   a link whose queue held 200 ms, the receiver's second request for a
//!   packet crossed the first repair, both copies arrived, and SRTP's replay
//!   check dropped the second before transport-wide feedback could count
//!   it — GCC then read 20–30 % loss on a link that lost nothing, and cut
//!   its estimate for seconds (measured on the island link after a drop
//!   from 50 to 5 Mbit/s).
//! - **RTX** (RFC 4588) when the session negotiated it: repairs go on the
//!   stream's repair SSRC with their original sequence number in front,
//!   numbered here at release, so that every copy on the wire is a
//!   distinct packet to the receiver's SRTP and to the feedback.

use crate::estimate::EstimateCell;
use crate::probe::ActiveCluster;
use rtc::interceptor::{
    Attribute, AttributedPacket, Interceptor, Pacer, Packet, StreamInfo, TaggedPacket,
};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::marshal::MarshalSize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest media may wait to leave.
pub const MAX_QUEUE_TIME: Duration = Duration::from_millis(500);
/// The longest a repair may wait to leave: past the receiver's patience
/// for a missing packet (`depacketize::MAX_REORDER`, 300 ms) less a
/// one-way trip, its frame has been given up.
pub const MAX_REPAIR_WAIT: Duration = Duration::from_millis(250);
/// A packet older than this (since it was first queued) is not repaired.
pub const MAX_REPAIR_AGE: Duration = Duration::from_secs(1);
/// Packets kept per video stream for repairs: a whole 8K keyframe (~1000)
/// and then some.
pub const HISTORY: usize = 4096;
/// The round trip assumed until feedback has measured one.
const DEFAULT_RTT: Duration = Duration::from_millis(100);
/// Added to the round trip before a packet that left may be resent: the
/// receiver's request timer and the far end's scheduling.
const RTT_SLACK: Duration = Duration::from_millis(20);
/// Repairs may burst this much of the estimate's rate at once.
const REPAIR_BURST: Duration = Duration::from_millis(250);
/// How much of a probe's rate one wake-up may send at once.
const PROBE_BURST: Duration = Duration::from_millis(2);
/// What a padding packet is assumed to weigh before it is made.
const PADDING_BITS: f64 = 1200.0 * 8.0;
/// A bound on each lane's length whatever the times say.
const MAX_QUEUED: usize = 8192;

/// What the sender did, for the statistics.
#[derive(Debug, Default)]
pub struct SenderCounters {
    /// Packets dropped after waiting too long (media and repairs).
    pub stale_dropped: AtomicU64,
    /// Repairs sent (answers to NACKs).
    pub repairs_sent: AtomicU64,
    /// Requests not answered because a copy was queued or on its way.
    pub repairs_in_flight: AtomicU64,
    /// Requests not answered: over the repair budget, or the packet is no
    /// longer kept (too old, or never sent).
    pub repairs_refused: AtomicU64,
    /// Local streams whose repairs go on an RTX stream (negotiated).
    pub rtx_streams: AtomicU64,
    /// Padding packets sent to fill probes.
    pub padding_sent: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Audio,
    Repair,
    Video,
}

struct Queued {
    at: Instant,
    packet: TaggedPacket,
    /// The history entry (media SSRC, sequence number) this is a copy of.
    copy_of: Option<(u32, u16)>,
    /// A repair to go out on this RTX SSRC: its sequence number is given
    /// at release.
    rtx_ssrc: Option<u32>,
}

struct Kept {
    sequence: u16,
    packet: rtc::rtp::Packet,
    first_queued: Instant,
    /// Copies of it waiting in a lane.
    queued_copies: u8,
    last_sent: Option<Instant>,
}

struct LocalStream {
    audio: bool,
    /// Indexed by sequence number modulo [`HISTORY`]; video only.
    history: Vec<Option<Kept>>,
    /// The repair stream: SSRC and payload type.
    rtx: Option<(u32, u8)>,
}

impl LocalStream {
    fn kept_mut(&mut self, sequence: u16) -> Option<&mut Kept> {
        if self.history.is_empty() {
            return None;
        }
        self.history[usize::from(sequence) % HISTORY]
            .as_mut()
            .filter(|k| k.sequence == sequence)
    }
}

/// A token bucket for repairs, at the estimate's rate.
struct RepairBudget {
    bits: f64,
    at: Option<Instant>,
}

impl RepairBudget {
    fn take(&mut self, now: Instant, rate_bps: f64, bits: f64) -> bool {
        let cap = rate_bps * REPAIR_BURST.as_secs_f64();
        let elapsed = self
            .at
            .map_or(REPAIR_BURST, |at| now.saturating_duration_since(at));
        self.bits = (self.bits + elapsed.as_secs_f64() * rate_bps).min(cap);
        self.at = Some(now);
        if self.bits < bits {
            return false;
        }
        self.bits -= bits;
        true
    }
}

pub struct PacedSender {
    bucket: Pacer,
    audio: VecDeque<Queued>,
    repairs: VecDeque<Queued>,
    video: VecDeque<Queued>,
    /// Released (and RTCP, which passes at once), for `poll_write`.
    out: VecDeque<TaggedPacket>,
    read: VecDeque<TaggedPacket>,
    streams: HashMap<u32, LocalStream>,
    /// Sequence numbers of each RTX stream, given at release.
    rtx_sequence: HashMap<u32, u16>,
    budget: RepairBudget,
    estimate: Arc<EstimateCell>,
    counters: Arc<SenderCounters>,
    /// A probe cluster being sent, and the bucket that paces it at its
    /// rate.
    probe: Option<(ActiveCluster, Pacer)>,
    /// The video packet that left last: what padding copies.
    last_video: Option<(u32, u16)>,
    /// When the queues were last run: a wake at or before it would find
    /// them as it left them.
    released_at: Option<Instant>,
}

impl PacedSender {
    /// Pacing at `start_bps` until the congestion controller says otherwise;
    /// the round trip and the repair budget come from `estimate`.
    pub fn new(
        start_bps: f64,
        estimate: Arc<EstimateCell>,
        counters: Arc<SenderCounters>,
    ) -> PacedSender {
        PacedSender {
            bucket: Pacer::new(start_bps),
            audio: VecDeque::new(),
            repairs: VecDeque::new(),
            video: VecDeque::new(),
            out: VecDeque::new(),
            read: VecDeque::new(),
            streams: HashMap::new(),
            rtx_sequence: HashMap::new(),
            budget: RepairBudget {
                bits: 0.0,
                at: None,
            },
            estimate,
            counters,
            probe: None,
            last_video: None,
            released_at: None,
        }
    }

    fn bits_of(packet: &TaggedPacket) -> f64 {
        match &packet.message.packet {
            Packet::Rtp(rtp) => (rtp.marshal_size() * 8) as f64,
            _ => 0.0,
        }
    }

    fn lane(&mut self, lane: Lane) -> &mut VecDeque<Queued> {
        match lane {
            Lane::Audio => &mut self.audio,
            Lane::Repair => &mut self.repairs,
            Lane::Video => &mut self.video,
        }
    }

    fn max_wait(lane: Lane) -> Duration {
        match lane {
            Lane::Repair => MAX_REPAIR_WAIT,
            Lane::Audio | Lane::Video => MAX_QUEUE_TIME,
        }
    }

    /// The lane whose head goes next: audio, then repairs, then video.
    fn next_lane(&self) -> Option<Lane> {
        [
            (Lane::Audio, &self.audio),
            (Lane::Repair, &self.repairs),
            (Lane::Video, &self.video),
        ]
        .into_iter()
        .find(|(_, queue)| !queue.is_empty())
        .map(|(lane, _)| lane)
    }

    /// A copy of history entry `key` left its lane (sent or dropped).
    fn copy_left(&mut self, key: Option<(u32, u16)>, sent_at: Option<Instant>) {
        let Some((ssrc, sequence)) = key else {
            return;
        };
        if let Some(kept) = self
            .streams
            .get_mut(&ssrc)
            .and_then(|s| s.kept_mut(sequence))
        {
            kept.queued_copies = kept.queued_copies.saturating_sub(1);
            if sent_at.is_some() {
                kept.last_sent = sent_at;
            }
        }
    }

    fn drop_stale(&mut self, now: Instant) {
        for lane in [Lane::Audio, Lane::Repair, Lane::Video] {
            let limit = Self::max_wait(lane);
            while let Some(head) = self.lane(lane).front() {
                if now.saturating_duration_since(head.at) <= limit {
                    break;
                }
                let Some(stale) = self.lane(lane).pop_front() else {
                    break;
                };
                self.counters.stale_dropped.fetch_add(1, Ordering::Relaxed);
                self.copy_left(stale.copy_of, None);
            }
        }
    }

    fn queue(&mut self, lane: Lane, queued: Queued) {
        if self.lane(lane).len() >= MAX_QUEUED {
            self.counters.stale_dropped.fetch_add(1, Ordering::Relaxed);
            self.copy_left(queued.copy_of, None);
            return;
        }
        self.lane(lane).push_back(queued);
        // New work: a wake at the last run's time may release it.
        self.released_at = None;
    }

    /// Answer a NACK: queue a repair for each packet that needs one.
    fn repair(&mut self, now: Instant, nack: &TransportLayerNack) {
        let estimate = self.estimate.get();
        let guard = estimate.rtt.unwrap_or(DEFAULT_RTT) + RTT_SLACK;
        let rate = estimate.target_bps;
        let Some(stream) = self.streams.get_mut(&nack.media_ssrc) else {
            return;
        };
        let rtx = stream.rtx;
        let mut repairs = Vec::new();
        for sequence in nack.nacks.iter().flat_map(|pair| pair.packet_list()) {
            let Some(kept) = stream.kept_mut(sequence) else {
                self.counters
                    .repairs_refused
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if now.saturating_duration_since(kept.first_queued) > MAX_REPAIR_AGE {
                self.counters
                    .repairs_refused
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let in_flight = kept.queued_copies > 0
                || kept
                    .last_sent
                    .is_some_and(|sent| now.saturating_duration_since(sent) < guard);
            if in_flight {
                self.counters
                    .repairs_in_flight
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let packet = match rtx {
                Some((rtx_ssrc, rtx_payload_type)) => {
                    rtx_copy(&kept.packet, rtx_ssrc, rtx_payload_type)
                }
                None => kept.packet.clone(),
            };
            let bits = (packet.marshal_size() * 8) as f64;
            if !self.budget.take(now, rate, bits) {
                self.counters
                    .repairs_refused
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            kept.queued_copies += 1;
            repairs.push(Queued {
                at: now,
                packet: TaggedPacket {
                    now,
                    transport: Default::default(),
                    message: AttributedPacket::new(Packet::Rtp(packet))
                        .with(Attribute::Retransmission),
                },
                copy_of: Some((nack.media_ssrc, sequence)),
                rtx_ssrc: rtx.map(|(ssrc, _)| ssrc),
            });
        }
        for repair in repairs {
            self.queue(Lane::Repair, repair);
        }
    }

    fn release(&mut self, now: Instant) {
        self.released_at = Some(now);
        self.bucket.refill(now);
        self.drop_stale(now);
        self.start_probe(now);
        loop {
            let (lane, bits) = match self.next_lane() {
                Some(lane) => match self.lane(lane).front() {
                    Some(head) => (Some(lane), Self::bits_of(&head.packet)),
                    None => break,
                },
                // Nothing queued: a probe is filled with padding.
                None if self.probe.is_some() => (None, PADDING_BITS),
                None => break,
            };
            if let Some((_, bucket)) = self.probe.as_mut() {
                bucket.refill(now);
                if !bucket.can_release(bits) {
                    break;
                }
            } else if !self.bucket.can_release(bits) {
                break;
            }
            let packet = match lane {
                Some(lane) => self.take(lane, now),
                None => match self.padding(now) {
                    Some(padding) => padding,
                    None => {
                        // Nothing to copy yet: the probe waits for media.
                        break;
                    }
                },
            };
            let bits = Self::bits_of(&packet);
            self.bucket.consume(bits);
            if let Some((cluster, bucket)) = self.probe.as_mut() {
                bucket.consume(bits);
                cluster.sent(now, bits);
                if cluster.is_complete() {
                    if let Some(sent) = cluster.finish() {
                        self.estimate.probes.lock().sent.push_back(sent);
                    }
                    self.probe = None;
                }
            }
            self.out.push_back(packet);
        }
    }

    /// Take the head of `lane` and make it leave at `now`.
    fn take(&mut self, lane: Lane, now: Instant) -> TaggedPacket {
        let Some(mut queued) = self.lane(lane).pop_front() else {
            unreachable!("take is called with the lane's head in hand");
        };
        if let (Some(rtx_ssrc), Packet::Rtp(rtp)) =
            (queued.rtx_ssrc, &mut queued.packet.message.packet)
        {
            rtp.header.sequence_number = self.next_rtx_sequence(rtx_ssrc);
        }
        if lane == Lane::Repair {
            self.counters.repairs_sent.fetch_add(1, Ordering::Relaxed);
        }
        if lane == Lane::Video {
            self.last_video = queued.copy_of;
        }
        self.copy_left(queued.copy_of, Some(now));
        // It departs now: what records departures (the send history GCC
        // reads) must see this instant, not the enqueue one, or the
        // queueing is charged to the network.
        queued.packet.now = now;
        queued.packet
    }

    fn next_rtx_sequence(&mut self, rtx_ssrc: u32) -> u16 {
        let next = self
            .rtx_sequence
            .entry(rtx_ssrc)
            .or_insert_with(rand::random);
        let sequence = *next;
        *next = next.wrapping_add(1);
        sequence
    }

    /// Begin the next requested probe, if none is running and there is an
    /// RTX stream to pad on.
    fn start_probe(&mut self, now: Instant) {
        if self.probe.is_some() {
            return;
        }
        let can_pad = self.streams.values().any(|s| s.rtx.is_some());
        let mut board = self.estimate.probes.lock();
        if !can_pad {
            // Without RTX there is nothing to pad with: the estimate climbs
            // by itself instead.
            board.requested.clear();
            return;
        }
        if let Some(rate_bps) = board.requested.pop_front() {
            // A timer wakes this at best every millisecond: each wake may
            // send what the rate allows for two, or a fast probe would be
            // held to one packet a millisecond (~10 Mbit/s).
            let burst = (rate_bps * PROBE_BURST.as_secs_f64()).max(PADDING_BITS);
            let mut bucket = Pacer::new(rate_bps).with_burst_bits(burst);
            bucket.refill(now);
            self.probe = Some((ActiveCluster::new(rate_bps), bucket));
        }
    }

    /// An RTX copy of the video packet that left last, to fill a probe.
    fn padding(&mut self, now: Instant) -> Option<TaggedPacket> {
        let (ssrc, sequence) = self.last_video?;
        let stream = self.streams.get_mut(&ssrc)?;
        let (rtx_ssrc, rtx_payload_type) = stream.rtx?;
        let kept = stream.kept_mut(sequence)?;
        let mut packet = rtx_copy(&kept.packet, rtx_ssrc, rtx_payload_type);
        packet.header.sequence_number = self.next_rtx_sequence(rtx_ssrc);
        self.counters.padding_sent.fetch_add(1, Ordering::Relaxed);
        Some(TaggedPacket {
            now,
            transport: Default::default(),
            message: AttributedPacket::new(Packet::Rtp(packet)),
        })
    }
}

/// `original` as an RTX packet (RFC 4588): its sequence number in front of
/// its payload, on the repair stream; its own sequence number is given
/// when it leaves.
fn rtx_copy(original: &rtc::rtp::Packet, rtx_ssrc: u32, rtx_payload_type: u8) -> rtc::rtp::Packet {
    let mut payload = Vec::with_capacity(2 + original.payload.len());
    payload.extend_from_slice(&original.header.sequence_number.to_be_bytes());
    payload.extend_from_slice(&original.payload);
    rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            ssrc: rtx_ssrc,
            payload_type: rtx_payload_type,
            timestamp: original.header.timestamp,
            marker: original.header.marker,
            ..Default::default()
        },
        payload: payload.into(),
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for PacedSender {
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
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for packet in packets {
                if let Some(nack) = packet.as_any().downcast_ref::<TransportLayerNack>() {
                    self.repair(msg.now, nack);
                    self.release(msg.now);
                }
            }
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        let Packet::Rtp(rtp) = &msg.message.packet else {
            self.out.push_back(msg);
            return Ok(());
        };
        let ssrc = rtp.header.ssrc;
        let sequence = rtp.header.sequence_number;
        let Some(stream) = self.streams.get_mut(&ssrc) else {
            // Not a stream of ours (nothing else sends RTP): pass it on.
            self.out.push_back(msg);
            return Ok(());
        };
        let lane = if stream.audio {
            Lane::Audio
        } else {
            Lane::Video
        };
        let mut copy_of = None;
        if !stream.history.is_empty() {
            stream.history[usize::from(sequence) % HISTORY] = Some(Kept {
                sequence,
                packet: rtp.clone(),
                first_queued: msg.now,
                queued_copies: 1,
                last_sent: None,
            });
            copy_of = Some((ssrc, sequence));
        }
        self.bucket.refill(msg.now);
        let now = msg.now;
        self.queue(
            lane,
            Queued {
                at: now,
                packet: msg,
                copy_of,
                rtx_ssrc: None,
            },
        );
        // Whatever the bucket allows leaves at once rather than on the next
        // timer.
        self.release(now);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.out.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.release(now);
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        // Wake for the next release, or to drop a stale head, whichever is
        // first; during a probe, for its next packet.
        let lanes = [
            (Lane::Audio, &self.audio),
            (Lane::Repair, &self.repairs),
            (Lane::Video, &self.video),
        ];
        let stale_at = lanes
            .iter()
            .filter_map(|(lane, queue)| {
                let head = queue.front()?;
                Some(head.at + Self::max_wait(*lane) + Duration::from_millis(1))
            })
            .min();
        let next_bits = lanes
            .iter()
            .find_map(|(_, queue)| queue.front())
            .map(|head| Self::bits_of(&head.packet));
        let releasable = match (&self.probe, next_bits) {
            (Some((_, bucket)), bits) => bucket.releasable_at(bits.unwrap_or(PADDING_BITS)),
            (None, Some(bits)) => self.bucket.releasable_at(bits),
            (None, None) => None,
        };
        // A wake no later than the last run would find the queues as that
        // run left them — a budget a rounding short of the packet (the
        // wait rounds to 0 ns), or a probe with no media to copy yet — and
        // a driver passing the wake back as the time would spin without
        // end (the rtcp_feedback fuzz target found it). Such a wake moves
        // a retry step past that run.
        let releasable = releasable.map(|at| match self.released_at {
            Some(done) if at <= done => done + RETRY_AFTER_STALL,
            _ => at,
        });
        [stale_at, releasable].into_iter().flatten().min()
    }
}

/// How long after a run that released nothing the queues are tried again
/// when the pacer's arithmetic says "now": a millisecond is a fifth of
/// libwebrtc's pacing interval and a rounding error's worth of budget.
const RETRY_AFTER_STALL: Duration = Duration::from_millis(1);

impl Interceptor for PacedSender {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        let audio = info.mime_type.to_ascii_lowercase().starts_with("audio/");
        let repairs = info
            .rtcp_feedback
            .iter()
            .any(|fb| fb.typ == "nack" && fb.parameter.is_empty());
        let history = if repairs && !audio {
            std::iter::repeat_with(|| None).take(HISTORY).collect()
        } else {
            Vec::new()
        };
        let rtx = match (info.ssrc_rtx, info.payload_type_rtx) {
            (Some(ssrc), Some(payload_type)) => Some((ssrc, payload_type)),
            _ => None,
        };
        if rtx.is_some() {
            self.counters.rtx_streams.fetch_add(1, Ordering::Relaxed);
        }
        self.streams.insert(
            info.ssrc,
            LocalStream {
                audio,
                history,
                rtx,
            },
        );
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        if self
            .streams
            .remove(&info.ssrc)
            .is_some_and(|stream| stream.rtx.is_some())
        {
            self.counters.rtx_streams.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {

    /// What the rtcp_feedback fuzz target found: 69 bytes of RTCP after
    /// which the pacer's next wake was the time it had just run at, with
    /// nothing it could release there, so the loop "run the pacer up to
    /// now" never ended. It must end.
    #[test]
    fn the_pacer_never_asks_to_wake_where_it_just_stalled() {
        const FOUND: [u8; 69] = [
            0x05, 0x00, 0x01, 0x00, 0x01, 0x00, 0xff, 0x00, 0x01, 0xff, 0x33, 0x00, 0x03, 0x07,
            0xd0, 0x00, 0x01, 0x00, 0x10, 0x81, 0xcd, 0x00, 0x03, 0x00, 0x00, 0x00, 0x09, 0x00,
            0x00, 0x10, 0x00, 0xce, 0x00, 0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0xff, 0x00, 0x01,
            0xff, 0x33, 0x00, 0x03, 0x07, 0xd0, 0x00, 0x01, 0x00, 0x10, 0x81, 0xcd, 0x00, 0x03,
            0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x10, 0x00, 0xce, 0x00, 0x02, 0x00, 0x05,
        ];
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            crate::fuzzing::rtcp_feedback(&FOUND);
            let _ = done.send(());
        });
        // Milliseconds when it ends; a spin never does.
        assert!(
            finished
                .recv_timeout(std::time::Duration::from_secs(60))
                .is_ok(),
            "the pacer spun on a wake it had already served"
        );
    }

    use super::*;
    use rtc::interceptor::RTCPFeedback;
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::nack_pairs_from_sequence_numbers;
    use rtc::shared::TransportContext;

    const VIDEO: u32 = 1;
    const AUDIO: u32 = 2;
    const RTX: u32 = 3;

    /// The estimate the sender reads and the counters it keeps.
    struct Cells {
        estimate: Arc<EstimateCell>,
        sender: Arc<SenderCounters>,
    }

    impl std::ops::Deref for Cells {
        type Target = EstimateCell;
        fn deref(&self) -> &EstimateCell {
            &self.estimate
        }
    }

    fn sender(rate_bps: f64) -> (PacedSender, Cells) {
        let cell = Cells {
            estimate: Arc::new(EstimateCell::starting_at(rate_bps)),
            sender: Arc::default(),
        };
        let mut sender = PacedSender::new(rate_bps, cell.estimate.clone(), cell.sender.clone());
        sender.bind_local_stream(&StreamInfo {
            ssrc: VIDEO,
            ssrc_rtx: Some(RTX),
            payload_type: 96,
            payload_type_rtx: Some(97),
            mime_type: "video/VP8".into(),
            rtcp_feedback: vec![RTCPFeedback {
                typ: "nack".into(),
                parameter: String::new(),
            }],
            ..Default::default()
        });
        sender.bind_local_stream(&StreamInfo {
            ssrc: AUDIO,
            mime_type: "audio/opus".into(),
            ..Default::default()
        });
        (sender, cell)
    }

    fn rtp(at: Instant, ssrc: u32, seq: u16, bytes: usize) -> TaggedPacket {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = ssrc;
        packet.header.sequence_number = seq;
        packet.header.payload_type = 96;
        packet.payload = vec![seq as u8; bytes].into();
        TaggedPacket {
            now: at,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(packet)),
        }
    }

    /// Video packets `seqs` of `bytes` each, handed over at `at`.
    fn write_video(
        sender: &mut PacedSender,
        at: Instant,
        seqs: std::ops::Range<u16>,
        bytes: usize,
    ) {
        for seq in seqs {
            sender
                .handle_write(rtp(at, VIDEO, seq, bytes))
                .expect("write");
        }
    }

    fn nack(at: Instant, seqs: &[u16]) -> TaggedPacket {
        let nack = TransportLayerNack {
            sender_ssrc: 9,
            media_ssrc: VIDEO,
            nacks: nack_pairs_from_sequence_numbers(seqs),
        };
        TaggedPacket {
            now: at,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(nack)])),
        }
    }

    /// (ssrc, sequence number, first payload bytes) of what left.
    fn released(sender: &mut PacedSender) -> Vec<(u32, u16, Vec<u8>)> {
        std::iter::from_fn(|| sender.poll_write())
            .filter_map(|p| match p.message.packet {
                Packet::Rtp(rtp) => Some((
                    rtp.header.ssrc,
                    rtp.header.sequence_number,
                    rtp.payload[..2.min(rtp.payload.len())].to_vec(),
                )),
                _ => None,
            })
            .collect()
    }

    /// Run the sender's timers until nothing is queued.
    fn drain(sender: &mut PacedSender, from: Instant) -> (Vec<(u32, u16, Vec<u8>)>, Instant) {
        let mut at = from;
        let mut out = released(sender);
        while let Some(wake) = sender.poll_timeout() {
            // A wake-up already due is taken now.
            at = at.max(wake);
            sender.handle_timeout(at).expect("timeout");
            out.extend(released(sender));
        }
        (out, at)
    }

    #[test]
    fn packets_leave_at_the_rate_and_stale_ones_are_dropped() {
        let t = Instant::now();
        // 100 kbit/s: one ~1 kB packet per ~80 ms after the first burst.
        let (mut sender, cell) = sender(100_000.0);
        write_video(&mut sender, t, 0..20, 1000);
        let first = released(&mut sender);
        assert!(
            !first.is_empty() && first.len() < 5,
            "a burst, not all: {first:?}"
        );
        let (rest, end) = drain(&mut sender, t);
        let sent = first.len() + rest.len();
        // About half a second's worth left; the rest waited too long.
        assert!((6..=10).contains(&sent), "{sent} sent");
        let dropped = cell.sender.stale_dropped.load(Ordering::Relaxed);
        assert_eq!(sent as u64 + dropped, 20);
        assert!(end <= t + MAX_QUEUE_TIME + Duration::from_millis(2));
    }

    #[test]
    fn audio_goes_before_queued_video_and_repairs_before_new_video() {
        let t = Instant::now();
        let (mut sender, _) = sender(1_000_000.0);
        write_video(&mut sender, t, 0..30, 1200);
        let (first_video, _) = drain(&mut sender, t);
        assert_eq!(first_video.len(), 30);
        let later = t + Duration::from_secs(1);
        write_video(&mut sender, later, 30..60, 1200);
        sender
            .handle_write(rtp(later, AUDIO, 7, 100))
            .expect("audio");
        sender.handle_read(nack(later, &[20])).expect("nack");
        assert!(sender.poll_read().is_some(), "the NACK passes on");
        let (out, _) = drain(&mut sender, later);
        let position = |ssrc| out.iter().position(|(s, ..)| *s == ssrc);
        let audio = position(AUDIO).expect("audio left");
        let repair = position(RTX).expect("the repair left");
        let video_left = out.iter().filter(|(s, ..)| *s == VIDEO).count();
        // Some video left in the first burst before the audio arrived;
        // after that, audio, then the repair, then the rest of the video.
        assert!(audio < repair, "{out:?}");
        assert!(
            out[repair + 1..].iter().all(|(s, ..)| *s == VIDEO),
            "{out:?}"
        );
        assert_eq!(video_left, 30);
    }

    #[test]
    fn a_repair_goes_on_rtx_once_per_round_trip_and_never_while_a_copy_waits() {
        let t = Instant::now();
        // Slow: the pacer lets the first packet out and holds the rest.
        let (mut slow, _) = sender(100_000.0);
        write_video(&mut slow, t, 100..105, 1000);
        let first = released(&mut slow);
        assert!(first.len() < 5);
        let waiting = 100 + first.len() as u16;
        // Asked (a round trip later) for one that left and one still
        // queued: only the first is repaired (the other's original is on
        // its way).
        let asked = t + Duration::from_millis(130);
        slow.handle_read(nack(asked, &[100, waiting]))
            .expect("nack");
        let (out, _) = drain(&mut slow, asked);
        let repairs: Vec<_> = out.iter().filter(|(s, ..)| *s == RTX).collect();
        assert_eq!(repairs.len(), 1, "{out:?}");
        assert_eq!(
            repairs[0].2,
            100u16.to_be_bytes().to_vec(),
            "the OSN in front"
        );

        // Fast: everything leaves at once, so times are exact.
        let (mut fast, _) = sender(10_000_000.0);
        write_video(&mut fast, t, 100..105, 1000);
        assert_eq!(released(&mut fast).len(), 5);
        let asked = t + Duration::from_millis(130);
        fast.handle_read(nack(asked, &[100])).expect("nack");
        let first_repair = released(&mut fast);
        assert_eq!(first_repair.len(), 1);
        // Asked again within a round trip (100 ms assumed) of the repair
        // leaving: a copy is on its way.
        let soon = asked + Duration::from_millis(60);
        fast.handle_read(nack(soon, &[100])).expect("nack");
        assert!(released(&mut fast).is_empty());
        // After it, a second repair, with the next RTX sequence number.
        let later = asked + Duration::from_millis(200);
        fast.handle_read(nack(later, &[100])).expect("nack");
        let second_repair = released(&mut fast);
        assert_eq!(second_repair.len(), 1);
        assert_eq!(second_repair[0].0, RTX);
        assert_eq!(second_repair[0].1, first_repair[0].1.wrapping_add(1));
    }

    #[test]
    fn a_probe_fills_its_cluster_with_rtx_padding_at_its_rate() {
        let t = Instant::now();
        let (mut sender, cell) = sender(500_000.0);
        // Some video first: padding copies what left last.
        sender.handle_write(rtp(t, VIDEO, 10, 1100)).expect("write");
        assert_eq!(released(&mut sender).len(), 1);
        cell.probes.lock().requested.push_back(5_000_000.0);
        let probe_at = t + Duration::from_millis(200);
        sender.handle_timeout(probe_at).expect("timeout");
        let (out, _) = drain(&mut sender, probe_at);
        assert!(out.len() >= 5, "{out:?}");
        assert!(
            out.iter()
                .all(|(ssrc, _, osn)| *ssrc == RTX && *osn == 10u16.to_be_bytes()),
            "RTX copies of the last video packet: {out:?}"
        );
        let sequences: Vec<u16> = out.iter().map(|(_, seq, _)| *seq).collect();
        assert!(
            sequences.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "{sequences:?}"
        );
        let sent = cell
            .probes
            .lock()
            .sent
            .pop_front()
            .expect("the cluster was sent");
        assert_eq!(sent.rate_bps, 5_000_000.0);
        assert_eq!(sent.packets as usize, out.len());
        // 5 Mbit/s for at least 15 ms: ~9 packets of ~1.1 kB, spaced at
        // the probe's rate (not the 500 kbit/s pacing rate).
        let span = sent.last - sent.first;
        assert!(span >= Duration::from_millis(10), "{span:?}");
        assert!(span <= Duration::from_millis(40), "{span:?}");
        assert_eq!(
            cell.sender.padding_sent.load(Ordering::Relaxed),
            out.len() as u64
        );
    }

    #[test]
    fn repairs_keep_to_a_budget_and_old_packets_are_not_repaired() {
        let t = Instant::now();
        let (mut sender, cell) = sender(200_000.0);
        write_video(&mut sender, t, 0..40, 1000);
        let (_, end) = drain(&mut sender, t);
        let asked = end + Duration::from_millis(200);
        // Forty packets asked for at once: the budget (250 ms of 200 kbit/s,
        // ~6 packets) lets a few go.
        sender
            .handle_read(nack(asked, &(0..40).collect::<Vec<_>>()))
            .expect("nack");
        let (out, _) = drain(&mut sender, asked);
        assert!((3..=8).contains(&out.len()), "{} repairs", out.len());
        assert!(cell.sender.repairs_refused.load(Ordering::Relaxed) >= 30);
        // A packet first sent over a second ago is past repair.
        let late = t + MAX_REPAIR_AGE + Duration::from_millis(1);
        let refused = cell.sender.repairs_refused.load(Ordering::Relaxed);
        sender.handle_read(nack(late, &[39])).expect("nack");
        assert!(drain(&mut sender, late).0.is_empty());
        assert_eq!(
            cell.sender.repairs_refused.load(Ordering::Relaxed),
            refused + 1
        );
    }
}
