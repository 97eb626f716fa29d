//! Entry points for the fuzz targets (`fuzz/`): each plays bytes a hostile
//! peer or server controls into one sans-IO part of the call, with time
//! passed in from the bytes too. Not an API: hidden from the docs, kept
//! here so the parts they reach can stay private.

use crate::channels::{ChannelMessage, ControlMessage, PointerMessage};
use crate::codecs::SessionCodecs;
use crate::depacketize::{Assembled, assembler_for};
use crate::estimate::EstimateCell;
use crate::interceptors::nack::recent_nacks;
use crate::interceptors::paced_sender::PacedSender;
use crate::keepalive::{KeepaliveReport, KeepaliveState};
use kh_media::VideoCodec;
use rtc::interceptor::{
    AttributedPacket, Interceptor, Packet, RTCPFeedback, StreamInfo, TaggedPacket,
};
use rtc::sansio::Protocol;
use rtc::shared::TransportContext;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes read one field at a time; zeros once they run out.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn tagged(now: Instant, packet: Packet) -> TaggedPacket {
    TaggedPacket {
        now,
        transport: TransportContext::default(),
        message: AttributedPacket::new(packet),
    }
}

/// RTP of one codec in the order, with the sequence jumps (wrapping), the
/// timestamps and the arrival times the bytes say, through the frame
/// buffer: reordering, wrap and the eviction of frames that never complete.
///
/// Input: a codec byte, then packets as [sequence step u16 BE][flags u8:
/// bit 0 marker, bits 1-3 timestamp step, bits 4-7 arrival step in 5 ms]
/// [length u8][payload].
pub fn rtp_order(data: &[u8]) {
    let mut input = Reader(data);
    let codec = VideoCodec::ALL[usize::from(input.u8()) % VideoCodec::ALL.len()];
    let mut assembler = assembler_for(codec);
    let mut now = Instant::now();
    let (mut sequence, mut timestamp) = (0u16, 0u32);
    let mut frames = 0usize;
    while !input.is_empty() {
        let step = input.u16();
        let flags = input.u8();
        let len = usize::from(input.u8());
        // Steps near 65535 go backwards: reordering and duplicates.
        sequence = sequence.wrapping_add(step);
        timestamp = timestamp.wrapping_add(u32::from((flags >> 1) & 7) * 3000);
        now += Duration::from_millis(u64::from(flags >> 4) * 5);
        let mut packet = rtc::rtp::Packet::default();
        packet.header.sequence_number = sequence;
        packet.header.timestamp = timestamp;
        packet.header.marker = flags & 1 != 0;
        packet.payload = bytes::Bytes::copy_from_slice(input.bytes(len));
        assembler.push(packet, now);
        while let Some(assembled) = assembler.pop(now) {
            if let Assembled::Frame(_) = assembled {
                frames += 1;
            }
        }
    }
    std::hint::black_box(frames);
}

const VIDEO: u32 = 0x1000;
const RTX: u32 = 0x1001;

fn nack_feedback() -> Vec<RTCPFeedback> {
    vec![RTCPFeedback {
        typ: "nack".into(),
        parameter: String::new(),
    }]
}

