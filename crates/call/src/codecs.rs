//! The video codecs as this engine describes them in SDP, and what a
//! negotiated session settles: the payload types our media go out with and
//! the codec each incoming video payload type carries.

use kh_media::VideoCodec;
use rtc::rtp_transceiver::rtp_sender::{RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters};
use rtc::sdp::SessionDescription;
use std::collections::HashMap;

/// The RTP description of a video codec as this engine offers it.
pub(crate) fn rtp_codec(codec: VideoCodec, rtcp_feedback: Vec<RTCPFeedback>) -> RTCRtpCodec {
    let fmtp = match codec {
        VideoCodec::Vp9 => "profile-id=0",
        // Constrained Baseline, single NAL and fragmented units: what x264
        // makes here and every browser decodes; a level above 3.1 is
        // allowed in each direction.
        VideoCodec::H264 => {
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
        }
        VideoCodec::Vp8 | VideoCodec::H265 | VideoCodec::Av1 => "",
    };
    RTCRtpCodec {
        mime_type: codec.mime().to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback,
    }
}

/// Our dynamic payload types: Chromium's where it has fixed ones.
pub(crate) fn payload_type(codec: VideoCodec) -> u8 {
    match codec {
        VideoCodec::Vp8 => 96,
        VideoCodec::Vp9 => 98,
        VideoCodec::H264 => 102,
        VideoCodec::Av1 => 45,
        VideoCodec::H265 => 49,
    }
}

/// The payload type of `codec`'s repair stream (RTX, RFC 4588): Chromium's
/// where it has fixed ones.
pub(crate) fn rtx_payload_type(codec: VideoCodec) -> u8 {
    match codec {
        VideoCodec::Vp8 => 97,
        VideoCodec::Vp9 => 99,
        VideoCodec::H264 => 103,
        VideoCodec::Av1 => 46,
        VideoCodec::H265 => 50,
    }
}

/// Every video codec, `ours` first, each followed by its RTX repair
/// format, as the media engine registers them and
/// the video transceiver prefers them. The order is the order our SDP lists
/// them in, which is the order the other side picks from when it sends: a
/// call is symmetric unless the peer prefers otherwise, and any codec we
/// decode can arrive.
pub(crate) fn video_preferences(ours: VideoCodec) -> Vec<RTCRtpCodecParameters> {
    let feedback = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    };
    let rtcp_feedback = vec![
        feedback("nack", ""),
        feedback("nack", "pli"),
        feedback("ccm", "fir"),
    ];
    let mut codecs = VideoCodec::ALL.to_vec();
    codecs.sort_by_key(|c| *c != ours);
    // Repairs on their own stream: a retransmission is then a new packet
    // to the receiver's SRTP and transport-wide feedback, not a replay.
    let rtx = |codec: VideoCodec| RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: "video/rtx".to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: format!("apt={}", payload_type(codec)),
            rtcp_feedback: vec![],
        },
        payload_type: rtx_payload_type(codec),
    };
    codecs
        .into_iter()
        .flat_map(|codec| {
            [
                RTCRtpCodecParameters {
                    rtp_codec: rtp_codec(codec, rtcp_feedback.clone()),
                    payload_type: payload_type(codec),
                },
                rtx(codec),
            ]
        })
        .collect()
}

/// What a remote description settles for our media, read once per
/// description (the answer, or an offer; again after an ICE restart).
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionCodecs {
    /// The payload type to send our video in (its codec is ours).
    pub video_out: Option<u8>,
    /// The payload type to send Opus with.
    pub audio_out: Option<u8>,
    /// Every incoming video payload type we decode, and its codec.
    pub video_in: HashMap<u8, VideoCodec>,
}

impl SessionCodecs {
    pub fn read(sdp: &SessionDescription, ours: VideoCodec) -> SessionCodecs {
        SessionCodecs {
            video_out: negotiated_payload_type(sdp, "video", ours.mime()),
            audio_out: negotiated_payload_type(sdp, "audio", "audio/opus"),
            video_in: video_payload_types(sdp),
        }
    }
}

