//! From RTP packets back to whole compressed frames, for every video codec
//! a peer may send: a frame buffer of our own (packet order, frame edges,
//! loss) around webrtc-rs's depacketizers for VP8, VP9, H.264 and AV1, and
//! RFC 7798 HEVC here, because the library's HEVC depacketizer returns the
//! RTP payload unchanged rather than NAL units a decoder can read.
//!
//! webrtc-rs's `SampleBuilder` releases a frame only once a packet of the
//! *next* frame has arrived (to learn the next timestamp): a whole frame
//! interval of delay, 33 ms at 30 fps. The buffer here releases a frame as
//! soon as its last packet (the RTP marker) is in and every packet before it
//! is too.

use bytes::{BufMut, Bytes, BytesMut};
use kh_media::VideoCodec;
use rtc::rtp::codec::av1::Av1Depacketizer;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::codec::vp9::Vp9Packet;
use rtc::rtp::packetizer::Depacketizer;
use rtc::shared::error::{Error, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the frame buffer has for the decoder.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembled {
    /// One compressed frame, whole.
    Frame(Bytes),
    /// A frame was given up (packets lost, or broken): the decoder's
    /// references are gone until the next keyframe.
    Lost,
}

/// Gathers a stream's RTP packets into frames ready to decode.
pub trait FrameAssembler: Send {
    /// A packet that arrived at `now`.
    fn push(&mut self, packet: rtc::rtp::Packet, now: Instant);
    fn pop(&mut self, now: Instant) -> Option<Assembled>;
}

/// Packets held while waiting for a frame's missing pieces: a 4K keyframe
/// at 1200-byte packets needs a few hundred.
const HELD_PACKETS: usize = 2048;
/// How long a gap is waited for (reordering, a retransmission) before the
/// frame it breaks is given up: counted from when the gap showed (the
/// first packet beyond it arrived), so a run of damaged frames after a
/// burst of loss is given up at once rather than 300 ms each, one after
/// the other (measured after a drop from 50 to 5 Mbit/s: six seconds
/// without a picture on a link that had stopped losing anything).
pub const MAX_REORDER: Duration = Duration::from_millis(300);

pub fn assembler_for(codec: VideoCodec) -> Box<dyn FrameAssembler> {
    match codec {
        VideoCodec::Vp8 => Box::new(FrameBuffer::<Guarded<Vp8Packet>>::default()),
        VideoCodec::Vp9 => Box::new(FrameBuffer::<Guarded<Vp9Packet>>::default()),
        VideoCodec::H264 => Box::new(FrameBuffer::<Guarded<H264Packet>>::default()),
        VideoCodec::H265 => Box::new(FrameBuffer::<HevcAnnexB>::default()),
        VideoCodec::Av1 => Box::new(FrameBuffer::<Guarded<Av1Depacketizer>>::default()),
    }
}

/// A library depacketizer whose panics become refused packets. webrtc-rs's
/// parse what a peer sends, and its AV1 one indexes past the end of an OBU
/// that sets the extension bit without the extension byte (found by the
/// `rtp_video` fuzz target): a peer's bad packet must not take down the
/// receiving task. The frame buffer resets the depacketizer after an error.
#[derive(Default)]
pub struct Guarded<D>(D);

impl<D: Depacketizer> Depacketizer for Guarded<D> {
    fn depacketize(&mut self, payload: &Bytes) -> Result<Bytes> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.depacketize(payload)))
            .unwrap_or(Err(Error::ErrShortPacket))
    }

    fn is_partition_head(&self, payload: &Bytes) -> bool {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.0.is_partition_head(payload)
        }))
        .unwrap_or(false)
    }

    fn is_partition_tail(&self, marker: bool, payload: &Bytes) -> bool {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.0.is_partition_tail(marker, payload)
        }))
        .unwrap_or(false)
    }
}

