//! The tasks that move media and data: encoders feeding local tracks,
//! remote tracks feeding decoders, data channels, and the counters they all
//! keep.
//!
//! Encoding and decoding run on their own threads (a 1080p VP8 frame takes
//! milliseconds: too long to hold a tokio worker); packets move between
//! them and the async tracks through channels. Each remote track is read on
//! its own task, as webrtc-rs drops packets from a track nobody drains.

use crate::codecs;
use crate::depacketize::{Assembled, FrameAssembler, assembler_for};
use crate::engine::{CallError, CallEvent, CallState, Shared, VideoSource};
use crate::ladder::{self, KeyframeGate, Ladder};
use crate::stats::{CallStats, TransportStats, percentiles};
use bytes::{Bytes, BytesMut};
use kh_media::audio::{self, FRAME_SAMPLES, OpusDecoder, OpusEncoder, Tone};
use kh_media::ivf::IvfReader;
use kh_media::pattern::TestPattern;
use kh_media::y4m::{Y4mHeader, Y4mReader, Y4mWriter};
use kh_media::{EncoderConfig, VideoCodec, VideoDecoder, VideoEncoder};
use kh_media::{VideoFrame, stamp};
use parking_lot::Mutex;
use rtc::data_channel::RTCDataChannelInit;
use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::io::BufWriter;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCStatsReport, RTCStatsReportEntry};

/// Counts kept while the call runs; [`Counters::snapshot`] turns them
/// into [`CallStats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub stats: CallStats,
    latencies_ms: Vec<f64>,
    control_rtts_ms: Vec<f64>,
    /// The last second of received audio.
    heard: VecDeque<i16>,
    decoded_at: VecDeque<Instant>,
    recorder: Option<(Y4mWriter<BufWriter<std::fs::File>>, std::path::PathBuf)>,
}

/// What the statistics are computed from, copied out of [`Counters`] so
/// the computing (a spectrum over a second of audio, sorting latencies)
/// happens after the lock is released: the media tasks take that lock for
/// every packet and frame, and a statistics request that held it for the
/// length of a spectrum halved the audio and video rates.
pub(crate) struct RawStats {
    stats: CallStats,
    latencies_ms: Vec<f64>,
    control_rtts_ms: Vec<f64>,
    heard: Vec<i16>,
    fps: Option<f64>,
}

impl RawStats {
    pub fn compute(mut self) -> CallStats {
        let mut stats = self.stats;
        if let Some((p50, p95, max)) = percentiles(&mut self.latencies_ms) {
            stats.video_in.latency_ms_p50 = Some(p50);
            stats.video_in.latency_ms_p95 = Some(p95);
            stats.video_in.latency_ms_max = Some(max);
        }
        if let Some((p50, _, _)) = percentiles(&mut self.control_rtts_ms) {
            stats.data.control_rtt_ms_p50 = Some(p50);
        }
        if !self.heard.is_empty() {
            stats.audio.rms = Some(audio::rms(&self.heard));
            stats.audio.dominant_hz = Some(audio::dominant_frequency(&self.heard));
        }
        if let Some(fps) = self.fps {
            stats.video_in.fps = fps;
        }
        stats
    }
}

impl Counters {
    /// A copy of what the statistics need; cheap, so it can be taken under
    /// the lock.
    pub fn snapshot(&self) -> RawStats {
        let fps = match (self.decoded_at.front(), self.decoded_at.back()) {
            (Some(first), Some(last)) => {
                let secs = last.duration_since(*first).as_secs_f64();
                (secs > 0.0).then(|| (self.decoded_at.len() - 1) as f64 / secs)
            }
            _ => None,
        };
        RawStats {
            stats: self.stats.clone(),
            latencies_ms: self.latencies_ms.clone(),
            control_rtts_ms: self.control_rtts_ms.clone(),
            heard: self.heard.iter().copied().collect(),
            fps,
        }
    }

