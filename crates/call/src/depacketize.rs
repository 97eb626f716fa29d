//! From RTP packets back to whole compressed frames, for every video codec
//! a peer may send: webrtc-rs's depacketizers for VP8, VP9, H.264 and AV1
//! inside its sample builder (which orders packets and finds frame edges),
//! and RFC 7798 HEVC here, because the library's HEVC depacketizer returns
//! the RTP payload unchanged rather than NAL units a decoder can read.

use bytes::{BufMut, Bytes, BytesMut};
use kh_media::VideoCodec;
use rtc::media::Sample;
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtp::codec::av1::Av1Depacketizer;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::codec::vp9::Vp9Packet;
use rtc::rtp::packetizer::Depacketizer;
use rtc::shared::error::{Error, Result};
use std::time::{Duration, Instant};

/// Gathers a stream's RTP packets into frames ready to decode.
pub trait FrameAssembler: Send {
    fn push(&mut self, now: Instant, packet: rtc::rtp::Packet);
    fn pop(&mut self, now: Instant) -> Option<Sample>;
}

impl<T: Depacketizer + Send> FrameAssembler for SampleBuilder<T> {
    fn push(&mut self, now: Instant, packet: rtc::rtp::Packet) {
        SampleBuilder::push(self, now, packet);
    }

    fn pop(&mut self, now: Instant) -> Option<Sample> {
        SampleBuilder::pop(self, now)
    }
}

/// Packets held while waiting for a frame's missing pieces: a 4K keyframe
/// at 1200-byte packets needs a few hundred.
const HELD_PACKETS: u16 = 1024;
/// Reordering waited for; later packets are lost.
const MAX_REORDER: Duration = Duration::from_millis(200);

pub fn assembler_for(codec: VideoCodec) -> Box<dyn FrameAssembler> {
    fn boxed<T: Depacketizer + Send + 'static>(depacketizer: T) -> Box<dyn FrameAssembler> {
        Box::new(
            SampleBuilder::new(HELD_PACKETS, depacketizer, 90_000).with_max_time_delay(MAX_REORDER),
        )
    }
    match codec {
        VideoCodec::Vp8 => boxed(Vp8Packet::default()),
        VideoCodec::Vp9 => boxed(Vp9Packet::default()),
        VideoCodec::H264 => boxed(H264Packet::default()),
        VideoCodec::H265 => boxed(HevcAnnexB::default()),
        VideoCodec::Av1 => boxed(Av1Depacketizer::default()),
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
    use rtc::rtp::packetizer::Payloader;

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
