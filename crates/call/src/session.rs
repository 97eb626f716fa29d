//! The call's session: one task that reads the signalling connection and
//! what the peer connection reports, and drives offer/answer, candidates,
//! ICE restarts and the call's state. It is the only writer of the state
//! and of who the call is with.
//!
//! Who offers: the peer that joins second (it sees someone in the welcome's
//! participant list) sends the offer; the first waits. Both add their audio
//! and video tracks before negotiating, so one offer/answer carries
//! everything; the offerer creates the data channels.

use crate::channels::{ChannelSet, Delivery};
use crate::codecs::SessionCodecs;
use crate::flag::Flag;
use crate::receive::Receivers;
use crate::reports::LinkReport;
use crate::signalling::SignalError;
use crate::state::{CallError, CallEvent, CallState};
use kh_media::VideoCodec;
use kh_signal_protocol::{ClientMessage, Role, ServerMessage};
use rtc::data_channel::RTCDataChannelInit;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription,
};

/// What the peer connection reports, forwarded by its event handler.
pub(crate) enum PeerEvent {
    LocalCandidate(RTCIceCandidateInit),
    ConnectionState(RTCPeerConnectionState),
    DataChannel(Arc<dyn DataChannel>),
    Track(Arc<dyn TrackRemote>),
}

/// Asked of the session by the call's handle.
pub(crate) enum SessionCommand {
    /// Leave the room, close the connection, and say when done.
    HangUp(oneshot::Sender<()>),
}

/// Between ICE restart attempts: doubling from the first, at most the last.
pub const RESTART_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(16));
/// Restarts stop, and the call is failed, after this long without a path.
pub const RESTART_GIVE_UP: Duration = Duration::from_secs(180);
/// How often the local addresses are looked at for a network change.
pub const NETWORK_CHECK: Duration = Duration::from_secs(1);
/// Remote candidates held until the remote description arrives, at most.
/// A browser or `kh call` gathers a handful per interface and relay (a
/// laptop with Wi-Fi, VPN and TURN: ~15); a peer sending thousands before
/// its offer is not gathering, and what is over this is dropped.
pub const MAX_HELD_CANDIDATES: usize = 128;

/// ICE restarts after the path failed, with backoff.
#[derive(Debug, Clone, Copy)]
struct Restart {
    attempts: u32,
    next: tokio::time::Instant,
    since: tokio::time::Instant,
}

impl Restart {
    fn backoff(attempts: u32) -> Duration {
        let (first, most) = RESTART_BACKOFF;
        first
            .saturating_mul(1 << attempts.saturating_sub(1).min(16))
            .min(most)
    }
}

/// The keyframes the session asks for when the path comes back.
#[derive(Clone)]
pub(crate) struct Keyframes {
    /// Our encoder should make one.
    pub send: Flag,
    /// The far end should be asked for one.
    pub ask: Flag,
}

pub(crate) struct Session {
    pub pc: Arc<dyn PeerConnection>,
    pub outbox: mpsc::UnboundedSender<ClientMessage>,
    pub events: mpsc::UnboundedSender<CallEvent>,
    pub state: watch::Sender<CallState>,
    pub link: watch::Sender<LinkReport>,
    pub codecs: watch::Sender<SessionCodecs>,
    pub our_codec: VideoCodec,
    pub started: Instant,
    pub channels: ChannelSet,
    pub receivers: Receivers,
    pub keyframes: Keyframes,
    /// The peer the call is with, once there is one.
    pub remote: Option<String>,
    /// Candidates that came before the remote description.
    pub pending: Vec<RTCIceCandidateInit>,
    pub have_remote: bool,
    /// We made the call's offer: ICE restarts are ours to offer (the other
    /// side asks for one with `ice_restart`).
    pub offerer: bool,
    restart: Option<Restart>,
    was_connected: bool,
    /// Who is in the room by peer id, and our own role: a call is between
    /// the presenter and the specialist, never whoever came first.
    roles: RoomRoles,
}