    pub fn finish_recording(&mut self) {
        if let Some((writer, path)) = self.recorder.take()
            && let Err(e) = writer.finish()
        {
            tracing::error!("finishing the recording {}: {e}", path.display());
        }
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Marks inbound keyframe requests (PLI, FIR) for the application: by
/// default inbound RTCP stops inside the interceptor chain, and the video
/// sender would never hear that a receiver lost its picture.
#[derive(Default)]
pub(crate) struct KeyframeRequests {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

fn local_track(
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

/// Add the audio and video tracks and start the tasks that fill them once
/// the call connects.
pub(crate) async fn start_senders(
    shared: Arc<Shared>,
    pc: &Arc<dyn PeerConnection>,
) -> Result<(), CallError> {
    let options = &shared.options;
    let video_codec = codecs::rtp_codec(options.codec, vec![]);
    // A video transceiver even when we send none, so that our offer can
    // receive; its preferences list every codec we decode, ours first
    // (webrtc-rs would otherwise offer only the track's codec).
    let wants_video = options.echo || !matches!(options.video, VideoSource::None);
    let init = |direction| RTCRtpTransceiverInit {
        direction,
        streams: vec![],
        send_encodings: vec![],
    };
    let transceiver = if wants_video {
        let track = local_track(RtpCodecKind::Video, video_codec)?;
        let transceiver = pc
            .add_transceiver_from_track(
                track.clone() as Arc<dyn TrackLocal>,
                Some(init(RTCRtpTransceiverDirection::Sendrecv)),
            )
            .await?;
        tokio::spawn(send_video(shared.clone(), track));
        transceiver
    } else {
        pc.add_transceiver_from_kind(
            RtpCodecKind::Video,
            Some(init(RTCRtpTransceiverDirection::Recvonly)),
        )
        .await?
    };
    transceiver
        .set_codec_preferences(codecs::video_preferences(options.codec))
        .await?;
    let audio_codec = RTCRtpCodec {
        mime_type: "audio/opus".to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    };
    let track = local_track(RtpCodecKind::Audio, audio_codec)?;
    pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
    tokio::spawn(send_audio(shared, track));
    Ok(())
}

/// Which of our tracks a sender fills.
#[derive(Clone, Copy)]
enum Media {
    Audio,
    Video,
}

/// Once the call connects: the SSRC and negotiated payload type to send
/// `track` with. `None` if the call ended first or the other side does not
/// accept our codec.
async fn negotiated(
    shared: &Shared,
    media: Media,
    track: &TrackLocalStaticSample,
) -> Option<(u32, u8)> {
    let mut state = shared.state.subscribe();
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
    let (pt, what, mime) = {
        let codecs = shared.session_codecs.lock();
        match media {
            Media::Audio => (codecs.audio_out, "audio", "audio/opus"),
            Media::Video => (codecs.video_out, "video", shared.options.codec.mime()),
        }
    };
    let Some(pt) = pt else {
        tracing::error!("{what}: the other side does not accept {mime}");
        return None;
    };
    let ssrc = *track.ssrcs().await.first()?;
    Some((ssrc, pt))
}

fn call_over(shared: &Shared) -> bool {
    matches!(
        *shared.state.borrow(),
        CallState::Closed | CallState::Failed
    )
}

/// Where outgoing pictures come from.
enum Pictures {
    Pattern(TestPattern),
    File(VideoFile, std::path::PathBuf),
    Camera(Box<kh_devices::camera::LiveCamera>),
    Echo,
}

impl Pictures {
    fn open(shared: &Shared) -> Result<(Pictures, u32, u32), String> {
        if shared.options.echo {
            return Ok((Pictures::Echo, 0, 0));
        }
        match &shared.options.video {
            VideoSource::TestPattern { width, height } => {
                let pattern =
                    TestPattern::new(*width, *height).with_grain(shared.options.pattern_grain);
                let (w, h) = pattern.size();
                Ok((Pictures::Pattern(pattern), w, h))
            }
            VideoSource::File(path) => {
                let file = VideoFile::open(path)?;
                Ok((Pictures::File(file, path.clone()), 0, 0))
            }
            VideoSource::Camera {
                device,
                width,
                height,
            } => {
                let camera = kh_devices::camera::LiveCamera::open(
                    device,
                    kh_devices::camera::CameraRequest {
                        width: *width,
                        height: *height,
                        fps: shared.options.fps,
                    },
                )
                .map_err(|e| e.to_string())?;
                shared.counters.lock().stats.video_out.source = Some(camera.describe());
                Ok((Pictures::Camera(Box::new(camera)), 0, 0))
            }
            VideoSource::Recording(_) => Err("a recording is sent as coded".into()),
            VideoSource::None => Err("no video source".into()),
        }
    }

    /// Draw the following pictures at this size, where the source can
    /// (the test pattern); others are resized after.
    fn draw_at(&mut self, width: u32, height: u32) {
        if let Pictures::Pattern(pattern) = self {
            pattern.set_size(width, height);
        }
    }

    /// The size the source makes by itself, where it is not the picture's.
    fn native_size(&self) -> Option<(u32, u32)> {
        match self {
            Pictures::Pattern(pattern) => Some(pattern.native_size()),
            _ => None,
        }
    }

    fn next(&mut self, shared: &Shared) -> Result<Option<VideoFrame>, String> {
        match self {
            Pictures::Pattern(p) => Ok(Some(p.next_frame(unix_ms()))),
            Pictures::File(file, path) => match file.next_frame()? {
                Some(frame) => Ok(Some(frame)),
                // Loop the file.
                None => {
                    *file = VideoFile::open(path)?;
                    file.next_frame()
                }
            },
            // The newest picture since the last, waiting up to one frame
            // for it: the camera keeps its own time.
            // A lost camera gives black pictures while it is looked for
            // again: the call goes on and says why.
            Pictures::Camera(camera) => {
                let frame = camera.next_frame(Duration::from_secs_f64(
                    1.0 / f64::from(shared.options.fps.max(1)),
                ));
                let mut counters = shared.counters.lock();
                let out = &mut counters.stats.video_out;
                if out.source_reopened != camera.reopened()
                    || out.source_problem.as_deref() != camera.problem()
                {
                    out.source = Some(camera.describe());
                    out.source_problem = camera.problem().map(str::to_owned);
                    out.source_reopened = camera.reopened();
                }
                Ok(frame)
            }
            Pictures::Echo => Ok(shared.echo_video.lock().take()),
        }
    }
}

/// A video file: Y4M read exactly by our own reader, anything else through
/// FFmpeg (MP4, MKV, WebM, MOV… in any codec it decodes).
enum VideoFile {
    Y4m(Y4mReader<std::io::BufReader<std::fs::File>>),
    Ffmpeg(Box<kh_media::ffmpeg::VideoFileReader>),
}

impl VideoFile {
    fn open(path: &std::path::Path) -> Result<VideoFile, String> {
        let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let is_y4m = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("y4m"));
        if is_y4m {
            let file = std::fs::File::open(path).map_err(|e| named(&e))?;
            let reader = Y4mReader::new(std::io::BufReader::new(file)).map_err(|e| named(&e))?;
            Ok(VideoFile::Y4m(reader))
        } else {
            let reader = kh_media::ffmpeg::VideoFileReader::open(path).map_err(|e| named(&e))?;
            Ok(VideoFile::Ffmpeg(Box::new(reader)))
        }
    }

    fn next_frame(&mut self) -> Result<Option<VideoFrame>, String> {
        match self {
            VideoFile::Y4m(r) => r.next_frame().map_err(|e| e.to_string()),
            VideoFile::Ffmpeg(r) => r.next_frame().map_err(|e| e.to_string()),
        }
    }
}

async fn send_video(shared: Arc<Shared>, track: Arc<TrackLocalStaticSample>) {
    // Keyframe requests from the far end.
    let requests = track.clone();
    let keyframes = shared.clone();
    tokio::spawn(async move {
        while let Some(event) = requests.poll().await {
            if let TrackLocalEvent::OnRtcpPacket(packets) = event
                && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
            {
                keyframes.keyframe_wanted.store(true, Ordering::Relaxed);
                keyframes.counters.lock().stats.video_out.keyframe_requests += 1;
            }
        }
    });
    let Some((ssrc, pt)) = negotiated(&shared, Media::Video, &track).await else {
        return;
    };
    // Two frames at most between the encoder and the network; when the
    // sending side cannot keep up the encoder waits (and its source skips).
    let (encoded_tx, mut encoded) = mpsc::channel::<(Bytes, Duration)>(2);
    let encoder_shared = shared.clone();
    match &shared.options.video {
        VideoSource::Recording(path) if !shared.options.echo => {
            let path = path.clone();
            std::thread::Builder::new()
                .name("kh-video-replay".into())
                .spawn(move || replay_loop(encoder_shared, &path, encoded_tx))
                .ok();
        }
        _ => {
            std::thread::Builder::new()
                .name("kh-video-encode".into())
                .spawn(move || encode_loop(encoder_shared, encoded_tx))
                .ok();
        }
    }
    while let Some((data, duration)) = encoded.recv().await {
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
            if call_over(&shared) {
                return;
            }
        }
    }
}

/// The codec a recording (IVF) was made in.
pub(crate) fn recording_codec(path: &std::path::Path) -> Result<VideoCodec, String> {
    Ok(open_recording(path)?.header().codec)
}

fn open_recording(
    path: &std::path::Path,
) -> Result<IvfReader<std::io::BufReader<std::fs::File>>, String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| named(&e))?;
    IvfReader::new(std::io::BufReader::new(file)).map_err(|e| named(&e))
}

