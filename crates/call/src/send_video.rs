//! Sending video: pictures from the call's source, scaled and encoded at
//! what congestion control allows (the ladder's rung and bitrate, the
//! frame dropper), or a coded stream sent as it is; keyframes when the far
//! end asks. Encoding runs on its own thread (a 1080p frame takes
//! milliseconds: too long to hold a tokio worker); coded frames reach the
//! track through a two-frame channel, so a network that cannot keep up
//! makes the encoder wait and the source skip.

use crate::codecs::SessionCodecs;
use crate::congestion::EstimateCell;
use crate::flag::Flag;
use crate::interceptors::keyframe_requests::is_keyframe_request;
use crate::ladder::{FramePlanner, KeyframeGate, Plan};
use crate::media::{CodedVideoSource, VideoSource};
use crate::reports::VideoSendReport;
use crate::state::CallState;
use crate::tracks::{Media, codec_threads, is_over, negotiated};
use bytes::Bytes;
use kh_media::{EncoderConfig, VideoCodec, VideoEncoder, VideoFrame};
use rtc::media::Sample;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

/// How the encoder is to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncodeSettings {
    pub codec: VideoCodec,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub max_bitrate_kbps: u32,
    pub hardware: bool,
}

/// What goes out, encoded here or as coded.
pub(crate) enum Outgoing {
    Pictures(Box<dyn VideoSource>, EncodeSettings),
    Coded(Box<dyn CodedVideoSource>),
}

/// Everything the video sender reads or writes.
pub(crate) struct VideoSender {
    pub outgoing: Outgoing,
    pub estimate: Option<Arc<EstimateCell>>,
    /// Raised by the far end's requests (and by a camera switched back on,
    /// or a path that came back); taken when a keyframe is made.
    pub keyframe: Flag,
    pub camera_off: watch::Receiver<bool>,
    pub state: watch::Receiver<CallState>,
    pub codecs: watch::Receiver<SessionCodecs>,
    pub report: watch::Sender<VideoSendReport>,
    pub keyframe_requests: watch::Sender<u64>,
}

/// Fill `track` until the call ends.
pub(crate) async fn send_video(sender: VideoSender, track: Arc<TrackLocalStaticSample>) {
    let VideoSender {
        outgoing,
        estimate,
        keyframe,
        camera_off,
        state,
        codecs,
        report,
        keyframe_requests,
    } = sender;
    // Keyframe requests from the far end.
    let requests = track.clone();
    let asked = keyframe.clone();
    tokio::spawn(async move {
        while let Some(event) = requests.poll().await {
            if let TrackLocalEvent::OnRtcpPacket(packets) = event
                && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
            {
                asked.raise();
                keyframe_requests.send_modify(|n| *n += 1);
            }
        }
    });
    let mime = match &outgoing {
        Outgoing::Pictures(_, settings) => settings.codec.mime(),
        Outgoing::Coded(source) => source.codec().mime(),
    };
    let Some((ssrc, pt)) = negotiated(&state, &codecs, Media::Video, mime, &track).await else {
        return;
    };
    // Two frames at most between the encoder and the network; when the
    // sending side cannot keep up the encoder waits (and its source skips).
    let (coded_tx, mut coded) = mpsc::channel::<(Bytes, Duration)>(2);
    let thread_state = state.clone();
    let spawned = match outgoing {
        Outgoing::Coded(source) => std::thread::Builder::new()
            .name("kh-video-coded".into())
            .spawn(move || send_coded(source, thread_state, report, coded_tx)),
        Outgoing::Pictures(source, settings) => {
            let encoder = Encoding {
                settings,
                estimate,
                keyframe,
                camera_off,
                state: thread_state,
                report,
            };
            std::thread::Builder::new()
                .name("kh-video-encode".into())
                .spawn(move || encoder.run(source, coded_tx))
        }
    };
    if let Err(e) = spawned {
        tracing::error!("video: starting the sender's thread: {e}");
        return;
    }
    while let Some((data, duration)) = coded.recv().await {
        let sample = Sample {
            data,
            duration,
            ..Sample::new(Instant::now())
        };
        let started = Instant::now();
        let written = track.sample_writer(ssrc, pt).write_sample(&sample).await;
        let took = started.elapsed();
        if took > Duration::from_millis(30) {
            tracing::debug!(
                ms = took.as_millis() as u64,
                "video: writing a frame was slow"
            );
        }
        if let Err(e) = written {
            tracing::warn!("video: writing a frame: {e}");
            if is_over(&state) {
                return;
            }
        }
    }
}

