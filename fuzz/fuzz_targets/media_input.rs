//! What a file or a hostile peer controls in kh-media: the bytes of a Y4M
//! file (a `kh call --send` source), compressed VP8 frames and Opus
//! packets arriving over RTP, and the pixels a stamp is read from.
#![no_main]
use kh_media::audio::OpusDecoder;
use kh_media::stamp;
use kh_media::vpx::{Codec, VideoDecoder};
use kh_media::y4m::Y4mReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut reader) = Y4mReader::new(data) {
        for _ in 0..4 {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let _ = stamp::read(&frame);
                }
                _ => break,
            }
        }
    }
    if let Ok(mut decoder) = VideoDecoder::new(Codec::Vp8, 1) {
        let _ = decoder.decode(data);
    }
    if let Ok(mut decoder) = OpusDecoder::new(false) {
        let _ = decoder.decode(data);
    }
});