/// Send a recording's frames at their own pace, looping at its end.
fn replay_loop(shared: Arc<Shared>, path: &std::path::Path, out: mpsc::Sender<(Bytes, Duration)>) {
    let mut reader = match open_recording(path) {
        Ok(reader) => reader,
        Err(e) => {
            tracing::error!("video recording: {e}");
            return;
        }
    };
    let header = reader.header();
    let tick =
        Duration::from_secs_f64(f64::from(header.timebase_num) / f64::from(header.timebase_den));
    {
        let mut c = shared.counters.lock();
        c.stats.video_out.codec = header.codec.mime().to_owned();
        c.stats.video_out.encoder = "none (a recording, sent as coded)".to_owned();
        c.stats.video_out.width = u32::from(header.width);
        c.stats.video_out.height = u32::from(header.height);
    }
    let started = Instant::now();
    // Where the current pass over the file starts, in ticks since `started`.
    let mut pass_start = 0u64;
    let mut last = 0u64;
    let mut previous_at = started;
    while !call_over(&shared) {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                pass_start += last + 1;
                last = 0;
                reader = match open_recording(path) {
                    Ok(reader) => reader,
                    Err(e) => {
                        tracing::error!("video recording: {e}");
                        return;
                    }
                };
                continue;
            }
            Err(e) => {
                tracing::error!("video recording {}: {e}", path.display());
                return;
            }
        };
        last = frame.timestamp;
        let due = started + tick.saturating_mul((pass_start + frame.timestamp) as u32);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let at = Instant::now();
        let duration = at.duration_since(previous_at).max(Duration::from_millis(1));
        previous_at = at;
        {
            let mut c = shared.counters.lock();
            c.stats.video_out.frames_encoded += 1;
            c.stats.video_out.bytes += frame.data.len() as u64;
        }
        if out
            .blocking_send((Bytes::from(frame.data), duration))
            .is_err()
        {
            return;
        }
    }
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