/// A reordering buffer keyed by extended sequence number; frames leave in
/// order, each as soon as it is complete.
#[derive(Default)]
pub struct FrameBuffer<D> {
    depacketizer: D,
    /// Each held packet and when it arrived.
    packets: BTreeMap<u64, (Instant, rtc::rtp::Packet)>,
    /// The highest extended sequence number seen.
    highest: Option<u64>,
    /// Where the next frame starts: just after the last frame released.
    next: Option<u64>,
    /// How far the frame at `.0` is known to run without a gap or an end,
    /// so each arriving packet does not rescan the frame from its start (a
    /// 4K keyframe is hundreds of packets).
    scanned: Option<(u64, u64)>,
}

impl<D: Depacketizer + Default> FrameBuffer<D> {
    /// The 16-bit sequence number extended to 64 bits: the candidate
    /// nearest the highest seen.
    fn extend(&self, sequence: u16) -> u64 {
        let Some(highest) = self.highest else {
            // Start mid-range so that earlier packets stay positive.
            return (1 << 32) + u64::from(sequence);
        };
        let base = highest & !0xffff;
        [base.wrapping_sub(1 << 16), base, base + (1 << 16)]
            .map(|b| b + u64::from(sequence))
            .into_iter()
            .min_by_key(|s| s.abs_diff(highest))
            .unwrap_or(highest)
    }

    /// The end of the frame starting at `start`, if all of it is here.
    fn frame_end(&mut self, start: u64) -> Option<u64> {
        let timestamp = self.packets.get(&start)?.1.header.timestamp;
        let mut at = match self.scanned {
            Some((frame, upto)) if frame == start => upto,
            _ => start,
        };
        loop {
            let Some((_, packet)) = self.packets.get(&at) else {
                self.scanned = Some((start, at));
                return None;
            };
            if packet.header.timestamp != timestamp {
                // The next frame began without this one marking its end.
                return Some(at - 1);
            }
            if self
                .depacketizer
                .is_partition_tail(packet.header.marker, &packet.payload)
            {
                return Some(at);
            }
            at += 1;
        }
    }

    /// Give up the frame at `start`: continue from the next frame's first
    /// packet we hold, or from whatever head comes next.
    fn skip_frame(&mut self, start: u64) {
        let timestamp = self.packets.get(&start).map(|(_, p)| p.header.timestamp);
        let next_head = self
            .packets
            .range(start + 1..)
            .find(|(_, (_, p))| {
                Some(p.header.timestamp) != timestamp
                    && self.depacketizer.is_partition_head(&p.payload)
            })
            .map(|(s, _)| *s);
        match next_head {
            Some(head) => {
                self.packets = self.packets.split_off(&head);
                self.next = Some(head);
            }
            None => {
                self.packets.clear();
                self.next = None;
            }
        }
        self.depacketizer = D::default();
    }
}

impl<D: Depacketizer + Default + Send> FrameAssembler for FrameBuffer<D> {
    fn push(&mut self, packet: rtc::rtp::Packet, now: Instant) {
        let sequence = self.extend(packet.header.sequence_number);
        if self.next.is_some_and(|next| sequence < next) {
            return; // late, or a duplicate of a frame already released
        }
        if self.packets.len() >= HELD_PACKETS {
            // A stream that never completes a frame must not grow memory.
            self.packets.pop_first();
        }
        self.packets.entry(sequence).or_insert((now, packet));
        self.highest = Some(self.highest.map_or(sequence, |h| h.max(sequence)));
    }

