//! Our outgoing tracks, and the moment each may start to send: once the
//! call is connected, with the SSRC and the payload type the far side
//! accepted.

use crate::codecs::SessionCodecs;
use crate::state::{CallError, CallState};
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;

pub(crate) fn local_track(
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
) -> Result<Arc<TrackLocalStaticSample>, CallError> {
    // SSRCs only need to differ between the streams of a session.
    let ssrc: u32 = rand::random();
    let name = match kind {
        RtpCodecKind::Audio => "audio",
        _ => "video",
    };
    Ok(Arc::new(TrackLocalStaticSample::new(
        Instant::now(),
        // Ids unique per peer: webrtc-rs routes RTCP by track id, and a
        // remote track with the same id as ours would get our PLIs.
        MediaStreamTrack::new(
            format!("kakehashi-{ssrc:08x}"),
            format!("kakehashi-{name}-{ssrc:08x}"),
            format!("kakehashi {name}"),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        ),
    )?))
}

/// Which of our tracks a sender fills.
#[derive(Clone, Copy)]
pub(crate) enum Media {
    Audio,
    Video,
}

/// Whether the call has ended.
pub(crate) fn is_over(state: &watch::Receiver<CallState>) -> bool {
    matches!(*state.borrow(), CallState::Closed | CallState::Failed)
}

/// Once the call connects: the SSRC and negotiated payload type to send
/// `track` with. `None` if the call ended first or the other side does not
/// accept our `mime` type.
pub(crate) async fn negotiated(
    state: &watch::Receiver<CallState>,
    codecs: &watch::Receiver<SessionCodecs>,
    media: Media,
    mime: &str,
    track: &TrackLocalStaticSample,
) -> Option<(u32, u8)> {
    let mut state = state.clone();
    let settled = state
        .wait_for(|s| {
            matches!(
                s,
                CallState::Connected | CallState::Closed | CallState::Failed
            )
        })
        .await
        .ok()
        .map(|s| *s);
    if settled != Some(CallState::Connected) {
        return None;
    }
    let pt = {
        let codecs = codecs.borrow();
        match media {
            Media::Audio => codecs.audio_out,
            Media::Video => codecs.video_out,
        }
    };
    let Some(pt) = pt else {
        tracing::error!("the other side does not accept {mime}");
        return None;
    };
    let ssrc = *track.ssrcs().await.first()?;
    Some((ssrc, pt))
}

/// Worker threads for a libvpx encoder or decoder of this size. libvpx's
/// VP8 threads spin while they wait for each other: more threads than the
/// machine can run at once (an encoder and a decoder, on two cores) made a
/// 720p frame take 170 ms instead of 5. So: one thread per ~1 Mpixel, and
/// never more than half the cores.
pub(crate) fn codec_threads(width: u32, height: u32) -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let by_size = (u64::from(width) * u64::from(height)).div_ceil(1_000_000) as u32;
    by_size.clamp(1, 8).min((cores / 2).max(1))
}