/// What the far side's RTCP and RTP do to loss repair: its feedback (any
/// compound packet: NACKs for anything, reports, PLIs) into the repair
/// sender holding the video we sent; its RTP sequence numbers (jumps,
/// wraps, repeats) into the NACK generator, whose timers run.
///
/// Input: [count u8] sequence steps as u16 BE for the generator, then
/// RTCP compound packets as [length u16 BE][bytes] each followed by a
/// [time step u8, ms].
pub fn rtcp_feedback(data: &[u8]) {
    let mut input = Reader(data);
    let start = Instant::now();
    let mut now = start;

    let mut generator = recent_nacks(Duration::from_millis(400));
    Interceptor::bind_remote_stream(
        &mut generator,
        &StreamInfo {
            ssrc: VIDEO,
            rtcp_feedback: nack_feedback(),
            ..Default::default()
        },
    );
    let mut sequence = 0u16;
    for _ in 0..input.u8() {
        sequence = sequence.wrapping_add(input.u16());
        now += Duration::from_millis(3);
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = VIDEO;
        packet.header.sequence_number = sequence;
        let _ = generator.handle_read(tagged(now, Packet::Rtp(packet)));
        while generator.poll_read().is_some() {}
        while let Some(wake) = generator.poll_timeout().filter(|w| *w <= now) {
            let _ = generator.handle_timeout(wake.max(now));
            while generator.poll_write().is_some() {}
        }
    }

    let estimate = Arc::new(EstimateCell::starting_at(2_000_000.0));
    let mut sender = PacedSender::new(2_000_000.0, estimate, Arc::default());
    sender.bind_local_stream(&StreamInfo {
        ssrc: VIDEO,
        ssrc_rtx: Some(RTX),
        payload_type: 96,
        payload_type_rtx: Some(97),
        mime_type: "video/VP8".into(),
        rtcp_feedback: nack_feedback(),
        ..Default::default()
    });
    for seq in 0..64u16 {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = VIDEO;
        packet.header.payload_type = 96;
        packet.header.sequence_number = seq.wrapping_sub(32);
        packet.payload = vec![seq as u8; 900].into();
        let _ = sender.handle_write(tagged(start, Packet::Rtp(packet)));
    }
    while !input.is_empty() {
        let len = usize::from(input.u16());
        let mut raw = input.bytes(len);
        now += Duration::from_millis(u64::from(input.u8()));
        if let Ok(rtcp) = rtc::rtcp::packet::unmarshal(&mut raw) {
            let _ = sender.handle_read(tagged(now, Packet::Rtcp(rtcp)));
            while sender.poll_read().is_some() {}
        }
        // Run the pacer up to now: what it releases is what we would send.
        while let Some(wake) = sender.poll_timeout().filter(|w| *w <= now) {
            let _ = sender.handle_timeout(wake);
            while sender.poll_write().is_some() {}
        }
        while sender.poll_write().is_some() {}
    }
}

/// Messages on the data channels as the far side sends them: decoded as
/// each channel's type, and through the keepalive (pings, pongs), with
/// time from the bytes.
///
/// Input: messages as [channel u8][time step u8, ms][length u16 BE][bytes].
pub fn data_channel(data: &[u8]) {
    let mut input = Reader(data);
    let (mut keepalive, mut report) = (KeepaliveState::default(), KeepaliveReport::default());
    let mut now_ms = 0.0;
    while !input.is_empty() {
        let channel = input.u8();
        now_ms += f64::from(input.u8());
        let len = usize::from(input.u16());
        let message = input.bytes(len);
        match channel % 3 {
            0 => {
                let _ = keepalive.on_message(&mut report, message, now_ms);
                let _ = ControlMessage::from_payload(message, true);
            }
            1 => {
                let _ = PointerMessage::from_payload(message, true);
            }
            _ => {
                let _ = crate::channels::BulkChunk::from_payload(message, false);
            }
        }
    }
    assert!(report.round_trips_ms.len() <= crate::keepalive::MAX_ROUND_TRIPS);
}

/// A remote description, as text from the far side: parsed as webrtc-rs
/// does, then read for the payload types of every codec we might send.
pub fn session_codecs(data: &[u8]) {
    let Ok(sdp) = rtc::sdp::SessionDescription::unmarshal(&mut std::io::Cursor::new(data)) else {
        return;
    };
    for ours in VideoCodec::ALL {
        let codecs = SessionCodecs::read(&sdp, ours);
        std::hint::black_box(&codecs);
    }
}

/// A message from the signalling server, as the client reads it.
pub fn server_message(data: &[u8]) {
    if let Ok(message) = serde_json::from_slice::<kh_signal_protocol::ServerMessage>(data) {
        std::hint::black_box(&message);
    }
}