    fn pop(&mut self, now: Instant) -> Option<Assembled> {
        let start = match self.next {
            Some(next) => {
                // Padding (bandwidth probes) between frames carries nothing.
                let mut next = next;
                while self
                    .packets
                    .get(&next)
                    .is_some_and(|(_, p)| p.payload.is_empty())
                {
                    self.packets.remove(&next);
                    next += 1;
                }
                self.next = Some(next);
                next
            }
            None => {
                // The first frame: from the first frame start we hold.
                let head = self
                    .packets
                    .iter()
                    .find(|(_, (_, p))| self.depacketizer.is_partition_head(&p.payload))
                    .map(|(s, _)| *s)?;
                self.packets = self.packets.split_off(&head);
                self.next = Some(head);
                head
            }
        };
        if let Some(end) = self.frame_end(start) {
            let first_is_head = self
                .packets
                .get(&start)
                .is_some_and(|(_, p)| self.depacketizer.is_partition_head(&p.payload));
            let rest = self.packets.split_off(&(end + 1));
            let frame = std::mem::replace(&mut self.packets, rest);
            self.next = Some(end + 1);
            if !first_is_head {
                // The frame's start went missing with the previous frame.
                self.depacketizer = D::default();
                return Some(Assembled::Lost);
            }
            let mut data = BytesMut::new();
            for (_, packet) in frame.values() {
                match self.depacketizer.depacketize(&packet.payload) {
                    Ok(bytes) => data.put(bytes),
                    Err(_) => {
                        self.depacketizer = D::default();
                        return Some(Assembled::Lost);
                    }
                }
            }
            return Some(Assembled::Frame(data.freeze()));
        }
        // Incomplete. A gap with later packets behind it is waited for a
        // while (reordering, retransmission), then the frame is given up.
        let highest = self.highest?;
        // Nothing before `start` is held: pushes below it are refused and
        // releases and skips split the map there.
        let held = self.packets.len() as u64;
        if held == 0 {
            return None; // nothing after the last frame yet
        }
        let gap_behind = highest >= start && held < highest - start + 1;
        if !gap_behind {
            return None; // the rest of the frame is on its way
        }
        // The gap showed when the first packet beyond it arrived.
        let first_missing = match self.scanned {
            Some((frame, upto)) if frame == start => upto,
            _ => start,
        };
        let shown = self
            .packets
            .range(first_missing..)
            .next()
            .map_or(now, |(_, (arrived, _))| *arrived);
        if now.saturating_duration_since(shown) < MAX_REORDER {
            return None;
        }
        self.skip_frame(start);
        Some(Assembled::Lost)
    }
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];
const NAL_HEADER: usize = 2;
const AGGREGATION: u8 = 48;
const FRAGMENT: u8 = 49;
const PACI: u8 = 50;
/// One NAL unit larger than this is refused: a fragment stream a peer never
/// ends must not grow without bound.
const MAX_NAL_UNIT: usize = 16 << 20;

/// RFC 7798 payloads (single NAL units, aggregation packets, fragmentation
/// units; no DONL, as WebRTC peers send) to Annex B NAL units.
#[derive(Debug, Default)]
pub struct HevcAnnexB {
    /// The NAL unit being put back together from fragments.
    fragment: Option<BytesMut>,
}

fn nal_type(payload: &[u8]) -> u8 {
    (payload[0] >> 1) & 0x3f
}