/// Make pictures at the frame rate, encode them, hand the packets over.
fn encode_loop(shared: Arc<Shared>, out: mpsc::Sender<(Bytes, Duration)>) {
    let options = shared.options.clone();
    let (mut pictures, mut width, mut height) = match Pictures::open(&shared) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("video source: {e}");
            return;
        }
    };
    let interval = Duration::from_secs_f64(1.0 / f64::from(options.fps.max(1)));
    let mut encoder: Option<VideoEncoder> = None;
    let mut next = Instant::now();
    let mut last_sent = Instant::now();
    // What congestion control lets us send: the rung (size and rate) and
    // the encoder's bitrate follow the estimate.
    let mut ladder: Option<Ladder> = None;
    let mut resizer = kh_media::ffmpeg::Resizer::default();
    let mut next_encode = Instant::now();
    let mut encoder_kbps = options.bitrate_kbps.min(options.max_bitrate_kbps);
    let mut keyframes = KeyframeGate::default();
    let mut backlog = ladder::SendBacklog::new(Instant::now());
    while !call_over(&shared) {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > interval {
            // Behind (a slow encode): skip the missed frames rather than
            // sending a burst of stale ones.
            next = now;
        }
        next += interval;
        let made = Instant::now();
        let estimate_bps = shared.estimate.as_ref().map(|cell| cell.get().target_bps);
        let rung = match (ladder.as_mut(), estimate_bps) {
            (Some(ladder), Some(bps)) => Some(ladder.update(made, bps)),
            _ => None,
        };
        if let Some(rung) = rung {
            pictures.draw_at(rung.width, rung.height);
        }
        let frame = match pictures.next(&shared) {
            Ok(Some(frame)) => frame,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!("video source: {e}");
                return;
            }
        };
        // Camera off: the same size in black (video-range Y 16, grey chroma).
        let frame = if shared.camera_off.load(Ordering::Relaxed) {
            VideoFrame::filled(frame.width, frame.height, 16, 128, 128)
        } else {
            frame
        };
        let frame = match estimate_bps {
            Some(bps) => {
                let native = pictures
                    .native_size()
                    .unwrap_or((frame.width, frame.height));
                let ladder = match ladder.as_mut() {
                    Some(ladder) if ladder.source() == (native.0 & !1, native.1 & !1) => ladder,
                    _ => ladder.insert(Ladder::new(native.0, native.1, options.fps, bps)),
                };
                let rung = ladder.current();
                encoder_kbps = ladder::encoder_kbps(bps, options.max_bitrate_kbps);
                {
                    let mut c = shared.counters.lock();
                    c.stats.congestion.rung = Some(rung.to_string());
                    c.stats.congestion.rung_changes = ladder.changes();
                    c.stats.congestion.encoder_kbps = Some(encoder_kbps);
                }
                // Frames the rung's rate has no room for are not encoded
                // (the source runs on, as a camera does).
                // Half a source interval of slack: a frame made a little
                // early by the clock's jitter is still on time.
                if made + interval / 2 < next_encode {
                    continue;
                }
                let every = Duration::from_secs_f64(1.0 / f64::from(rung.fps.max(1)));
                next_encode = (next_encode + every).max(made);
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
            let open = if options.hardware_codecs {
                VideoEncoder::preferring_hardware
            } else {
                VideoEncoder::new
            };
            encoder = match open(EncoderConfig {
                codec: options.codec,
                width,
                height,
                fps: options.fps,
                bitrate_kbps: encoder_kbps,
                threads: codec_threads(width, height),
            }) {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::error!("video encoder: {e}");
                    return;
                }
            };
            // Its first frame is a keyframe: a request made before it is
            // answered by it.
            keyframes.forced(Instant::now());
            shared.keyframe_wanted.store(false, Ordering::Relaxed);
            let mut c = shared.counters.lock();
            c.stats.video_out.codec = options.codec.mime().to_owned();
            if let Some(enc) = &encoder {
                c.stats.video_out.encoder = enc.implementation().to_owned();
                c.stats.video_out.hardware = enc.is_hardware();
            }
            c.stats.video_out.width = width;
            c.stats.video_out.height = height;
        }
        let Some(enc) = encoder.as_mut() else {
            continue;
        };
        // Frames the estimate has no room for are not encoded: the
        // encoder's rate control lags and, on grainy pictures, cannot go as
        // low as asked.
        if let Some(bps) = estimate_bps
            && !backlog.has_room(Instant::now(), bps)
        {
            shared.counters.lock().stats.congestion.frames_skipped += 1;
            continue;
        }
        if keyframes.take(&shared.keyframe_wanted, Instant::now()) {
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
            {
                let mut c = shared.counters.lock();
                c.stats.video_out.frames_encoded += 1;
                c.stats.video_out.keyframes += u64::from(packet.keyframe);
                c.stats.video_out.bytes += packet.data.len() as u64;
            }
            let now = Instant::now();
            if let Some(bps) = estimate_bps {
                backlog.sent(now, bps, packet.data.len());
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

async fn send_audio(shared: Arc<Shared>, track: Arc<TrackLocalStaticSample>) {
    let Some((ssrc, pt)) = negotiated(&shared, Media::Audio, &track).await else {
        return;
    };
    let mut encoder = match OpusEncoder::new(false, 32_000) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("audio encoder: {e}");
            return;
        }
    };
    let mut tone = shared.options.tone_hz.map(Tone::new);
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !call_over(&shared) {
        ticks.tick().await;
        let pcm: Vec<i16> = if shared.options.echo {
            let mut heard = shared.echo_audio.lock();
            if heard.len() < FRAME_SAMPLES {
                vec![0; FRAME_SAMPLES]
            } else {
                heard.drain(..FRAME_SAMPLES).collect()
            }
        } else if let Some(microphone) = &shared.microphone {
            // A device a little behind the clock leaves a frame short now
            // and then: silence for that frame, not a stall.
            let mut pcm = microphone
                .take(FRAME_SAMPLES)
                .unwrap_or_else(|| vec![0; FRAME_SAMPLES]);
            if let Some(canceller) = &shared.echo_canceller {
                canceller.lock().near_end(&mut pcm);
            }
            pcm
        } else if let Some(tone) = tone.as_mut() {
            tone.next_frame()
        } else {
            vec![0; FRAME_SAMPLES]
        };
        let pcm = if shared.microphone_muted.load(Ordering::Relaxed) {
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
            shared.counters.lock().stats.audio.packets_sent += 1;
        }
    }
}

