//! What a hostile call peer controls on the video receive path: the RTP
//! payloads (their order, edges and timestamps) of any codec we accept,
//! through our frame buffer and depacketizers (webrtc-rs's; ours for HEVC)
//! into the decoders (libvpx, FFmpeg).
//!
//! Input: one byte picking the codec, then packets as
//! [length u16 BE][flags u8: bit 0 marker, bits 1-7 timestamp step][payload].
#![no_main]
use bytes::Bytes;
use kh_call::depacketize::{Assembled, assembler_for};
use kh_media::{VideoCodec, VideoDecoder};
use libfuzzer_sys::fuzz_target;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    // kh-call catches the library depacketizers' panics (a peer's bad
    // packet); libfuzzer-sys's hook would abort on them before the catch.
    // Panics that escape still abort through libfuzzer-sys's own catch.
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    // One line per panic, no backtrace: the caught ones are expected, and
    // capturing a backtrace for each cost most of the run's time.
    DEFAULT_HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("{info}"))));
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let codec = VideoCodec::ALL[usize::from(pick) % VideoCodec::ALL.len()];
    let mut assembler = assembler_for(codec);
    let Ok(mut decoder) = VideoDecoder::new(codec, 1) else {
        return;
    };
    let now = Instant::now();
    let (mut sequence, mut timestamp) = (0u16, 0u32);
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let flags = rest[2];
        rest = &rest[3..];
        let payload = &rest[..len.min(rest.len())];
        rest = &rest[payload.len()..];
        timestamp = timestamp.wrapping_add(u32::from(flags >> 1) * 3000);
        let mut packet = rtc::rtp::Packet::default();
        packet.header.sequence_number = sequence;
        packet.header.timestamp = timestamp;
        packet.header.marker = flags & 1 != 0;
        packet.payload = Bytes::copy_from_slice(payload);
        sequence = sequence.wrapping_add(1);
        assembler.push(packet, now);
        while let Some(assembled) = assembler.pop(now) {
            if let Assembled::Frame(frame) = assembled {
                let _ = decoder.decode(&frame);
            }
        }
    }
});
