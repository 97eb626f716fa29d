//! Receiving: each remote track read on a task of its own (webrtc-rs drops
//! packets from a track nobody drains), video frames assembled by our
//! frame buffer and handed to the call's sink — decoded on a thread of
//! their own, or forwarded as they arrived — and sound decoded into the
//! call's audio sink.

use crate::codecs::SessionCodecs;
use crate::depacketize::{Assembled, FrameAssembler, assembler_for};
use crate::flag::Flag;
use crate::media::{AudioSink, CodedFrameSink, PictureSink, VideoReceive};
use crate::reports::{AudioReport, DecodeReport, FrameRate, VideoArrivalReport};
use crate::state::CallState;
use crate::tracks::codec_threads;
use bytes::Bytes;
use kh_media::audio::OpusDecoder;
use kh_media::{PictureLimit, VideoCodec, VideoDecoder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Compressed frames waiting for the decoder: the frame buffer's longest
/// wait (300 ms) at 30 fps. Short, so a decoder that falls behind drops
/// frames and asks for a keyframe rather than showing ever older pictures;
/// not shorter than the burst the frame buffer releases when a
/// retransmitted packet completes a frame it waited for (at 3, that burst
/// on a lossy island link was refused and turned each recovered loss into
/// a keyframe request).
const DECODER_QUEUE: usize = 10;

/// The least time between two keyframe requests (PLI) of ours.
const PLI_GAP: Duration = Duration::from_millis(300);

/// Where what arrives goes, until the track that carries it comes.
pub(crate) struct Receivers {
    pub video: Option<VideoReceive>,
    pub audio: Option<Box<dyn AudioSink>>,
    pub codecs: watch::Receiver<SessionCodecs>,
    /// Raised when whoever shows the video lost a frame, or the path came
    /// back: ask the far end for a keyframe.
    pub ask_keyframe: Flag,
    pub hardware: bool,
    /// The largest picture the far side may send (frames declaring more
    /// are refused before decoding).
    pub picture_limit: PictureLimit,
    pub started: Instant,
    pub arrival: watch::Sender<VideoArrivalReport>,
    pub decode: watch::Sender<DecodeReport>,
    pub fps: watch::Sender<f64>,
    pub audio_report: watch::Sender<AudioReport>,
    pub state: watch::Receiver<CallState>,
    /// The tasks reading tracks: the session waits for them when the call
    /// ends, so every sink has heard the end before hang-up returns.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Receivers {
    /// A remote track arrived: read it on a task of its own. A second
    /// track of a kind already received (a peer that adds one) is read and
    /// dropped: the call shows one of each.
    pub async fn receive(&mut self, track: Arc<dyn TrackRemote>) {
        let state = self.state.clone();
        let task = match track.kind().await {
            RtpCodecKind::Audio => match self.audio.take() {
                Some(sink) => {
                    tokio::spawn(receive_audio(track, sink, self.audio_report.clone(), state))
                }
                None => tokio::spawn(drain(track, "audio", state)),
            },
            RtpCodecKind::Video => match self.video.take() {
                Some(sink) => {
                    let context = VideoContext {
                        codecs: self.codecs.clone(),
                        ask_keyframe: self.ask_keyframe.clone(),
                        hardware: self.hardware,
                        picture_limit: self.picture_limit,
                        started: self.started,
                        arrival: self.arrival.clone(),
                        decode: self.decode.clone(),
                        fps: self.fps.clone(),
                        state,
                    };
                    tokio::spawn(receive_video(track, sink, context))
                }
                None => tokio::spawn(drain(track, "video", state)),
            },
            _ => return,
        };
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(task);
    }

    /// Wait (a little) for every track's task to end once the call has.
    pub async fn ended(&mut self) {
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(TASK_END, task).await;
        }
    }
}

/// How long the end of a call waits for a track's task to finish.
const TASK_END: Duration = Duration::from_secs(2);

/// The next event of `track`, or `None` once the track or the call ends.
async fn next_event(
    track: &Arc<dyn TrackRemote>,
    state: &mut watch::Receiver<CallState>,
) -> Option<TrackRemoteEvent> {
    tokio::select! {
        event = track.poll() => match event {
            Some(TrackRemoteEvent::OnEnded) | None => None,
            other => other,
        },
        _ = state.wait_for(|s| matches!(s, CallState::Closed | CallState::Failed)) => None,
    }
}