/// Read a remote track on its own task until it ends.
pub(crate) fn receive_track(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
    tokio::spawn(async move {
        match track.kind().await {
            RtpCodecKind::Audio => receive_audio(shared, track).await,
            RtpCodecKind::Video => receive_video(shared, track).await,
            _ => {}
        }
    });
}

async fn receive_audio(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
    let mut decoder = match OpusDecoder::new(false) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("audio decoder: {e}");
            return;
        }
    };
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            if matches!(event, TrackRemoteEvent::OnEnded) {
                break;
            }
            continue;
        };
        if packet.payload.is_empty() {
            continue;
        }
        let pcm = decoder.decode(&packet.payload);
        let mut c = shared.counters.lock();
        c.stats.audio.packets_received += 1;
        match pcm {
            Ok(pcm) => {
                if let Some(speaker) = &shared.speaker {
                    if let Some(canceller) = &shared.echo_canceller {
                        canceller.lock().far_end(&pcm);
                    }
                    speaker.play(&pcm);
                }
                c.heard.extend(pcm.iter().copied());
                let excess = c.heard.len().saturating_sub(audio::SAMPLE_RATE as usize);
                c.heard.drain(..excess);
                drop(c);
                if shared.options.echo {
                    let mut echo = shared.echo_audio.lock();
                    echo.extend(pcm);
                    // Never more than 200 ms behind.
                    let excess = echo.len().saturating_sub(FRAME_SAMPLES * 10);
                    echo.drain(..excess);
                }
            }
            Err(_) => c.stats.audio.packets_undecodable += 1,
        }
    }
}

/// Compressed frames waiting for the decoder: the frame buffer's longest
/// wait (300 ms) at 30 fps.
const DECODER_QUEUE: usize = 10;

