//! Asking for lost packets again (RTCP NACK), only while an answer can
//! still help.
//!
//! webrtc-rs's NACK generator asks for every missing packet in its
//! 512-packet log every 100 ms, with no limit on tries or age. After a cut
//! on an island link that is hundreds of packets asked for ten times a
//! second, long after the frames they belonged to were given up: the
//! sender's retransmissions then fill its paced rate and fresh video
//! queues behind stale video (measured here: seconds of nothing after the
//! link came back). This generator asks for a packet at most
//! [`MAX_TRIES`] times, [`RETRY_AFTER`] apart, and only while it is younger
//! than the frame buffer's patience ([`crate::depacketize::MAX_REORDER`]);
//! a gap longer than [`MAX_GAP`], or one that ends a silence longer than
//! the patience (a cut: what was sent during it is already too old), is
//! not asked for at all — the frame
//! buffer gives those frames up and asks for a keyframe instead, which is
//! the cheaper repair.

use super::rtx::RtxMap;
use super::watching::{PacketWatcher, Watching};
use rtc::interceptor::{AttributedPacket, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    TransportLayerNack, nack_pairs_from_sequence_numbers,
};
use rtc::shared::TransportContext;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Tries per lost packet.
pub const MAX_TRIES: u8 = 3;
/// Between two tries for the same packet: about an island link's round
/// trip, so a retransmission on its way is not asked for again.
pub const RETRY_AFTER: Duration = Duration::from_millis(100);
/// A gap longer than this (packets) is a cut or a reset, not loss.
pub const MAX_GAP: u64 = 1000;
/// Packets remembered as missing at most, whatever the gaps: a peer that
/// jumps its sequence numbers by just under `MAX_GAP` again and again
/// would otherwise grow the set by a thousand entries a packet until
/// patience runs out. An 8K keyframe at 100 Mbit/s is ~2,000 packets; the
/// oldest (the least likely to arrive in time) go first.
pub const MAX_MISSING: usize = 2 * MAX_GAP as usize;
/// How often the list of missing packets is looked at.
const TICK: Duration = Duration::from_millis(20);

struct Missing {
    noticed: Instant,
    tries: u8,
    last_try: Option<Instant>,
}

#[derive(Default)]
struct Stream {
    /// The highest sequence number seen, extended past wrap-around.
    highest: Option<u64>,
    /// When the last packet arrived.
    last_arrival: Option<Instant>,
    missing: BTreeMap<u64, Missing>,
}

impl Stream {
    /// `seq` arrived at `now`.
    fn arrived(&mut self, seq: u16, now: Instant, patience: Duration) {
        let silent_for = self
            .last_arrival
            .map_or(Duration::ZERO, |last| now.duration_since(last));
        self.last_arrival = Some(now);
        let Some(highest) = self.highest else {
            self.highest = Some(u64::from(seq) + (1 << 16));
            return;
        };
        let extended = extend(highest, seq);
        if extended <= highest {
            // Late or retransmitted: no longer missing.
            self.missing.remove(&extended);
            return;
        }
        let gap = extended - highest - 1;
        // After a silence longer than the frame buffer waits, the packets
        // in the gap were sent during it: too old to be worth asking for.
        if gap > MAX_GAP || (gap > 0 && silent_for > patience) {
            self.missing.clear();
        } else {
            for lost in highest + 1..extended {
                self.missing.insert(
                    lost,
                    Missing {
                        noticed: now,
                        tries: 0,
                        last_try: None,
                    },
                );
            }
            while self.missing.len() > MAX_MISSING {
                self.missing.pop_first();
            }
        }
        self.highest = Some(extended);
    }

    /// The packets to ask for at `now`; forgets those past hope.
    fn due(&mut self, now: Instant, patience: Duration) -> Vec<u16> {
        self.missing
            .retain(|_, m| m.tries < MAX_TRIES && now.duration_since(m.noticed) < patience);
        let mut due = Vec::new();
        for (&seq, m) in &mut self.missing {
            if m.last_try
                .is_none_or(|last| now.duration_since(last) >= RETRY_AFTER)
            {
                m.tries += 1;
                m.last_try = Some(now);
                due.push(seq as u16);
            }
        }
        due
    }
}

/// `seq` as the extended sequence number nearest `highest`.
fn extend(highest: u64, seq: u16) -> u64 {
    let cycle = highest & !0xffff;
    let candidates = [
        cycle.wrapping_sub(1 << 16) | u64::from(seq),
        cycle | u64::from(seq),
        (cycle + (1 << 16)) | u64::from(seq),
    ];
    candidates
        .into_iter()
        .min_by_key(|c| c.abs_diff(highest))
        .unwrap_or(u64::from(seq))
}

/// The NACK generator (takes webrtc-rs's slot for one).
pub struct RecentNacks {
    sender_ssrc: u32,
    patience: Duration,
    streams: HashMap<u32, Stream>,
    rtx: RtxMap,
    next_tick: Option<Instant>,
}