/// Read a track nobody shows, so webrtc-rs's queue for it never fills.
async fn drain(track: Arc<dyn TrackRemote>, kind: &str, mut state: watch::Receiver<CallState>) {
    tracing::warn!("the far side sent a second {kind} track: it is not shown");
    while next_event(&track, &mut state).await.is_some() {}
}

async fn receive_audio(
    track: Arc<dyn TrackRemote>,
    mut sink: Box<dyn AudioSink>,
    report: watch::Sender<AudioReport>,
    mut state: watch::Receiver<CallState>,
) {
    let mut decoder = match OpusDecoder::new(false) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("audio decoder: {e}");
            return;
        }
    };
    while let Some(event) = next_event(&track, &mut state).await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        if packet.payload.is_empty() {
            continue;
        }
        match decoder.decode(&packet.payload) {
            Ok(pcm) => {
                report.send_modify(|r| r.packets += 1);
                sink.play(&pcm);
            }
            Err(_) => report.send_modify(|r| {
                r.packets += 1;
                r.undecodable += 1;
            }),
        }
    }
}

/// What a video track's task needs besides its sink.
struct VideoContext {
    codecs: watch::Receiver<SessionCodecs>,
    ask_keyframe: Flag,
    hardware: bool,
    picture_limit: PictureLimit,
    started: Instant,
    arrival: watch::Sender<VideoArrivalReport>,
    decode: watch::Sender<DecodeReport>,
    fps: watch::Sender<f64>,
    state: watch::Receiver<CallState>,
}

/// Where assembled frames go from the track's task.
enum FrameOut {
    /// To the decoder's thread, through a short queue.
    Decoder(std::sync::mpsc::SyncSender<(VideoCodec, Bytes)>),
    Forward(Box<dyn CodedFrameSink>),
}