async fn receive_video(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
    // A short queue: a decoder that falls behind drops frames and asks for
    // a keyframe rather than showing ever older pictures. Short, but not
    // shorter than the burst the frame buffer releases when a retransmitted
    // packet completes a frame it waited for (the frames behind it come
    // out together): at 3, that burst on a lossy island link was refused
    // and turned each recovered loss into a keyframe request.
    let (frames_tx, frames_rx) =
        std::sync::mpsc::sync_channel::<(VideoCodec, Bytes)>(DECODER_QUEUE);
    let want_pli = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let decode_shared = shared.clone();
    let pli = want_pli.clone();
    let spawned = std::thread::Builder::new()
        .name("kh-video-decode".into())
        .spawn(move || decode_loop(decode_shared, frames_rx, pli));
    if let Err(e) = spawned {
        tracing::error!("video: starting the decoder thread: {e}");
        return;
    }
    // The payload type being received, its codec and frame buffer: a peer
    // may change codec mid-call (Chromium does on setParameters or when a
    // hardware encoder fails), and the payload type says so.
    let mut current: Option<(u8, VideoCodec, Box<dyn FrameAssembler>)> = None;
    let mut last_pli: Option<Instant> = None;
    while let Some(event) = track.poll().await {
        let packet = match event {
            TrackRemoteEvent::OnRtpPacket(packet) => packet,
            TrackRemoteEvent::OnEnded => break,
            _ => continue,
        };
        let now = Instant::now();
        let ssrc = packet.header.ssrc;
        let pt = packet.header.payload_type;
        if current.as_ref().is_none_or(|(p, ..)| *p != pt) {
            let Some(codec) = shared.session_codecs.lock().video_in.get(&pt).copied() else {
                tracing::debug!("video: payload type {pt} is not a negotiated video codec");
                continue;
            };
            tracing::info!(codec = codec.mime(), "video: receiving");
            shared.counters.lock().stats.video_in.codec = codec.mime().to_owned();
            if current.is_some() {
                // A switch: make sure the new stream starts from a keyframe.
                want_pli.store(true, Ordering::Relaxed);
            }
            current = Some((pt, codec, assembler_for(codec)));
        }
        let Some((_, codec, frames)) = current.as_mut() else {
            continue;
        };
        frames.push(packet, now);
        while let Some(assembled) = frames.pop(now) {
            if let Assembled::Frame(data) = &assembled {
                // Goodput: media that arrived whole, whatever then becomes
                // of it.
                shared.counters.lock().stats.video_in.bytes += data.len() as u64;
            }
            let sent = match assembled {
                Assembled::Frame(data) if shared.options.forward_video.is_some() => {
                    if let Some(forward) = &shared.options.forward_video {
                        (forward.0)(*codec, &data);
                    }
                    shared.counters.lock().stats.video_in.frames_forwarded += 1;
                    true
                }
                Assembled::Frame(data) => {
                    let queued = frames_tx.try_send((*codec, data)).is_ok();
                    if !queued {
                        tracing::debug!("video: the decoder is behind; a frame is dropped");
                    }
                    queued
                }
                Assembled::Lost => {
                    tracing::debug!("video: a frame was lost on the way");
                    false
                }
            };
            if !sent {
                // Lost on the way, or the decoder is behind: what follows
                // needs a fresh start.
                shared.counters.lock().stats.video_in.frames_dropped += 1;
                want_pli.store(true, Ordering::Relaxed);
            }
        }
        if shared.keyframe_for_forward.swap(false, Ordering::Relaxed) {
            want_pli.store(true, Ordering::Relaxed);
        }
        if want_pli.load(Ordering::Relaxed)
            && last_pli.is_none_or(|t| now.duration_since(t) > Duration::from_millis(300))
        {
            want_pli.store(false, Ordering::Relaxed);
            last_pli = Some(now);
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            if let Err(e) = track.write_rtcp(vec![Box::new(pli)]).await {
                tracing::debug!("video: sending PLI: {e}");
            }
        }
    }
}

/// Decode compressed frames as they come; read their stamps; record and
/// echo them.
fn decode_loop(
    shared: Arc<Shared>,
    frames: std::sync::mpsc::Receiver<(VideoCodec, Bytes)>,
    want_pli: Arc<std::sync::atomic::AtomicBool>,
) {
    // The decoder and its thread count: threads for 1080p until pictures
    // show the size; a larger stream (4K, 8K) gets a decoder with more
    // threads, which starts again from a keyframe.
    let mut decoder: Option<(VideoDecoder, u32)> = None;
    let mut threads = codec_threads(1920, 1080);
    let mut last_counter: Option<u32> = None;
    while let Ok((codec, data)) = frames.recv() {
        if decoder
            .as_ref()
            .is_none_or(|(d, t)| d.codec() != codec || *t != threads)
        {
            let open = if shared.options.hardware_codecs {
                VideoDecoder::preferring_hardware
            } else {
                VideoDecoder::new
            };
            decoder = match open(codec, threads) {
                Ok(d) => Some((d, threads)),
                Err(e) => {
                    tracing::error!("video decoder: {e}");
                    continue;
                }
            };
        }
        let Some((decoder, _)) = decoder.as_mut() else {
            continue;
        };
        {
            let mut c = shared.counters.lock();
            if c.stats.video_in.decoder != decoder.implementation() {
                c.stats.video_in.decoder = decoder.implementation().to_owned();
                c.stats.video_in.hardware = decoder.is_hardware();
            }
        }
        let pictures = match decoder.decode(&data) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!("video: a frame did not decode: {e}");
                shared.counters.lock().stats.video_in.frames_dropped += 1;
                want_pli.store(true, Ordering::Relaxed);
                continue;
            }
        };
        if let Some(last) = pictures.last() {
            let wanted = codec_threads(last.width, last.height);
            if wanted > threads {
                tracing::info!(
                    width = last.width,
                    height = last.height,
                    threads = wanted,
                    "video: a larger stream; more decoder threads"
                );
                threads = wanted;
                want_pli.store(true, Ordering::Relaxed);
            }
        }
        for picture in pictures {
            let now_ms = unix_ms();
            let stamp = stamp::read(&picture);
            let elapsed = shared.elapsed_ms();
            let mut c = shared.counters.lock();
            let v = &mut c.stats.video_in;
            v.frames_decoded += 1;
            v.width = picture.width;
            v.height = picture.height;
            if let Some(s) = stamp {
                v.stamps_read += 1;
                v.first_counter.get_or_insert(s.counter);
                v.last_counter = Some(s.counter);
                match last_counter {
                    Some(prev) if s.counter <= prev => v.out_of_order += 1,
                    Some(prev) => v.counter_gaps += u64::from(s.counter - prev - 1),
                    None => {}
                }
                last_counter = Some(s.counter);
                let latency = now_ms as f64 - s.captured_ms as f64;
                c.latencies_ms.push(latency);
            }
            if c.stats.first_frame_after_ms.is_none() {
                c.stats.first_frame_after_ms = Some(elapsed);
            }
            c.decoded_at.push_back(Instant::now());
            while c
                .decoded_at
                .front()
                .is_some_and(|t| t.elapsed() > Duration::from_secs(2))
            {
                c.decoded_at.pop_front();
            }
            record(&shared, &mut c, &picture);
            drop(c);
            if shared.options.echo {
                *shared.echo_video.lock() = Some(picture);
            }
        }
    }
}