/// The payload type the session gives `mime` in its first `kind` ("audio"
/// or "video") section. Payload types are the offerer's, so they come from
/// the SDP, not from our own table; webrtc-rs's sender parameters name only
/// the other side's favourite codec, which need not be ours.
///
/// Of several H.264 entries, one with packetization mode 1 and a
/// (constrained) baseline profile is taken: what x264 makes here.
fn negotiated_payload_type(sdp: &SessionDescription, kind: &str, mime: &str) -> Option<u8> {
    let name = mime.split_once('/').map_or(mime, |(_, name)| name);
    let section = sdp
        .media_descriptions
        .iter()
        .find(|m| m.media_name.media == kind)?;
    let mut candidates: Vec<_> = section
        .codecs()
        .into_values()
        .filter(|c| c.name.eq_ignore_ascii_case(name))
        .collect();
    let rank = |fmtp: &str| {
        let param = |key: &str| {
            fmtp.split(';')
                .find_map(|p| p.trim().strip_prefix(key)?.strip_prefix('='))
                .map(str::to_ascii_lowercase)
        };
        let single_nal_only = param("packetization-mode").is_none_or(|m| m == "0");
        let profile = param("profile-level-id").unwrap_or_default();
        (
            single_nal_only,
            !profile.starts_with("42e0"),
            !profile.starts_with("42"),
        )
    };
    candidates.sort_by_key(|c| (rank(&c.fmtp), c.payload_type));
    candidates.first().map(|c| c.payload_type)
}

/// Every video payload type of the session's first video section that
/// carries a codec we decode.
fn video_payload_types(sdp: &SessionDescription) -> HashMap<u8, VideoCodec> {
    sdp.media_descriptions
        .iter()
        .find(|m| m.media_name.media == "video")
        .map(|section| {
            section
                .codecs()
                .into_values()
                .filter_map(|c| {
                    let codec = VideoCodec::from_mime(&format!("video/{}", c.name))?;
                    Some((c.payload_type, codec))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// The video section of a Chromium 156 offer (trimmed).
    const CHROMIUM_OFFER: &str = "v=0\r\n\
o=- 1 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 103 104 107 108 109 114 45 46 98 99\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n\
a=rtpmap:103 H264/90000\r\n\
a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
a=rtpmap:104 rtx/90000\r\n\
a=rtpmap:107 H264/90000\r\n\
a=fmtp:107 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n\
a=rtpmap:108 H264/90000\r\n\
a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:109 H264/90000\r\n\
a=fmtp:109 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640034\r\n\
a=rtpmap:45 AV1/90000\r\n\
a=fmtp:45 level-idx=5;profile=0;tier=0\r\n\
a=rtpmap:98 VP9/90000\r\n\
a=fmtp:98 profile-id=0\r\n";

    fn parsed(sdp: &str) -> SessionDescription {
        SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())).expect("sdp")
    }

    #[test]
    fn the_offerers_payload_types_are_found_for_our_codec() {
        let sdp = parsed(CHROMIUM_OFFER);
        assert_eq!(
            negotiated_payload_type(&sdp, "video", "video/VP8"),
            Some(96)
        );
        assert_eq!(
            negotiated_payload_type(&sdp, "video", "video/vp9"),
            Some(98)
        );
        assert_eq!(
            negotiated_payload_type(&sdp, "video", "video/AV1"),
            Some(45)
        );
        // Mode 1, constrained baseline: not 103 (baseline), 107 (mode 0)
        // or 109 (high).
        assert_eq!(
            negotiated_payload_type(&sdp, "video", "video/H264"),
            Some(108)
        );
        assert_eq!(
            negotiated_payload_type(&sdp, "audio", "audio/opus"),
            Some(111)
        );
        assert_eq!(negotiated_payload_type(&sdp, "video", "video/H265"), None);
        let video = video_payload_types(&sdp);
        assert_eq!(
            video.len(),
            7,
            "VP8, four H.264, AV1, VP9; not rtx: {video:?}"
        );
        assert_eq!(video[&108], VideoCodec::H264);
        assert_eq!(video[&45], VideoCodec::Av1);
        assert_eq!(negotiated_payload_type(&sdp, "video", "audio/opus"), None);
    }

    #[test]
    fn our_table_round_trips_through_sdp_text() {
        for codec in VideoCodec::ALL {
            let c = rtp_codec(codec, vec![]);
            let pt = payload_type(codec);
            let name = codec.mime().trim_start_matches("video/");
            let mut sdp = format!(
                "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF {pt}\r\na=rtpmap:{pt} {name}/90000\r\n"
            );
            if !c.sdp_fmtp_line.is_empty() {
                sdp.push_str(&format!("a=fmtp:{pt} {}\r\n", c.sdp_fmtp_line));
            }
            assert_eq!(
                negotiated_payload_type(&parsed(&sdp), "video", &c.mime_type),
                Some(pt),
                "{codec:?}"
            );
        }
    }
}