async fn receive_video(track: Arc<dyn TrackRemote>, sink: VideoReceive, context: VideoContext) {
    let VideoContext {
        codecs,
        ask_keyframe,
        hardware,
        picture_limit,
        started,
        arrival,
        decode,
        fps,
        mut state,
    } = context;
    // The decoder asks for keyframes too (a frame it could not decode).
    let mut out = match sink {
        VideoReceive::Forward(sink) => FrameOut::Forward(sink),
        VideoReceive::Decode(pictures) => {
            let (frames_tx, frames_rx) = std::sync::mpsc::sync_channel(DECODER_QUEUE);
            let decoder = Decoding {
                pictures,
                ask_keyframe: ask_keyframe.clone(),
                hardware,
                picture_limit,
                started,
                report: decode,
                fps: fps.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name("kh-video-decode".into())
                .spawn(move || decoder.run(frames_rx));
            if let Err(e) = spawned {
                tracing::error!("video: starting the decoder thread: {e}");
                return;
            }
            FrameOut::Decoder(frames_tx)
        }
    };
    let mut forwarded_rate = FrameRate::default();
    // The payload type being received, its codec and frame buffer: a peer
    // may change codec mid-call (Chromium does on setParameters or when a
    // hardware encoder fails), and the payload type says so.
    let mut current: Option<(u8, VideoCodec, Box<dyn FrameAssembler>)> = None;
    let mut last_pli: Option<Instant> = None;
    while let Some(event) = next_event(&track, &mut state).await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        let now = Instant::now();
        let ssrc = packet.header.ssrc;
        let pt = packet.header.payload_type;
        if current.as_ref().is_none_or(|(p, ..)| *p != pt) {
            let Some(codec) = codecs.borrow().video_in.get(&pt).copied() else {
                tracing::debug!("video: payload type {pt} is not a negotiated video codec");
                continue;
            };
            tracing::info!(codec = codec.mime(), "video: receiving");
            arrival.send_modify(|r| r.codec = codec.mime().to_owned());
            if current.is_some() {
                // A switch: make sure the new stream starts from a keyframe.
                ask_keyframe.raise();
            }
            current = Some((pt, codec, assembler_for(codec)));
        }
        let Some((_, codec, frames)) = current.as_mut() else {
            continue;
        };
        frames.push(packet, now);
        while let Some(assembled) = frames.pop(now) {
            let delivered = match assembled {
                Assembled::Frame(data) => {
                    // Goodput: media that arrived whole, whatever then
                    // becomes of it.
                    let bytes = data.len() as u64;
                    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
                    arrival.send_modify(|r| r.bytes += bytes);
                    match &mut out {
                        FrameOut::Forward(sink) => {
                            sink.frame(*codec, &data);
                            arrival.send_modify(|r| {
                                r.frames_forwarded += 1;
                                r.first_frame_after_ms.get_or_insert(elapsed_ms);
                            });
                            if let Some(rate) = forwarded_rate.frame(now) {
                                fps.send_replace(rate);
                            }
                            true
                        }
                        FrameOut::Decoder(queue) => {
                            let queued = queue.try_send((*codec, data)).is_ok();
                            if !queued {
                                tracing::debug!("video: the decoder is behind; a frame is dropped");
                            }
                            queued
                        }
                    }
                }
                Assembled::Lost => {
                    tracing::debug!("video: a frame was lost on the way");
                    false
                }
            };
            if !delivered {
                // Lost on the way, or the decoder is behind: what follows
                // needs a fresh start.
                arrival.send_modify(|r| r.frames_dropped += 1);
                ask_keyframe.raise();
            }
        }
        if ask_keyframe.is_raised() && last_pli.is_none_or(|t| now.duration_since(t) > PLI_GAP) {
            ask_keyframe.take();
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
    if let FrameOut::Forward(mut sink) = out {
        sink.ended();
    }
}

/// The decoder's thread: frames in, pictures to the sink.
struct Decoding {
    pictures: Box<dyn PictureSink>,
    ask_keyframe: Flag,
    hardware: bool,
    picture_limit: PictureLimit,
    started: Instant,
    report: watch::Sender<DecodeReport>,
    fps: watch::Sender<f64>,
}

impl Decoding {
    fn run(mut self, frames: std::sync::mpsc::Receiver<(VideoCodec, Bytes)>) {
        // The decoder and its thread count: threads for 1080p until
        // pictures show the size; a larger stream (4K, 8K) gets a decoder
        // with more threads, which starts again from a keyframe.
        let mut decoder: Option<(VideoDecoder, u32)> = None;
        let mut threads = codec_threads(1920, 1080);
        let mut rate = FrameRate::default();
        while let Ok((codec, data)) = frames.recv() {
            if decoder
                .as_ref()
                .is_none_or(|(d, t)| d.codec() != codec || *t != threads)
            {
                let open = if self.hardware {
                    VideoDecoder::preferring_hardware_with_limit
                } else {
                    VideoDecoder::with_limit
                };
                decoder = match open(codec, threads, self.picture_limit) {
                    Ok(d) => {
                        self.report.send_modify(|r| {
                            r.decoder = d.implementation().to_owned();
                            r.hardware = d.is_hardware();
                        });
                        Some((d, threads))
                    }
                    Err(e) => {
                        tracing::error!("video decoder: {e}");
                        continue;
                    }
                };
            }
            let Some((decoder, _)) = decoder.as_mut() else {
                continue;
            };
            let pictures = match decoder.decode(&data) {
                Ok(p) => p,
                Err(e) => {
                    tracing::debug!("video: a frame did not decode: {e}");
                    self.report.send_modify(|r| r.frames_undecodable += 1);
                    self.ask_keyframe.raise();
                    continue;
                }
            };
            // A hardware decoder that handed over to software says so.
            if self.report.borrow().decoder != decoder.implementation() {
                self.report.send_modify(|r| {
                    r.decoder = decoder.implementation().to_owned();
                    r.hardware = decoder.is_hardware();
                });
            }
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
                    self.ask_keyframe.raise();
                }
            }
            for picture in pictures {
                let elapsed_ms = self.started.elapsed().as_secs_f64() * 1e3;
                self.report.send_modify(|r| {
                    r.frames_decoded += 1;
                    r.width = picture.width;
                    r.height = picture.height;
                    r.first_frame_after_ms.get_or_insert(elapsed_ms);
                });
                if let Some(fps) = rate.frame(Instant::now()) {
                    self.fps.send_replace(fps);
                }
                self.pictures.picture(&picture);
            }
        }
    }
}