impl RecentNacks {
    /// Asks only while a packet is younger than `patience` (how long the
    /// frame buffer waits for it).
    pub fn new(patience: Duration) -> RecentNacks {
        RecentNacks {
            sender_ssrc: rand::random(),
            patience,
            streams: HashMap::new(),
            rtx: RtxMap::default(),
            next_tick: None,
        }
    }
}

/// The generator as an interceptor of the chain.
pub fn recent_nacks(patience: Duration) -> Watching<RecentNacks> {
    Watching::new(RecentNacks::new(patience))
}

impl PacketWatcher for RecentNacks {
    fn on_read(&mut self, msg: &mut TaggedPacket) -> bool {
        // A repair on an RTX stream fills its original's gap.
        if let Packet::Rtp(packet) = &msg.message.packet
            && let Some((ssrc, sequence)) = self.rtx.media_sequence(packet)
            && let Some(stream) = self.streams.get_mut(&ssrc)
        {
            stream.arrived(sequence, msg.now, self.patience);
            if !stream.missing.is_empty() && self.next_tick.is_none() {
                self.next_tick = Some(msg.now);
            }
        }
        true
    }

    fn on_timeout(&mut self, now: Instant, send: &mut VecDeque<TaggedPacket>) {
        if self.next_tick.is_none_or(|tick| now < tick) {
            return;
        }
        for (&media_ssrc, stream) in &mut self.streams {
            let due = stream.due(now, self.patience);
            if due.is_empty() {
                continue;
            }
            let nack = TransportLayerNack {
                sender_ssrc: self.sender_ssrc,
                media_ssrc,
                nacks: nack_pairs_from_sequence_numbers(&due),
            };
            send.push_back(TaggedPacket {
                now,
                transport: TransportContext::default(),
                message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(nack)])),
            });
        }
        // Idle (no timer) once nothing is missing.
        let waiting = self.streams.values().any(|s| !s.missing.is_empty());
        self.next_tick = waiting.then_some(now + TICK);
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        let asks = info
            .rtcp_feedback
            .iter()
            .any(|fb| fb.typ == "nack" && fb.parameter.is_empty());
        if asks {
            self.streams.insert(info.ssrc, Stream::default());
            self.rtx.bind(info);
        }
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.streams.remove(&info.ssrc);
        self.rtx.unbind(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::sansio::Protocol;

    const PATIENCE: Duration = Duration::from_millis(200);

    fn asked(stream: &mut Stream, at: Instant) -> Vec<u16> {
        stream.due(at, PATIENCE)
    }

    impl Stream {
        fn got(&mut self, seq: u16, at: Instant) {
            self.arrived(seq, at, PATIENCE);
        }
    }

    #[test]
    fn sequence_jumps_just_under_a_cut_cannot_grow_the_missing_set_without_bound() {
        let t = Instant::now();
        let mut s = Stream::default();
        let mut seq = 0u16;
        // Each packet jumps 999 ahead (a gap of 998, not a cut), wrapping
        // the 16-bit sequence many times over, all within patience.
        for i in 0..10_000u32 {
            s.got(seq, t + Duration::from_micros(u64::from(i)));
            seq = seq.wrapping_add(999);
        }
        assert!(s.missing.len() <= MAX_MISSING, "{}", s.missing.len());
        // The newest gaps are the ones remembered.
        let newest = s.highest.expect("highest");
        assert!(
            s.missing
                .keys()
                .all(|&k| newest - k <= MAX_MISSING as u64 + MAX_GAP)
        );
    }

    #[test]
    fn a_lost_packet_is_asked_for_three_times_a_retry_apart() {
        let t = Instant::now();
        let mut s = Stream::default();
        for seq in [10, 11, 13, 14] {
            s.got(seq, t);
        }
        assert_eq!(asked(&mut s, t), vec![12]);
        assert!(asked(&mut s, t + Duration::from_millis(50)).is_empty());
        assert_eq!(asked(&mut s, t + RETRY_AFTER), vec![12]);
        // The third try would be at 200 ms: past patience, so never.
        assert!(asked(&mut s, t + Duration::from_millis(199)).is_empty());
        assert!(asked(&mut s, t + Duration::from_millis(200)).is_empty());
        assert!(s.missing.is_empty(), "forgotten once past hope");
    }

    #[test]
    fn tries_are_counted_when_patience_allows_them() {
        let t = Instant::now();
        let mut s = Stream::default();
        s.got(1, t);
        s.got(3, t);
        let long = Duration::from_secs(5);
        let tries: usize = (0..10)
            .map(|i| s.due(t + RETRY_AFTER * i, long).len())
            .sum();
        assert_eq!(tries, usize::from(MAX_TRIES));
    }

    #[test]
    fn a_packet_that_arrives_late_is_not_asked_for() {
        let t = Instant::now();
        let mut s = Stream::default();
        for seq in [1, 2, 4, 3] {
            s.got(seq, t);
        }
        assert!(asked(&mut s, t).is_empty());
    }

    #[test]
    fn a_cut_is_not_asked_for_packet_by_packet() {
        let t = Instant::now();
        let mut s = Stream::default();
        s.got(100, t);
        s.got(101, t);
        s.got(103, t);
        // The stream goes on far ahead.
        s.got(2500, t + Duration::from_millis(10));
        assert!(asked(&mut s, t + Duration::from_millis(10)).is_empty());
        // A short gap after a silence longer than the patience: what was
        // sent during it is too old.
        s.got(2550, t + Duration::from_secs(10));
        assert!(asked(&mut s, t + Duration::from_secs(10)).is_empty());
    }

    #[test]
    fn sequence_numbers_wrap() {
        let t = Instant::now();
        let mut s = Stream::default();
        for seq in [65_533, 65_534, 0, 1] {
            s.got(seq, t);
        }
        assert_eq!(asked(&mut s, t), vec![65_535]);
        // And an old packet from before the wrap is recognised as late.
        s.got(65_535, t);
        assert!(s.missing.is_empty());
    }

    #[test]
    fn a_repair_on_the_rtx_stream_fills_its_gap() {
        use rtc::interceptor::RTCPFeedback;
        let t = Instant::now();
        let mut nacks = recent_nacks(PATIENCE);
        rtc::interceptor::Interceptor::bind_remote_stream(
            &mut nacks,
            &StreamInfo {
                ssrc: 7,
                ssrc_rtx: Some(8),
                rtcp_feedback: vec![RTCPFeedback {
                    typ: "nack".into(),
                    parameter: String::new(),
                }],
                ..Default::default()
            },
        );
        let rtp = |ssrc: u32, seq: u16, payload: &[u8]| {
            let mut packet = rtc::rtp::Packet::default();
            packet.header.ssrc = ssrc;
            packet.header.sequence_number = seq;
            packet.payload = bytes::Bytes::copy_from_slice(payload);
            TaggedPacket {
                now: t,
                transport: TransportContext::default(),
                message: AttributedPacket::new(Packet::Rtp(packet)),
            }
        };
        for seq in [1, 2, 4] {
            nacks.handle_read(rtp(7, seq, &[0])).expect("read");
        }
        // Sequence 3 comes back on the RTX stream (its own sequence number
        // 500, the original's in front); padding on it is ignored.
        nacks
            .handle_read(rtp(8, 500, &[0, 3, 0xaa]))
            .expect("repair");
        nacks.handle_read(rtp(8, 501, &[])).expect("padding");
        assert!(nacks.watcher.streams[&7].missing.is_empty());
        assert!(
            !nacks.watcher.streams.contains_key(&8),
            "no gaps kept for the RTX stream"
        );
    }

    #[test]
    fn the_interceptor_sends_nacks_for_bound_streams_and_then_idles() {
        use rtc::interceptor::RTCPFeedback;
        let t = Instant::now();
        let mut nacks = recent_nacks(PATIENCE);
        rtc::interceptor::Interceptor::bind_remote_stream(
            &mut nacks,
            &StreamInfo {
                ssrc: 7,
                rtcp_feedback: vec![RTCPFeedback {
                    typ: "nack".into(),
                    parameter: String::new(),
                }],
                ..Default::default()
            },
        );
        let rtp = |seq: u16| {
            let mut packet = rtc::rtp::Packet::default();
            packet.header.ssrc = 7;
            packet.header.sequence_number = seq;
            TaggedPacket {
                now: t,
                transport: TransportContext::default(),
                message: AttributedPacket::new(Packet::Rtp(packet)),
            }
        };
        for seq in [1, 2, 5] {
            nacks.handle_read(rtp(seq)).expect("read");
            assert!(nacks.poll_read().is_some(), "packets pass through");
        }
        let tick = nacks
            .poll_timeout()
            .expect("a tick while packets are missing");
        nacks.handle_timeout(tick).expect("timeout");
        let sent = nacks.poll_write().expect("a NACK");
        let Packet::Rtcp(rtcp) = &sent.message.packet else {
            panic!("not RTCP")
        };
        let nack = rtcp[0]
            .as_any()
            .downcast_ref::<TransportLayerNack>()
            .expect("a transport-layer NACK");
        assert_eq!(nack.media_ssrc, 7);
        let lost: Vec<u16> = nack.nacks.iter().flat_map(|p| p.packet_list()).collect();
        assert_eq!(lost, vec![3, 4]);
        // Past patience nothing is missing any more, and the timer stops.
        nacks
            .handle_timeout(t + Duration::from_secs(1))
            .expect("timeout");
        assert!(nacks.poll_write().is_none());
        assert_eq!(nacks.poll_timeout(), None);
    }
}