impl Depacketizer for HevcAnnexB {
    fn depacketize(&mut self, payload: &Bytes) -> Result<Bytes> {
        if payload.len() <= NAL_HEADER {
            return Err(Error::ErrShortPacket);
        }
        if payload[0] & 0x80 != 0 {
            // The forbidden_zero_bit: a corrupt unit.
            return Err(Error::ErrH265CorruptedPacket);
        }
        match nal_type(payload) {
            AGGREGATION => {
                let mut out = BytesMut::with_capacity(payload.len() + 16);
                let mut at = NAL_HEADER;
                while at < payload.len() {
                    let size = payload
                        .get(at..at + 2)
                        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                        .ok_or(Error::ErrShortPacket)?;
                    at += 2;
                    let unit = payload
                        .get(at..at + size)
                        .filter(|u| !u.is_empty())
                        .ok_or(Error::ErrShortPacket)?;
                    out.put_slice(&START_CODE);
                    out.put_slice(unit);
                    at += size;
                }
                Ok(out.freeze())
            }
            FRAGMENT => {
                let fu_header = *payload.get(NAL_HEADER).ok_or(Error::ErrShortPacket)?;
                let (start, end) = (fu_header & 0x80 != 0, fu_header & 0x40 != 0);
                let body = &payload[NAL_HEADER + 1..];
                if start {
                    // The NAL header: the payload header's F, layer and
                    // temporal id with the fragmented unit's type.
                    let mut unit = BytesMut::with_capacity(START_CODE.len() + 2 + body.len());
                    unit.put_slice(&START_CODE);
                    unit.put_u8((payload[0] & 0x81) | ((fu_header & 0x3f) << 1));
                    unit.put_u8(payload[1]);
                    self.fragment = Some(unit);
                }
                let Some(unit) = self.fragment.as_mut() else {
                    // The start was lost: nothing whole can come of this.
                    return Ok(Bytes::new());
                };
                if unit.len() + body.len() > MAX_NAL_UNIT {
                    self.fragment = None;
                    return Err(Error::ErrH265CorruptedPacket);
                }
                unit.put_slice(body);
                if end {
                    Ok(self
                        .fragment
                        .take()
                        .map(BytesMut::freeze)
                        .unwrap_or_default())
                } else {
                    Ok(Bytes::new())
                }
            }
            PACI => Err(Error::NaluTypeIsNotHandled(PACI)),
            _ => {
                let mut out = BytesMut::with_capacity(START_CODE.len() + payload.len());
                out.put_slice(&START_CODE);
                out.put_slice(payload);
                Ok(out.freeze())
            }
        }
    }

    fn is_partition_head(&self, payload: &Bytes) -> bool {
        match payload.get(..NAL_HEADER + 1) {
            Some(head) if nal_type(head) == FRAGMENT => head[NAL_HEADER] & 0x80 != 0,
            Some(_) => true,
            None => false,
        }
    }