/// The roles in the room, as the server announced them.
#[derive(Debug, Default)]
pub struct RoomRoles {
    pub me: Option<Role>,
    pub peers: std::collections::HashMap<String, Role>,
}

impl RoomRoles {
    /// Whether `peer` is the one our call is with: the presenter for a
    /// specialist, the specialist for a presenter. An observer (or a peer
    /// we were not told of) is nobody's counterpart: it cannot take the
    /// call, by offering or by being offered to.
    pub fn is_counterpart(&self, peer: &str) -> bool {
        match (self.me, self.peers.get(peer)) {
            (Some(me), Some(&them)) => counterparts(me, them),
            _ => false,
        }
    }
}

/// Whether roles `a` and `b` make a call.
pub fn counterparts(a: Role, b: Role) -> bool {
    matches!(
        (a, b),
        (Role::Presenter, Role::Specialist) | (Role::Specialist, Role::Presenter)
    )
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pc: Arc<dyn PeerConnection>,
        outbox: mpsc::UnboundedSender<ClientMessage>,
        events: mpsc::UnboundedSender<CallEvent>,
        state: watch::Sender<CallState>,
        link: watch::Sender<LinkReport>,
        codecs: watch::Sender<SessionCodecs>,
        our_codec: VideoCodec,
        started: Instant,
        channels: ChannelSet,
        receivers: Receivers,
        keyframes: Keyframes,
    ) -> Session {
        Session {
            pc,
            outbox,
            events,
            state,
            link,
            codecs,
            our_codec,
            started,
            channels,
            receivers,
            keyframes,
            remote: None,
            pending: Vec::new(),
            have_remote: false,
            offerer: false,
            restart: None,
            was_connected: false,
            roles: RoomRoles::default(),
        }
    }

    fn set_state(&mut self, state: CallState) {
        let mut previous = state;
        if !self.state.send_if_modified(|current| {
            previous = *current;
            *current = state;
            previous != state
        }) {
            return;
        }
        tracing::info!(state = state.as_str(), "call state");
        if state == CallState::Connected {
            self.was_connected = true;
            self.restart = None;
            let elapsed_ms = self.started.elapsed().as_secs_f64() * 1e3;
            let recovered = previous == CallState::Reconnecting;
            self.link.send_modify(|link| {
                link.connected_after_ms.get_or_insert(elapsed_ms);
                if recovered {
                    link.recoveries += 1;
                }
            });
            if recovered {
                // Back from a broken path: whatever was in flight is lost,
                // so each side starts the other from a keyframe at once
                // rather than waiting for its frame buffer to give up.
                self.keyframes.send.raise();
                self.keyframes.ask.raise();
            }
        }
        let _ = self.events.send(CallEvent::State(state));
    }

    pub async fn run(
        mut self,
        mut inbox: mpsc::Receiver<ServerMessage>,
        mut peer: mpsc::UnboundedReceiver<PeerEvent>,
        mut commands: mpsc::UnboundedReceiver<SessionCommand>,
        first: Option<kh_signal_protocol::Participant>,
        roles: RoomRoles,
    ) {
        let _ = self.events.send(CallEvent::State(CallState::Waiting));
        self.roles = roles;
        if let Some(participant) = first {
            self.offerer = true;
            let _ = self.events.send(CallEvent::PeerJoined {
                peer_id: participant.peer_id.clone(),
                name: participant.name.clone(),
            });
            if let Err(e) = self.offer(&participant.peer_id, false).await {
                tracing::error!("making the offer: {e}");
                self.set_state(CallState::Failed);
            }
        }
        let mut addresses = local_addresses();
        let mut look = tokio::time::interval(NETWORK_CHECK);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut signalling_open = true;
        loop {
            let next_restart = self.restart.map(|r| r.next);
            tokio::select! {
                message = inbox.recv(), if signalling_open => match message {
                    Some(message) => {
                        if let Err(e) = self.handle(message).await {
                            tracing::warn!("signalling: {e}");
                        }
                    }
                    None => {
                        tracing::info!("signalling ended");
                        signalling_open = false;
                    }
                },
                event = peer.recv() => match event {
                    Some(event) => self.on_peer(event).await,
                    None => break,
                },
                command = commands.recv() => match command {
                    Some(SessionCommand::HangUp(done)) => {
                        self.hang_up().await;
                        let _ = done.send(());
                        break;
                    }
                    None => {
                        self.hang_up().await;
                        break;
                    }
                },
                () = sleep_until(next_restart) => self.restart_ice().await,
                _ = look.tick() => {
                    let now = local_addresses();
                    if now != addresses {
                        // A network change (a new interface, an address
                        // gone): the path in use may be dead or a better
                        // one may exist, and ICE would take seconds to
                        // notice. Restart now, on the new addresses.
                        tracing::warn!(before = ?addresses, after = ?now, "the network changed: restarting ICE");
                        addresses = now;
                        if self.was_connected {
                            let at = tokio::time::Instant::now();
                            let since = self.restart.map_or(at, |r| r.since);
                            self.restart = Some(Restart { attempts: 0, next: at, since });
                        }
                    }
                }
            }
        }
    }

    async fn hang_up(&mut self) {
        let _ = self.outbox.send(ClientMessage::Leave);
        let _ = self.pc.close().await;
        self.set_state(CallState::Closed);
        // Every sink hears the end before hang-up returns.
        self.receivers.ended().await;
    }

    async fn on_peer(&mut self, event: PeerEvent) {
        match event {
            PeerEvent::LocalCandidate(init) => {
                tracing::debug!(candidate = %init.candidate, "local candidate");
                if let Some(to) = self.remote.clone() {
                    let _ = self.outbox.send(ClientMessage::Candidate {
                        to,
                        candidate: init.candidate,
                        sdp_mid: init.sdp_mid,
                        sdp_mline_index: init.sdp_mline_index,
                    });
                }
            }
            PeerEvent::ConnectionState(state) => self.on_connection_state(state),
            PeerEvent::DataChannel(channel) => self.channels.attach(channel).await,
            PeerEvent::Track(track) => self.receivers.receive(track).await,
        }
    }

    fn on_connection_state(&mut self, state: RTCPeerConnectionState) {
        let ours = match state {
            RTCPeerConnectionState::Connected => CallState::Connected,
            RTCPeerConnectionState::Disconnected => CallState::Reconnecting,
            // A path that failed after the call was up is restarted (the
            // session gives up, and says so, only after a while).
            RTCPeerConnectionState::Failed if self.was_connected => {
                if self.restart.is_none() {
                    tracing::warn!("the path failed: restarting ICE");
                    let now = tokio::time::Instant::now();
                    self.restart = Some(Restart {
                        attempts: 0,
                        next: now,
                        since: now,
                    });
                }
                CallState::Reconnecting
            }
            RTCPeerConnectionState::Failed => CallState::Failed,
            RTCPeerConnectionState::Closed => CallState::Closed,
            // An ICE restart's checks, after the call was up.
            RTCPeerConnectionState::New | RTCPeerConnectionState::Connecting
                if self.was_connected =>
            {
                CallState::Reconnecting
            }
            RTCPeerConnectionState::New | RTCPeerConnectionState::Connecting => {
                CallState::Connecting
            }
            _ => return,
        };
        self.set_state(ours);
    }

    /// One ICE restart attempt, and when the next is due.
    async fn restart_ice(&mut self) {
        let Some(mut restart) = self.restart else {
            return;
        };
        let now = tokio::time::Instant::now();
        // An offer still waiting for its answer (the signalling path is as
        // slow as the media's) is not replaced: its answer would then
        // apply to the wrong one.
        let waiting = self.pc.pending_local_description().await.is_some();
        if restart.attempts > 0 && !waiting && *self.state.borrow() == CallState::Connected {
            // Restarted and connected (a restart after a network change
            // may never have left "connected").
            self.restart = None;
            return;
        }
        if now.duration_since(restart.since) > RESTART_GIVE_UP {
            tracing::error!("no path for {RESTART_GIVE_UP:?}: the call has failed");
            self.restart = None;
            self.set_state(CallState::Failed);
            return;
        }
        let Some(remote) = self.remote.clone() else {
            self.restart = None;
            return;
        };
        if !waiting {
            restart.attempts += 1;
            self.link.send_modify(|link| link.ice_restarts += 1);
            let asked = if self.offerer {
                self.offer(&remote, true).await
            } else {
                self.outbox
                    .send(ClientMessage::IceRestart { to: remote })
                    .map_err(|_| CallError::Signal(SignalError::Closed(String::new())))
            };
            if let Err(e) = asked {
                tracing::warn!("restarting ICE: {e}");
            }
        }
        restart.next = now + Restart::backoff(restart.attempts.max(1));
        self.restart = Some(restart);
    }

    async fn offer(&mut self, to: &str, ice_restart: bool) -> Result<(), CallError> {
        self.remote = Some(to.to_owned());
        if !ice_restart {
            self.set_state(CallState::Connecting);
            self.create_data_channels().await?;
        } else {
            self.pc.restart_ice().await?;
        }
        let offer = self.pc.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        self.pc.set_local_description(offer).await?;
        let _ = self.outbox.send(ClientMessage::Offer {
            to: to.to_owned(),
            sdp,
            ice_restart,
        });
        Ok(())
    }

    /// The offerer creates every channel the call was given.
    async fn create_data_channels(&mut self) -> Result<(), CallError> {
        for (label, delivery) in self.channels.wanted() {
            let init = match delivery {
                Delivery::Reliable => RTCDataChannelInit {
                    ordered: true,
                    ..Default::default()
                },
                Delivery::Latest => RTCDataChannelInit {
                    ordered: false,
                    max_retransmits: Some(0),
                    ..Default::default()
                },
            };
            let channel = self.pc.create_data_channel(label, Some(init)).await?;
            self.channels.attach(channel).await;
        }
        Ok(())
    }

    /// Whether `from` may negotiate with us: anyone until the call has a
    /// remote peer, then only that peer. Another participant's offer would
    /// otherwise be applied to the running call and take it over.
    fn speaks_for_our_call(&self, from: &str, what: &str) -> bool {
        if !self.roles.is_counterpart(from) {
            tracing::warn!(
                from,
                "ignoring {what}: not the presenter or specialist our call is with"
            );
            return false;
        }
        match self.remote.as_deref() {
            Some(current) if current != from => {
                // Peer ids are random room-local handles, not identities.
                tracing::warn!(from, current, "ignoring {what}: already in a call");
                false
            }
            _ => true,
        }
    }

    async fn handle(&mut self, message: ServerMessage) -> Result<(), CallError> {
        match message {
            ServerMessage::Offer { ref from, .. }
                if !self.speaks_for_our_call(from, "an offer") => {}
            ServerMessage::Answer { ref from, .. }
                if !self.speaks_for_our_call(from, "an answer") => {}
            ServerMessage::Candidate { ref from, .. }
                if !self.speaks_for_our_call(from, "a candidate") => {}
            ServerMessage::IceRestart { ref from }
                if !self.speaks_for_our_call(from, "an ICE restart") => {}
            ServerMessage::PeerJoined { participant } => {
                self.roles
                    .peers
                    .insert(participant.peer_id.clone(), participant.role);
                let _ = self.events.send(CallEvent::PeerJoined {
                    peer_id: participant.peer_id,
                    name: participant.name,
                });
            }
            ServerMessage::PeerLeft { peer_id } => {
                if self.remote.as_deref() == Some(peer_id.as_str()) {
                    self.set_state(CallState::Closed);
                }
                let _ = self.events.send(CallEvent::PeerLeft { peer_id });
            }
            ServerMessage::Offer {
                from,
                sdp,
                ice_restart,
            } => {
                self.remote = Some(from.clone());
                if !ice_restart {
                    self.set_state(CallState::Connecting);
                }
                self.pc
                    .set_remote_description(RTCSessionDescription::offer(sdp)?)
                    .await?;
                self.remote_description_set().await;
                let answer = self.pc.create_answer(None).await?;
                let sdp = answer.sdp.clone();
                self.pc.set_local_description(answer).await?;
                let _ = self.outbox.send(ClientMessage::Answer { to: from, sdp });
            }
            ServerMessage::Answer { sdp, .. } => {
                self.pc
                    .set_remote_description(RTCSessionDescription::answer(sdp)?)
                    .await?;
                self.remote_description_set().await;
            }
            ServerMessage::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
                ..
            } => {
                if candidate.is_empty() {
                    return Ok(());
                }
                let init = RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    ..Default::default()
                };
                if self.have_remote {
                    self.pc.add_ice_candidate(init).await?;
                } else if !hold_candidate(&mut self.pending, init) {
                    tracing::debug!("a remote candidate before the offer, past the limit: dropped");
                }
            }
            ServerMessage::IceRestart { from } => {
                // One restart at a time: an offer still waiting for its
                // answer already restarts ICE.
                if self.pc.pending_local_description().await.is_none() {
                    self.link.send_modify(|link| link.ice_restarts += 1);
                    self.offer(&from, true).await?;
                }
            }
            ServerMessage::Chat { from, text, .. } => {
                let _ = self.events.send(CallEvent::Chat { from, text });
            }
            ServerMessage::Error { code, message } => {
                tracing::warn!(?code, "signalling server: {message}");
                if code.is_fatal() {
                    self.set_state(CallState::Failed);
                }
            }
            ServerMessage::Welcome { .. } | ServerMessage::Pong { .. } => {}
        }
        Ok(())
    }

    async fn remote_description_set(&mut self) {
        self.have_remote = true;
        // The payload types our senders use, and which codec each incoming
        // one carries (a peer may switch codecs in the middle of a call).
        match self.pc.remote_description().await.map(|d| d.unmarshal()) {
            Some(Ok(sdp)) => {
                self.codecs
                    .send_replace(SessionCodecs::read(&sdp, self.our_codec));
            }
            Some(Err(e)) => tracing::warn!("the other side's session description: {e}"),
            None => {}
        }
        for init in std::mem::take(&mut self.pending) {
            if let Err(e) = self.pc.add_ice_candidate(init).await {
                tracing::warn!("a remote candidate: {e}");
            }
        }
    }
}

