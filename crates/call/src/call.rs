//! A call: its settings, its state as people see it, and the handle that
//! starts it with its media and asks it for statistics, mute, camera off,
//! keyframes and hang-up. The work happens in tasks the handle starts:
//! the session (signalling, negotiation, state), one per direction of each
//! medium, one per data channel.

use crate::channels::ChannelSet;
use crate::codecs::{self, SessionCodecs};
use crate::congestion::EstimateCell;
use crate::flag::Flag;
use crate::interceptors::paced_sender::SenderCounters;
use crate::media::{CallMedia, VideoSend};
use crate::options::CallOptions;
use crate::receive::Receivers;
use crate::reports::{Reports, reporters};
use crate::send_audio::{AudioSender, send_audio};
use crate::send_video::{EncodeSettings, Outgoing, VideoSender, send_video};
use crate::session::{Keyframes, Session, SessionCommand};
use crate::signalling;
use crate::state::{CallError, CallEvent, CallState};
use crate::stats::CallStats;
use crate::tracks::local_track;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::PeerConnection;

/// A running call.
pub struct Call {
    pc: Arc<dyn PeerConnection>,
    pub events: mpsc::UnboundedReceiver<CallEvent>,
    state: watch::Receiver<CallState>,
    session: mpsc::UnboundedSender<SessionCommand>,
    session_task: tokio::task::JoinHandle<()>,
    muted: watch::Sender<bool>,
    camera_off: watch::Sender<bool>,
    /// Our encoder should make a keyframe.
    keyframe: Flag,
    /// The far end should be asked for one.
    ask_keyframe: Flag,
    reports: Reports,
    room: String,
    started: Instant,
    /// The transport's byte counts at the last statistics, for the rates.
    last_transport: Option<(Instant, u64, u64)>,
}

