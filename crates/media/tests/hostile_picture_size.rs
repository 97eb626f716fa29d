//! A peer's keyframe declaring a 16384×16384 picture: refused before the
//! decoder allocates for it (libvpx would ask for gigabytes of frame
//! buffers), with an error that says so, and the decoder still decodes
//! the honest stream that follows. One test in this binary, so the
//! process's peak memory is this test's.

use kh_media::pattern::TestPattern;
use kh_media::{EncoderConfig, VideoCodec, VideoDecoder, VideoEncoder};

/// A VP9 keyframe's uncompressed header declaring `width` × `height`
/// (profile 0, BT.601), followed by filler where the rest would be.
fn vp9_keyframe_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut bits: Vec<u8> = Vec::new();
    let mut push = |value: u32, n: u32| {
        for i in (0..n).rev() {
            bits.push(((value >> i) & 1) as u8);
        }
    };
    push(2, 2); // frame marker
    push(0, 2); // profile 0
    push(0, 1); // not show_existing_frame
    push(0, 1); // keyframe
    push(1, 1); // show_frame
    push(0, 1); // not error resilient
    push(0x49_83_42, 24); // sync code
    push(1, 3); // colour space BT.601
    push(0, 1); // studio range
    push(width - 1, 16);
    push(height - 1, 16);
    let mut bytes: Vec<u8> = bits
        .chunks(8)
        .map(|byte| byte.iter().fold(0u8, |acc, &b| (acc << 1) | b) << (8 - byte.len()))
        .collect();
    bytes.extend(std::iter::repeat_n(0x55, 4096));
    bytes
}

/// A VP8 keyframe header declaring `width` × `height` (RFC 6386 §9.1).
fn vp8_keyframe_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
    bytes.extend_from_slice(&width.to_le_bytes());
    bytes.extend_from_slice(&height.to_le_bytes());
    bytes.extend(std::iter::repeat_n(0x55, 4096));
    bytes
}

/// This process's resident memory now and at its peak, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect(name)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn honest_keyframe(codec: VideoCodec) -> Vec<u8> {
    let mut encoder = VideoEncoder::new(EncoderConfig {
        codec,
        width: 320,
        height: 176,
        fps: 30,
        bitrate_kbps: 300,
        threads: 1,
    })
    .expect("encoder");
    let frame = TestPattern::new(320, 176).next_frame(0);
    encoder
        .encode(&frame)
        .expect("encode")
        .into_iter()
        .next()
        .expect("a keyframe")
        .data
}

#[test]
fn a_keyframe_declaring_16384_squared_is_refused_before_any_allocation() {
    // The honest streams first, so their encoders' memory is in the
    // baseline.
    let honest: Vec<(VideoCodec, Vec<u8>)> = [VideoCodec::Vp8, VideoCodec::Vp9]
        .into_iter()
        .map(|codec| (codec, honest_keyframe(codec)))
        .collect();
    let (before, _) = memory();
    for (codec, hostile) in [
        (VideoCodec::Vp9, vp9_keyframe_declaring(16384, 16384)),
        (VideoCodec::Vp8, vp8_keyframe_declaring(16383, 16383)),
    ] {
        let mut decoder = VideoDecoder::new(codec, 2).expect("decoder");
        let said = match decoder.decode(&hostile) {
            Err(e) => e.to_string(),
            Ok(pictures) => panic!("{codec:?}: decoded {} pictures", pictures.len()),
        };
        assert!(
            said.contains("16384×16384") || said.contains("16383×16383"),
            "{codec:?}: {said}"
        );
        assert!(said.contains("not decoded"), "{said}");
        // The same decoder goes on with an honest keyframe: no restart.
        let (_, keyframe) = honest
            .iter()
            .find(|(c, _)| *c == codec)
            .expect("an honest stream");
        let pictures = decoder.decode(keyframe).expect("the honest keyframe");
        assert_eq!(
            pictures
                .iter()
                .map(|p| (p.width, p.height))
                .collect::<Vec<_>>(),
            [(320, 176)]
        );
    }
    // A huge keyframe hidden as the second frame of a superframe, behind
    // a small one, is found too.
    let small = vp9_keyframe_declaring(64, 64);
    let huge = vp9_keyframe_declaring(16384, 16384);
    let mut superframe = small.clone();
    superframe.extend_from_slice(&huge);
    let marker = 0xc0 | (1 << 3) | 1; // two sizes of two bytes each
    superframe.push(marker);
    superframe.extend_from_slice(&(small.len() as u16).to_le_bytes());
    superframe.extend_from_slice(&(huge.len() as u16).to_le_bytes());
    superframe.push(marker);
    let mut decoder = VideoDecoder::new(VideoCodec::Vp9, 2).expect("decoder");
    let refused = decoder.decode(&superframe).map(|p| p.len());
    assert!(
        matches!(&refused, Err(e) if e.to_string().contains("16384×16384")),
        "{refused:?}"
    );
    let (_, peak) = memory();
    let grew = peak.saturating_sub(before);
    assert!(grew < 64 << 20, "peak memory grew by {} MiB", grew >> 20);
}