/// Append a received picture to `record_dir/received.y4m`.
fn record(shared: &Shared, c: &mut Counters, picture: &VideoFrame) {
    let Some(dir) = &shared.options.record_dir else {
        return;
    };
    if c.recorder.is_none() {
        let path = dir.join(format!("received-{}x{}.y4m", picture.width, picture.height));
        let opened = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::File::create(&path))
            .and_then(|file| {
                Y4mWriter::new(
                    BufWriter::new(file),
                    Y4mHeader {
                        width: picture.width,
                        height: picture.height,
                        fps_num: shared.options.fps.max(1),
                        fps_den: 1,
                        colour: picture.colour,
                    },
                )
            });
        match opened {
            Ok(writer) => c.recorder = Some((writer, path)),
            Err(e) => {
                tracing::error!("recording to {}: {e}", path.display());
                return;
            }
        }
    }
    if let Some((writer, path)) = c.recorder.as_mut() {
        match writer.write(picture) {
            Ok(()) => c.stats.video_in.recorded += 1,
            // A size change mid-call: the recording keeps the first size.
            Err(e) => tracing::debug!("recording to {}: {e}", path.display()),
        }
    }
}

/// The offerer's two channels.
pub(crate) async fn create_data_channels(
    shared: &Arc<Shared>,
    pc: &Arc<dyn PeerConnection>,
) -> Result<(), CallError> {
    let control = pc
        .create_data_channel(
            "control",
            Some(RTCDataChannelInit {
                ordered: true,
                ..Default::default()
            }),
        )
        .await?;
    let pointer = pc
        .create_data_channel(
            "pointer",
            Some(RTCDataChannelInit {
                ordered: false,
                max_retransmits: Some(0),
                ..Default::default()
            }),
        )
        .await?;
    let bulk = pc
        .create_data_channel(
            "bulk",
            Some(RTCDataChannelInit {
                ordered: true,
                ..Default::default()
            }),
        )
        .await?;
    adopt_data_channel(shared.clone(), control).await;
    adopt_data_channel(shared.clone(), pointer).await;
    adopt_data_channel(shared.clone(), bulk).await;
    Ok(())
}

/// The data channels a call knows, by label.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Channel {
    Control,
    Pointer,
    Bulk,
}

impl Channel {
    fn slot(self, shared: &Shared) -> &Mutex<Option<Arc<dyn DataChannel>>> {
        match self {
            Channel::Control => &shared.control,
            Channel::Pointer => &shared.pointer,
            Channel::Bulk => &shared.bulk,
        }
    }
}

/// Read a data channel on its own task; it is usable once open.
pub(crate) async fn adopt_data_channel(shared: Arc<Shared>, channel: Arc<dyn DataChannel>) {
    let label = channel.label().await.unwrap_or_default();
    let kind = match label.as_str() {
        "control" => Channel::Control,
        "pointer" => Channel::Pointer,
        "bulk" => Channel::Bulk,
        other => {
            tracing::warn!("ignoring a data channel named {other:?}");
            return;
        }
    };
    let opened = {
        let shared = shared.clone();
        let channel = channel.clone();
        move || {
            kind.slot(&shared).lock().replace(channel.clone());
            if kind == Channel::Bulk && shared.options.bulk_send {
                tokio::spawn(fill_bulk(shared.clone(), channel.clone()));
            }
        }
    };
    let mut is_open = channel.ready_state().await.ok() == Some(RTCDataChannelState::Open);
    if is_open {
        opened();
    }
    let reader = channel.clone();
    tokio::spawn(async move {
        let mut bulk_first: Option<Instant> = None;
        while let Some(event) = reader.poll().await {
            match event {
                DataChannelEvent::OnOpen if !is_open => {
                    is_open = true;
                    opened();
                }
                DataChannelEvent::OnMessage(message) => match kind {
                    Channel::Control => {
                        let text = String::from_utf8_lossy(&message.data).into_owned();
                        on_control(&shared, &reader, text).await;
                    }
                    Channel::Pointer => shared.counters.lock().stats.data.pointer_received += 1,
                    Channel::Bulk => {
                        let now = Instant::now();
                        let first = *bulk_first.get_or_insert(now);
                        let mut c = shared.counters.lock();
                        let d = &mut c.stats.data;
                        d.bulk_bytes_received += message.data.len() as u64;
                        let secs = now.duration_since(first).as_secs_f64();
                        if secs > 0.5 {
                            d.bulk_mbit_s = Some(d.bulk_bytes_received as f64 * 8.0 / secs / 1e6);
                        }
                    }
                },
                DataChannelEvent::OnClose => break,
                _ => {}
            }
        }
        kind.slot(&shared).lock().take();
    });
}