impl Call {
    /// Join the room and start calling whoever is, or comes, there, with
    /// `media` as what the call carries.
    pub async fn start(options: CallOptions, media: CallMedia) -> Result<Call, CallError> {
        let started = Instant::now();
        let CallMedia {
            video_send,
            video_receive,
            audio_in,
            audio_out,
            channels,
        } = media;
        // A coded stream goes out in its own codec.
        let mut options = options;
        if let VideoSend::Coded(source) = &video_send {
            options.codec = source.codec();
        }
        let connection = signalling::join(&options.server, &options.token, &options.name).await?;
        let welcome = connection.welcome.clone();
        tracing::info!(room = %kh_log::tag(&welcome.room), peer = %welcome.peer_id, "joined");

        let (reporters, mut reports) = reporters();
        let estimate = options.congestion_control.then(|| {
            Arc::new(EstimateCell::starting_at(
                f64::from(options.bitrate_kbps) * 1e3,
            ))
        });
        let sender_counters = Arc::new(SenderCounters::default());
        reports.estimate = estimate.clone().map(|cell| (cell, sender_counters.clone()));
        let (peer_tx, peer_rx) = mpsc::unbounded_channel();
        let pc = crate::peer::connect(
            &options,
            &welcome.ice_servers,
            estimate.clone().map(|cell| (cell, sender_counters.clone())),
            reports.udp_receive_buffer.clone(),
            peer_tx,
        )
        .await?;

        let (state_tx, state) = watch::channel(CallState::Waiting);
        let (codecs_tx, codecs) = watch::channel(SessionCodecs::default());
        let (muted, muted_rx) = watch::channel(false);
        let (camera_off, camera_off_rx) = watch::channel(false);
        let keyframe = Flag::raised();
        let ask_keyframe = Flag::default();

        // Our tracks, before negotiating: one offer carries everything. A
        // video transceiver even when we send none, so that our offer can
        // receive; its preferences list every codec we decode, ours first
        // (webrtc-rs would otherwise offer only the track's codec).
        let init = |direction| RTCRtpTransceiverInit {
            direction,
            streams: vec![],
            send_encodings: vec![],
        };
        let outgoing = match video_send {
            VideoSend::None => None,
            VideoSend::Pictures(source) => Some(Outgoing::Pictures(
                source,
                EncodeSettings {
                    codec: options.codec,
                    fps: options.fps,
                    bitrate_kbps: options.bitrate_kbps,
                    max_bitrate_kbps: options.max_bitrate_kbps,
                    hardware: options.hardware_codecs,
                },
            )),
            VideoSend::Coded(source) => Some(Outgoing::Coded(source)),
        };
        let transceiver = match outgoing {
            Some(outgoing) => {
                let track = local_track(
                    RtpCodecKind::Video,
                    codecs::rtp_codec(options.codec, vec![]),
                )?;
                let transceiver = pc
                    .add_transceiver_from_track(
                        track.clone() as Arc<dyn TrackLocal>,
                        Some(init(RTCRtpTransceiverDirection::Sendrecv)),
                    )
                    .await?;
                let sender = VideoSender {
                    outgoing,
                    estimate,
                    keyframe: keyframe.clone(),
                    camera_off: camera_off_rx,
                    state: state.clone(),
                    codecs: codecs.clone(),
                    report: reporters.video_send,
                    keyframe_requests: reporters.keyframe_requests,
                };
                tokio::spawn(send_video(sender, track));
                transceiver
            }
            None => {
                pc.add_transceiver_from_kind(
                    RtpCodecKind::Video,
                    Some(init(RTCRtpTransceiverDirection::Recvonly)),
                )
                .await?
            }
        };
        transceiver
            .set_codec_preferences(codecs::video_preferences(options.codec))
            .await?;
        let audio_track = local_track(RtpCodecKind::Audio, crate::peer::opus())?;
        pc.add_track(audio_track.clone() as Arc<dyn TrackLocal>)
            .await?;
        tokio::spawn(send_audio(
            AudioSender {
                source: audio_in,
                muted: muted_rx,
                state: state.clone(),
                codecs: codecs.clone(),
                report: reporters.audio_sent,
            },
            audio_track,
        ));

        let channel_set = ChannelSet::new(channels, started);
        reports.channels = channel_set.reports();
        reports.keepalive = Some(channel_set.keepalive());
        let receivers = Receivers {
            video: Some(video_receive),
            audio: Some(audio_out),
            codecs: codecs.clone(),
            ask_keyframe: ask_keyframe.clone(),
            hardware: options.hardware_codecs,
            picture_limit: options.picture_limit,
            started,
            arrival: reporters.arrival,
            decode: reporters.decode,
            fps: reporters.video_in_fps,
            audio_report: reporters.audio_received,
            state: state.clone(),
            tasks: Vec::new(),
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let session = Session::new(
            pc.clone(),
            connection.outbox.clone(),
            events_tx,
            state_tx,
            reporters.link,
            codecs_tx,
            options.codec,
            started,
            channel_set,
            receivers,
            Keyframes {
                send: keyframe.clone(),
                ask: ask_keyframe.clone(),
            },
        );
        let (commands, commands_rx) = mpsc::unbounded_channel();
        // We joined last, so we offer: to our counterpart (the specialist
        // for a presenter, and back), if it is here; observers and peers
        // of our own role are not called.
        let first = welcome
            .participants
            .iter()
            .find(|p| crate::session::counterparts(welcome.role, p.role))
            .cloned();
        let roles = crate::session::RoomRoles {
            me: Some(welcome.role),
            peers: welcome
                .participants
                .iter()
                .map(|p| (p.peer_id.clone(), p.role))
                .collect(),
        };
        let session_task =
            tokio::spawn(session.run(connection.inbox, peer_rx, commands_rx, first, roles));
        Ok(Call {
            pc,
            events,
            state,
            session: commands,
            session_task,
            muted,
            camera_off,
            keyframe,
            ask_keyframe,
            reports,
            room: welcome.room.clone(),
            started,
            last_transport: None,
        })
    }

    /// The room the token admitted us to.
    pub fn room(&self) -> &str {
        &self.room
    }

    pub fn state(&self) -> CallState {
        *self.state.borrow()
    }

    /// When the call started (joining the room): the clock of its
    /// statistics.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Mute or unmute what we send as audio.
    pub fn set_microphone_muted(&self, muted: bool) {
        self.muted.send_replace(muted);
        tracing::info!(muted, "microphone");
    }

    /// Turn our video off (black frames; the stream stays negotiated, as a
    /// browser's disabled track does, so turning it on needs no
    /// renegotiation) or on again.
    pub fn set_camera_off(&self, off: bool) {
        self.camera_off.send_replace(off);
        // The far side's decoder shows the change at the next keyframe.
        self.keyframe.raise();
        tracing::info!(off, "camera");
    }

    /// Ask the far end for a keyframe (whoever shows our received video
    /// lost a frame).
    pub fn request_keyframe(&self) {
        self.ask_keyframe.raise();
    }

    /// Everything measured so far, with fresh transport figures.
    pub async fn stats(&mut self) -> CallStats {
        let report = self
            .pc
            .get_stats(Instant::now(), webrtc::peer_connection::StatsSelector::None)
            .await;
        self.stats_with(&report)
    }

    /// The statistics from the reports as they are now and a transport
    /// `report` taken earlier, with the transport's rates over the interval
    /// since the last statistics (or since connecting).
    fn stats_with(&mut self, report: &webrtc::peer_connection::RTCStatsReport) -> CallStats {
        let mut stats = self.reports.compose(self.state().as_str(), report);
        let now = Instant::now();
        let since = self.last_transport.or_else(|| {
            stats
                .connected_after_ms
                .map(|ms| (self.started + Duration::from_secs_f64(ms / 1e3), 0, 0))
        });
        if let Some((at, sent, received)) = since {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                let t = &mut stats.transport;
                t.bitrate_out_kbps = t.bytes_sent.saturating_sub(sent) as f64 * 8.0 / secs / 1e3;
                t.bitrate_in_kbps =
                    t.bytes_received.saturating_sub(received) as f64 * 8.0 / secs / 1e3;
            }
        }
        self.last_transport = Some((
            now,
            stats.transport.bytes_sent,
            stats.transport.bytes_received,
        ));
        stats
    }

    /// Leave the room and close the connection; the final statistics.
    pub async fn hang_up(mut self) -> CallStats {
        // The transport's figures while it is open; the reports once
        // everything has stopped.
        let report = self
            .pc
            .get_stats(Instant::now(), webrtc::peer_connection::StatsSelector::None)
            .await;
        let state = self.state();
        let (done, closed) = oneshot::channel();
        if self.session.send(SessionCommand::HangUp(done)).is_ok() {
            let _ = closed.await;
        } else {
            let _ = self.pc.close().await;
        }
        self.session_task.abort();
        let mut stats = self.stats_with(&report);
        stats.state = state.as_str().to_owned();
        stats
    }
}