    fn is_partition_tail(&self, marker: bool, _payload: &Bytes) -> bool {
        marker
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtp::codec::h265::HevcPayloader;
    use rtc::rtp::codec::vp8::Vp8Payloader;
    use rtc::rtp::packetizer::Payloader;

    /// A VP8 "frame" of `len` bytes as RTP packets (marker on the last),
    /// sequence numbers from `first`.
    fn vp8_frame(first: u16, timestamp: u32, len: usize) -> (Vec<u8>, Vec<rtc::rtp::Packet>) {
        let data: Vec<u8> = (0..len)
            .map(|i| (i * 13 + timestamp as usize) as u8)
            .collect();
        let payloads = Vp8Payloader::default()
            .payload(1000, &Bytes::from(data.clone()))
            .expect("payload");
        let count = payloads.len();
        let packets = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                let mut p = rtc::rtp::Packet::default();
                p.header.sequence_number = first.wrapping_add(i as u16);
                p.header.timestamp = timestamp;
                p.header.marker = i + 1 == count;
                p.payload = payload;
                p
            })
            .collect();
        (data, packets)
    }

    fn frame(data: &[u8]) -> Option<Assembled> {
        Some(Assembled::Frame(Bytes::copy_from_slice(data)))
    }

    #[test]
    fn a_frame_leaves_as_soon_as_its_last_packet_is_in() {
        let mut buffer = FrameBuffer::<Vp8Packet>::default();
        let t = Instant::now();
        let (one, packets) = vp8_frame(100, 3000, 2500);
        assert_eq!(packets.len(), 3);
        for p in packets {
            assert_eq!(buffer.pop(t), None, "not before the end");
            buffer.push(p, t);
        }
        // No packet of the next frame needed (webrtc-rs's SampleBuilder
        // would hold it until one came).
        assert_eq!(buffer.pop(t), frame(&one));
        assert_eq!(buffer.pop(t), None);
        let (two, packets) = vp8_frame(103, 6000, 500);
        buffer.push(packets[0].clone(), t);
        assert_eq!(buffer.pop(t), frame(&two));
    }

    #[test]
    fn reordered_packets_and_a_sequence_wrap_make_whole_frames_in_order() {
        let mut buffer = FrameBuffer::<Vp8Packet>::default();
        let t = Instant::now();
        let (one, mut first) = vp8_frame(65534, 90_000, 2500);
        let (two, second) = vp8_frame(1, 93_000, 1500);
        // The stream starts with the first frame's head; then the second
        // frame's packets arrive before the rest of the first, backwards.
        let head = first.remove(0);
        first.reverse();
        let mut out = Vec::new();
        for p in std::iter::once(head).chain(second).chain(first) {
            buffer.push(p, t);
            while let Some(a) = buffer.pop(t) {
                out.push(a);
            }
        }
        assert!(
            out == vec![frame(&one).unwrap(), frame(&two).unwrap()],
            "{} frames out, not the two in order",
            out.len()
        );
    }

    #[test]
    fn a_lost_packet_gives_up_its_frame_after_a_wait_and_the_next_one_flows() {
        let mut buffer = FrameBuffer::<Vp8Packet>::default();
        let t = Instant::now();
        let (_, mut lossy) = vp8_frame(10, 3000, 2500);
        lossy.remove(1);
        let (next, packets) = vp8_frame(13, 6000, 800);
        for p in lossy.into_iter().chain(packets) {
            buffer.push(p, t);
            assert_eq!(buffer.pop(t), None, "the gap is waited for");
        }
        assert_eq!(buffer.pop(t + Duration::from_millis(50)), None);
        let later = t + MAX_REORDER;
        assert_eq!(buffer.pop(later), Some(Assembled::Lost));
        assert_eq!(buffer.pop(later), frame(&next));
        // A straggler of the given-up frame is ignored.
        let (_, again) = vp8_frame(10, 3000, 2500);
        buffer.push(again[1].clone(), t);
        assert_eq!(buffer.pop(later), None);
    }

    #[test]
    fn a_run_of_damaged_frames_is_given_up_together_once_their_gaps_are_old() {
        let mut buffer = FrameBuffer::<Vp8Packet>::default();
        let t = Instant::now();
        // Five frames of three packets, each missing its middle one, all
        // arrived within 100 ms (a burst of loss); then a whole frame.
        for n in 0..5u16 {
            let (_, mut lossy) = vp8_frame(10 + 3 * n, 3000 * (u32::from(n) + 1), 2500);
            lossy.remove(1);
            for p in lossy {
                buffer.push(p, t + Duration::from_millis(20 * u64::from(n)));
            }
        }
        let (whole, packets) = vp8_frame(25, 30_000, 800);
        for p in packets {
            buffer.push(p, t + Duration::from_millis(100));
        }
        assert_eq!(
            buffer.pop(t + Duration::from_millis(100)),
            None,
            "waited for"
        );
        // Once the last gap is older than the patience, every damaged frame
        // goes at once (not one per 300 ms), and the whole one follows.
        let later = t + Duration::from_millis(80) + MAX_REORDER;
        let out: Vec<_> = std::iter::from_fn(|| buffer.pop(later)).collect();
        assert_eq!(out.len(), 6, "{out:?}");
        assert!(out[..5].iter().all(|a| *a == Assembled::Lost));
        assert_eq!(Some(out.into_iter().last().expect("six")), frame(&whole));
    }

    #[test]
    fn the_av1_packet_that_panicked_webrtc_rs_is_refused() {
        // One OBU element: a frame OBU with the extension and size bits
        // set, and nothing after its header byte.
        let packet = Bytes::from_static(&[0x10, 0x36]);
        let mut guarded = Guarded::<Av1Depacketizer>::default();
        assert!(guarded.depacketize(&packet).is_err());
        // The frame buffer gives the frame up and goes on.
        let mut buffer = FrameBuffer::<Guarded<Av1Depacketizer>>::default();
        let mut p = rtc::rtp::Packet::default();
        p.header.marker = true;
        p.payload = packet;
        let t = Instant::now();
        buffer.push(p, t);
        assert_eq!(buffer.pop(t), Some(Assembled::Lost));
    }

    #[test]
    fn padding_is_skipped_and_a_flood_without_frames_stays_bounded() {
        let mut buffer = FrameBuffer::<Vp8Packet>::default();
        let t = Instant::now();
        let (one, packets) = vp8_frame(0, 3000, 100);
        buffer.push(packets[0].clone(), t);
        assert_eq!(buffer.pop(t), frame(&one));
        let mut padding = rtc::rtp::Packet::default();
        padding.header.sequence_number = 1;
        padding.header.timestamp = 3000;
        buffer.push(padding, t);
        let (two, packets) = vp8_frame(2, 6000, 100);
        buffer.push(packets[0].clone(), t);
        assert_eq!(buffer.pop(t), frame(&two));
        // A peer that never ends a frame.
        for i in 0..10_000u32 {
            let mut p = rtc::rtp::Packet::default();
            p.header.sequence_number = (3 + i) as u16;
            p.header.timestamp = 9000;
            p.payload = Bytes::from_static(&[0x10, 1, 2, 3]);
            buffer.push(p, t);
            let _ = buffer.pop(t);
        }
        assert!(buffer.packets.len() <= HELD_PACKETS);
    }

    /// An HEVC access unit as x265 writes one: VPS, SPS, PPS (small) and
    /// a slice too big for one packet.
    fn access_unit() -> Vec<Vec<u8>> {
        let unit = |kind: u8, len: usize| {
            let mut u = vec![kind << 1, 1];
            u.extend((0..len).map(|i| (i * 7 % 251) as u8 | 1));
            u
        };
        vec![unit(32, 20), unit(33, 40), unit(34, 8), unit(19, 5000)]
    }

    fn annex_b(units: &[Vec<u8>]) -> Vec<u8> {
        units
            .iter()
            .flat_map(|u| START_CODE.iter().chain(u.iter()).copied())
            .collect()
    }

    #[test]
    fn what_the_library_payloads_comes_back_as_the_same_nal_units() {
        let units = access_unit();
        let mut payloader = HevcPayloader;
        let mut depacketizer = HevcAnnexB::default();
        let mut out = Vec::new();
        let mut packets = 0;
        for unit in &units {
            for payload in payloader
                .payload(1200, &Bytes::from(annex_b(std::slice::from_ref(unit))))
                .expect("payload")
            {
                packets += 1;
                assert!(payload.len() <= 1200);
                out.extend_from_slice(&depacketizer.depacketize(&payload).expect("depacketize"));
            }
        }
        assert!(packets > units.len(), "the slice was fragmented");
        assert_eq!(out, annex_b(&units));
    }

    #[test]
    fn aggregation_packets_split_into_their_units() {
        let units = access_unit();
        let mut payload = vec![AGGREGATION << 1, 1];
        for unit in &units[..3] {
            payload.extend_from_slice(&(unit.len() as u16).to_be_bytes());
            payload.extend_from_slice(unit);
        }
        let out = HevcAnnexB::default()
            .depacketize(&Bytes::from(payload))
            .expect("aggregation");
        assert_eq!(out.as_ref(), annex_b(&units[..3]).as_slice());
    }

    #[test]
    fn broken_packets_are_refused_and_a_lost_start_yields_nothing() {
        let mut d = HevcAnnexB::default();
        for bad in [
            vec![0u8],
            vec![0x80, 1, 2, 3],                   // forbidden bit
            vec![AGGREGATION << 1, 1, 0, 9, 1, 2], // unit longer than the packet
            vec![AGGREGATION << 1, 1, 0, 0],       // empty unit
            vec![AGGREGATION << 1, 1, 0],          // half a size field
            vec![PACI << 1, 1, 0, 0, 0],           // PACI: not sent by WebRTC peers
        ] {
            assert!(d.depacketize(&Bytes::from(bad.clone())).is_err(), "{bad:?}");
        }
        // A middle fragment with no start before it.
        let middle = Bytes::from(vec![FRAGMENT << 1, 1, 19, 9, 9, 9]);
        assert!(!d.is_partition_head(&middle));
        assert!(d.depacketize(&middle).expect("skipped").is_empty());
    }
}