/// Send 64 KiB messages on `bulk` for as long as the call lasts; `send`
/// waits while the channel's buffer is full, so this runs at the rate SCTP
/// drains it.
async fn fill_bulk(shared: Arc<Shared>, channel: Arc<dyn DataChannel>) {
    let block = BytesMut::from(&vec![0x5a_u8; 64 * 1024][..]);
    while !call_over(&shared) {
        if channel.send(block.clone()).await.is_err() {
            return;
        }
        shared.counters.lock().stats.data.bulk_bytes_sent += block.len() as u64;
    }
}

async fn on_control(shared: &Shared, channel: &Arc<dyn DataChannel>, text: String) {
    shared.counters.lock().stats.data.control_received += 1;
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    match value.get("type").and_then(|t| t.as_str()) {
        Some("ping") => {
            let t = value.get("t").cloned().unwrap_or_default();
            let reply = serde_json::json!({"type": "pong", "t": t}).to_string();
            if channel.send_text(&reply).await.is_ok() {
                shared.counters.lock().stats.data.control_sent += 1;
            }
        }
        Some("pong") => {
            if let Some(t) = value.get("t").and_then(|t| t.as_f64()) {
                let rtt = shared.elapsed_ms() - t;
                shared.counters.lock().control_rtts_ms.push(rtt);
            }
        }
        _ => {
            let _ = shared.events.send(CallEvent::Control(text));
        }
    }
}

pub(crate) async fn send_on(
    slot: &Mutex<Option<Arc<dyn DataChannel>>>,
    text: &str,
) -> Result<(), CallError> {
    let channel = slot.lock().clone().ok_or(CallError::NotOpen)?;
    channel.send_text(text).await?;
    Ok(())
}

/// Transport figures from webrtc-rs's statistics.
pub(crate) fn fill_transport(out: &mut TransportStats, report: &RTCStatsReport) {
    for pair in report.candidate_pairs() {
        if !pair.nominated {
            continue;
        }
        out.rtt_ms = Some(pair.current_round_trip_time * 1e3);
        out.bytes_sent = pair.bytes_sent;
        out.bytes_received = pair.bytes_received;
        // webrtc-rs 0.21 names the candidate in the pair without the
        // "RTCLocalIceCandidate_" prefix its candidate entries carry.
        let wanted = &pair.local_candidate_id;
        let local = report.iter().find_map(|entry| match entry {
            RTCStatsReportEntry::LocalCandidate(c)
                if c.stats.id == *wanted
                    || c.stats
                        .id
                        .strip_suffix(wanted.as_str())
                        .is_some_and(|p| p.ends_with('_')) =>
            {
                Some(c)
            }
            _ => None,
        });
        match local {
            Some(c) => out.local_candidate_type = Some(c.candidate_type.to_string()),
            None => tracing::debug!(
                id = %pair.local_candidate_id,
                known = ?report
                    .iter()
                    .filter_map(|e| match e {
                        RTCStatsReportEntry::LocalCandidate(c) => Some(c.stats.id.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                "the selected pair's local candidate is not in the report"
            ),
        }
    }
    let mut jitter: Option<f64> = None;
    for inbound in report.inbound_rtp_streams() {
        let r = &inbound.received_rtp_stream_stats;
        out.packets_received += r.packets_received;
        out.packets_lost += r.packets_lost;
        if r.rtp_stream_stats.kind == RtpCodecKind::Video {
            out.video_packets_received += r.packets_received;
            out.video_packets_lost += r.packets_lost;
        }
        // webrtc-rs 0.21 documents `jitter` in seconds but fills it with
        // the receiver report's value, in RTP timestamp units.
        let clock = match r.rtp_stream_stats.kind {
            RtpCodecKind::Audio => 48_000.0,
            _ => 90_000.0,
        };
        let ms = r.jitter / clock * 1e3;
        jitter = Some(jitter.unwrap_or(0.0).max(ms));
    }
    out.jitter_ms = jitter;
}
