//! Sending sound: 20 ms of PCM from the call's audio source, Opus-coded,
//! every 20 ms; silence while muted (the source is still drained, so
//! nothing stale goes out on unmute).

use crate::codecs::SessionCodecs;
use crate::media::AudioSource;
use crate::reports::AudioReport;
use crate::state::CallState;
use crate::tracks::{Media, is_over, negotiated};
use bytes::Bytes;
use kh_media::audio::{FRAME_SAMPLES, OpusEncoder};
use rtc::media::Sample;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;

pub(crate) struct AudioSender {
    pub source: Box<dyn AudioSource>,
    pub muted: watch::Receiver<bool>,
    pub state: watch::Receiver<CallState>,
    pub codecs: watch::Receiver<SessionCodecs>,
    pub report: watch::Sender<AudioReport>,
}

pub(crate) async fn send_audio(sender: AudioSender, track: Arc<TrackLocalStaticSample>) {
    let AudioSender {
        mut source,
        muted,
        state,
        codecs,
        report,
    } = sender;
    let Some((ssrc, pt)) = negotiated(&state, &codecs, Media::Audio, "audio/opus", &track).await
    else {
        return;
    };
    let mut encoder = match OpusEncoder::new(false, 32_000) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("audio encoder: {e}");
            return;
        }
    };
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !is_over(&state) {
        ticks.tick().await;
        let pcm = source.take(FRAME_SAMPLES);
        let pcm = if *muted.borrow() || pcm.len() != FRAME_SAMPLES {
            vec![0; FRAME_SAMPLES]
        } else {
            pcm
        };
        let packet = match encoder.encode(&pcm) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("audio encode: {e}");
                return;
            }
        };
        let sample = Sample {
            data: Bytes::from(packet),
            duration: Duration::from_millis(20),
            ..Sample::new(Instant::now())
        };
        if track
            .sample_writer(ssrc, pt)
            .write_sample(&sample)
            .await
            .is_ok()
        {
            report.send_modify(|r| r.packets += 1);
        }
    }
}