/// Holds `init` until the remote description is set, unless
/// [`MAX_HELD_CANDIDATES`] are held already; whether it was kept.
fn hold_candidate(pending: &mut Vec<RTCIceCandidateInit>, init: RTCIceCandidateInit) -> bool {
    if pending.len() >= MAX_HELD_CANDIDATES {
        return false;
    }
    pending.push(init);
    true
}

/// This machine's addresses that a call could use (not loopback or
/// link-local), sorted.
fn local_addresses() -> std::collections::BTreeSet<std::net::IpAddr> {
    rtc::shared::ifaces::ifaces()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|interface| interface.addr.map(|addr| addr.ip()))
        .filter(|ip| match ip {
            std::net::IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local(),
            std::net::IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unicast_link_local(),
        })
        .collect()
}

/// Sleep until `at`, or forever.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_before_the_offer_are_held_up_to_a_bound() {
        let mut pending = Vec::new();
        let kept = (0..100_000)
            .filter(|i| {
                hold_candidate(
                    &mut pending,
                    RTCIceCandidateInit {
                        candidate: format!("candidate:{i} 1 udp 1 192.0.2.1 {i} typ host"),
                        ..Default::default()
                    },
                )
            })
            .count();
        assert_eq!(kept, MAX_HELD_CANDIDATES);
        assert_eq!(pending.len(), MAX_HELD_CANDIDATES);
        // The first ones are the ones kept: a real peer's come first.
        assert!(pending[0].candidate.starts_with("candidate:0 "));
    }

    #[test]
    fn restarts_back_off_doubling_to_the_most() {
        let waits: Vec<u64> = (1..=7).map(|a| Restart::backoff(a).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 16, 16]);
    }
}