/// A coded stream at its own pace.
fn send_coded(
    mut source: Box<dyn CodedVideoSource>,
    state: watch::Receiver<CallState>,
    report: watch::Sender<VideoSendReport>,
    out: mpsc::Sender<(Bytes, Duration)>,
) {
    let (width, height) = source.size();
    report.send_modify(|r| {
        r.out.codec = source.codec().mime().to_owned();
        r.out.encoder = "none (a recording, sent as coded)".to_owned();
        r.out.width = width;
        r.out.height = height;
    });
    while !is_over(&state) {
        let frame = match source.next_coded() {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("video source: {e}");
                return;
            }
        };
        report.send_modify(|r| {
            r.out.frames_encoded += 1;
            r.out.bytes += frame.data.len() as u64;
        });
        let duration = frame.duration.max(Duration::from_millis(1));
        if out
            .blocking_send((Bytes::from(frame.data), duration))
            .is_err()
        {
            return;
        }
    }
}

/// The encode thread's state.
struct Encoding {
    settings: EncodeSettings,
    estimate: Option<Arc<EstimateCell>>,
    keyframe: Flag,
    camera_off: watch::Receiver<bool>,
    state: watch::Receiver<CallState>,
    report: watch::Sender<VideoSendReport>,
}

impl Encoding {
    /// Take pictures at the frame rate, encode them, hand the packets over.
    fn run(self, mut source: Box<dyn VideoSource>, out: mpsc::Sender<(Bytes, Duration)>) {
        let settings = self.settings;
        let interval = Duration::from_secs_f64(1.0 / f64::from(settings.fps.max(1)));
        let (mut width, mut height) = (0, 0);
        let mut encoder: Option<VideoEncoder> = None;
        let mut next = Instant::now();
        let mut last_sent = Instant::now();
        // What congestion control lets us send: the rung (size and rate)
        // and the encoder's bitrate follow the estimate.
        let mut planner = FramePlanner::new(settings.fps, settings.max_bitrate_kbps, next);
        let mut resizer = kh_media::ffmpeg::Resizer::default();
        let mut encoder_kbps = settings.bitrate_kbps.min(settings.max_bitrate_kbps);
        let mut keyframes = KeyframeGate::default();
        let mut health = kh_media::edge::SourceHealth::default();
        while !is_over(&self.state) {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else if now - next > interval {
                // Behind (a slow encode): skip the missed frames rather
                // than sending a burst of stale ones.
                next = now;
            }
            next += interval;
            let made = Instant::now();
            let estimate_bps = self.estimate.as_ref().map(|cell| cell.get().target_bps);
            if let Some(bps) = estimate_bps
                && let Some(rung) = planner.rung_for(made, bps)
            {
                source.draw_at(rung.width, rung.height);
            }
            let picture = source.next_picture(interval);
            let now_health = source.health();
            if now_health != health {
                health = now_health;
                self.report.send_modify(|r| {
                    r.out.source = health.description.clone();
                    r.out.source_problem = health.problem.clone();
                    r.out.source_reopened = health.reopened;
                });
            }
            let frame = match picture {
                Ok(Some(frame)) => frame,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!("video source: {e}");
                    return;
                }
            };
            // Camera off: the same size in black (video-range Y 16, grey
            // chroma).
            let frame = if *self.camera_off.borrow() {
                VideoFrame::filled(frame.width, frame.height, 16, 128, 128)
            } else {
                frame
            };
            let frame = match estimate_bps {
                Some(bps) => {
                    let native = source.native_size().unwrap_or((frame.width, frame.height));
                    let plan = planner.plan(made, bps, native);
                    let (rung, changes) = (planner.rung(), planner.rung_changes());
                    self.report.send_modify(|r| {
                        r.rung = rung.map(|rung| rung.to_string());
                        r.rung_changes = changes;
                        if let Plan::Encode { encoder_kbps, .. } = plan {
                            r.encoder_kbps = Some(encoder_kbps);
                        }
                        if plan == Plan::Backlogged {
                            r.frames_skipped += 1;
                        }
                    });
                    let Plan::Encode {
                        rung,
                        encoder_kbps: kbps,
                    } = plan
                    else {
                        continue;
                    };
                    encoder_kbps = kbps;
                    if (frame.width, frame.height) == (rung.width, rung.height) {
                        frame
                    } else {
                        match resizer.resize(&frame, rung.width, rung.height) {
                            Ok(resized) => resized,
                            Err(e) => {
                                tracing::warn!("video: resizing to {rung}: {e}");
                                frame
                            }
                        }
                    }
                }
                None => frame,
            };
            if let Some(enc) = encoder.as_mut() {
                let current = enc.config().bitrate_kbps;
                // Down at once; up in steps worth a reconfiguration.
                if (encoder_kbps < current || encoder_kbps > current + current / 20)
                    && let Err(e) = enc.set_bitrate(encoder_kbps)
                {
                    tracing::warn!("video encoder bitrate: {e}");
                }
            }
            if (frame.width, frame.height) != (width, height) || encoder.is_none() {
                (width, height) = (frame.width, frame.height);
                let open = if settings.hardware {
                    VideoEncoder::preferring_hardware
                } else {
                    VideoEncoder::new
                };
                let opened = match open(EncoderConfig {
                    codec: settings.codec,
                    width,
                    height,
                    fps: settings.fps,
                    bitrate_kbps: encoder_kbps,
                    threads: codec_threads(width, height),
                }) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::error!("video encoder: {e}");
                        return;
                    }
                };
                // Its first frame is a keyframe: a request made before it
                // is answered by it.
                keyframes.forced(Instant::now());
                self.keyframe.take();
                self.report.send_modify(|r| {
                    r.out.codec = settings.codec.mime().to_owned();
                    r.out.encoder = opened.implementation().to_owned();
                    r.out.hardware = opened.is_hardware();
                    r.out.width = width;
                    r.out.height = height;
                });
                encoder = Some(opened);
            }
            let Some(enc) = encoder.as_mut() else {
                continue;
            };
            let now = Instant::now();
            if self.keyframe.is_raised() && keyframes.grants(now) {
                self.keyframe.take();
                enc.request_keyframe();
            }
            let encoding = Instant::now();
            let packets = match enc.encode(&frame) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("video encode: {e}");
                    return;
                }
            };
            tracing::trace!(
                source_ms = (encoding - made).as_secs_f64() * 1e3,
                encode_ms = encoding.elapsed().as_secs_f64() * 1e3,
                "video frame"
            );
            for packet in packets {
                self.report.send_modify(|r| {
                    r.out.frames_encoded += 1;
                    r.out.keyframes += u64::from(packet.keyframe);
                    r.out.bytes += packet.data.len() as u64;
                });
                let now = Instant::now();
                if let Some(bps) = estimate_bps {
                    planner.sent(now, bps, packet.data.len());
                }
                let duration = now.duration_since(last_sent).max(Duration::from_millis(1));
                last_sent = now;
                if out
                    .blocking_send((Bytes::from(packet.data), duration))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}
