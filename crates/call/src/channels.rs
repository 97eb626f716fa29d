//! Data channels as typed endpoints. Whoever starts a call makes one
//! [`channel`] per kind of message it exchanges — [`ControlMessage`] on
//! `control`, [`PointerMessage`] on `pointer`, [`BulkChunk`] on `bulk`, and
//! any other type that implements [`ChannelMessage`] — keeps the
//! [`Endpoint`] and hands the [`ChannelBinding`] to the call. The call opens
//! a WebRTC data channel under the message type's label (the offering side
//! creates it; the answering side adopts the one that arrives by its label)
//! and moves messages between it and the endpoint.
//!
//! Both directions are bounded. Outgoing: [`Endpoint::send`] waits while
//! the queue to the call is full, and the call's task waits while the data
//! channel holds its send-buffer limit unacknowledged — back-pressure all
//! the way to the far side's receive window. Incoming: a reliable channel
//! waits for the endpoint to take a message (SCTP then slows the sender);
//! an unreliable one drops it (a late pointer position is worthless).
//! A message that does not decode as its type is counted and dropped.
//!
//! The far side decides what arrives, so each type states its [`Limits`]:
//! a message over its size is dropped before it is parsed; over its rate,
//! a reliable channel's messages are paced (read later: nothing is lost,
//! the sender is slowed), an unreliable one's dropped. Pings and pongs on
//! `control` are bounded in [`crate::keepalive`].

use crate::keepalive::{Keepalive, KeepaliveState};
use crate::pace::Bucket;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

pub use crate::keepalive::KeepaliveReport;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};

/// How a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every message, in order (SCTP retransmits).
    Reliable,
    /// Unordered, never retransmitted: what is late is not wanted.
    Latest,
}

/// A message as it crosses the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Text(String),
    Binary(Bytes),
}

impl Payload {
    fn len(&self) -> usize {
        match self {
            Payload::Text(text) => text.len(),
            Payload::Binary(bytes) => bytes.len(),
        }
    }
}

/// What one message type accepts from the far side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Larger messages are dropped unread.
    pub max_bytes: usize,
    /// Messages a second on average and at once (`None`: no rate; the
    /// queues and SCTP's window bound it).
    pub rate: Option<(f64, f64)>,
}

/// A type of message with a channel of its own.
pub trait ChannelMessage: Sized + Send + 'static {
    /// The data channel's label: both sides must agree on it.
    const LABEL: &'static str;
    const DELIVERY: Delivery;
    const LIMITS: Limits;
    fn to_payload(&self) -> Payload;
    /// `text` is whether the far side sent it as a string.
    fn from_payload(data: &[u8], text: bool) -> Result<Self, String>;
}

/// A JSON object with a `type` on the reliable `control` channel:
/// annotations, report edits, slide commands. `ping`/`pong` are answered
/// and measured by the call itself and never reach the endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlMessage {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl ControlMessage {
    pub fn new(kind: &str) -> ControlMessage {
        ControlMessage {
            kind: kind.to_owned(),
            fields: serde_json::Map::new(),
        }
    }
}

impl ChannelMessage for ControlMessage {
    const LABEL: &'static str = "control";
    const DELIVERY: Delivery = Delivery::Reliable;
    /// SCTP here carries at most 64 KiB a message (webrtc-rs's
    /// `a=max-message-size`; aiortc refuses to send more). A control
    /// message is a command or an annotation: 32 KiB holds a polygon of
    /// ~1500 vertices, and larger geometry belongs on `bulk`. View changes
    /// come at most at the display's rate; a case's annotations sent on
    /// joining come as a burst.
    const LIMITS: Limits = Limits {
        max_bytes: 32 * 1024,
        rate: Some((500.0, 2000.0)),
    };

    fn to_payload(&self) -> Payload {
        Payload::Text(serde_json::to_string(self).unwrap_or_default())
    }

    fn from_payload(data: &[u8], _text: bool) -> Result<Self, String> {
        serde_json::from_slice(data).map_err(|e| format!("not a control message: {e}"))
    }
}

/// A pointer position in fractions of the shared view, on the unordered,
/// unretransmitted `pointer` channel; `seq` orders them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PointerMessage {
    pub x: f64,
    pub y: f64,
    pub seq: u64,
}

impl ChannelMessage for PointerMessage {
    const LABEL: &'static str = "pointer";
    const DELIVERY: Delivery = Delivery::Latest;
    /// A position is ~40 bytes; a mouse reports at most a few hundred a
    /// second and a 240 Hz display shows no more.
    const LIMITS: Limits = Limits {
        max_bytes: 512,
        rate: Some((240.0, 480.0)),
    };

    fn to_payload(&self) -> Payload {
        Payload::Text(format!(
            r#"{{"x":{:.5},"y":{:.5},"seq":{}}}"#,
            self.x, self.y, self.seq
        ))
    }

    fn from_payload(data: &[u8], _text: bool) -> Result<Self, String> {
        let pointer: PointerMessage =
            serde_json::from_slice(data).map_err(|e| format!("not a pointer position: {e}"))?;
        if !(pointer.x.is_finite() && pointer.y.is_finite()) {
            return Err("a pointer position that is not a number".into());
        }
        Ok(pointer)
    }
}

/// Bytes on the reliable `bulk` channel: files, slide regions.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkChunk(pub Bytes);

impl ChannelMessage for BulkChunk {
    const LABEL: &'static str = "bulk";
    const DELIVERY: Delivery = Delivery::Reliable;
    /// Chunks are 64 KiB (`kh call --bulk`), and SCTP's window and the
    /// endpoint's queue pace them.
    const LIMITS: Limits = Limits {
        max_bytes: 256 * 1024,
        rate: None,
    };

    fn to_payload(&self) -> Payload {
        Payload::Binary(self.0.clone())
    }

    fn from_payload(data: &[u8], _text: bool) -> Result<Self, String> {
        Ok(BulkChunk(Bytes::copy_from_slice(data)))
    }
}

/// The channel has closed (the call ended, or the far side closed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the data channel is closed")]
pub struct ChannelClosed;

/// The application's end of a channel.
pub struct Endpoint<M> {
    outgoing: mpsc::Sender<Payload>,
    incoming: mpsc::Receiver<M>,
    open: watch::Receiver<bool>,
}

impl<M: ChannelMessage> Endpoint<M> {
    /// Queue `message`, waiting while the queue to the call is full.
    pub async fn send(&self, message: &M) -> Result<(), ChannelClosed> {
        self.outgoing
            .send(message.to_payload())
            .await
            .map_err(|_| ChannelClosed)
    }

    /// Queue `message` unless the queue is full (`Ok(false)`): for messages
    /// a newer one replaces.
    pub fn offer(&self, message: &M) -> Result<bool, ChannelClosed> {
        match self.outgoing.try_send(message.to_payload()) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(_)) => Ok(false),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(ChannelClosed),
        }
    }

    /// The next message from the far side; `None` once the call has ended.
    pub async fn recv(&mut self) -> Option<M> {
        self.incoming.recv().await
    }

    /// A message if one is waiting.
    pub fn try_recv(&mut self) -> Option<M> {
        self.incoming.try_recv().ok()
    }

    /// Whether the data channel is open now.
    pub fn is_open(&self) -> bool {
        *self.open.borrow()
    }
}

/// The call's end of a channel, type-erased: what it sends, and where
/// what arrives goes.
pub struct ChannelBinding {
    pub(crate) label: &'static str,
    pub(crate) delivery: Delivery,
    limits: Limits,
    outgoing: mpsc::Receiver<Payload>,
    inbox: Box<dyn Inbox>,
    open: watch::Sender<bool>,
}

impl ChannelBinding {
    pub fn label(&self) -> &'static str {
        self.label
    }
}

/// A channel for `M` whose queues hold `capacity` messages each way.
pub fn channel<M: ChannelMessage>(capacity: usize) -> (Endpoint<M>, ChannelBinding) {
    let capacity = capacity.max(1);
    let (outgoing_tx, outgoing_rx) = mpsc::channel(capacity);
    let (incoming_tx, incoming_rx) = mpsc::channel(capacity);
    let (open_tx, open_rx) = watch::channel(false);
    (
        Endpoint {
            outgoing: outgoing_tx,
            incoming: incoming_rx,
            open: open_rx,
        },
        ChannelBinding {
            label: M::LABEL,
            delivery: M::DELIVERY,
            limits: M::LIMITS,
            outgoing: outgoing_rx,
            inbox: Box::new(TypedInbox::<M> { to: incoming_tx }),
            open: open_tx,
        },
    )
}

/// Why a message that arrived did not reach the endpoint.
enum Undelivered {
    Malformed(String),
    /// An unreliable channel's endpoint was full.
    Dropped,
    /// The endpoint is gone.
    Closed,
}

#[async_trait::async_trait]
trait Inbox: Send {
    async fn deliver(
        &mut self,
        data: &[u8],
        text: bool,
        delivery: Delivery,
    ) -> Result<(), Undelivered>;
}

struct TypedInbox<M> {
    to: mpsc::Sender<M>,
}

#[async_trait::async_trait]
impl<M: ChannelMessage> Inbox for TypedInbox<M> {
    async fn deliver(
        &mut self,
        data: &[u8],
        text: bool,
        delivery: Delivery,
    ) -> Result<(), Undelivered> {
        let message = M::from_payload(data, text).map_err(Undelivered::Malformed)?;
        match delivery {
            Delivery::Reliable => self.to.send(message).await.map_err(|_| Undelivered::Closed),
            Delivery::Latest => self.to.try_send(message).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Undelivered::Dropped,
                mpsc::error::TrySendError::Closed(_) => Undelivered::Closed,
            }),
        }
    }
}

/// What one channel carried.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChannelReport {
    pub messages_sent: u64,
    pub messages_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Messages that did not decode as the channel's type.
    pub malformed: u64,
    /// Messages of an unreliable channel dropped because the endpoint was
    /// behind, or because they came faster than its rate.
    pub dropped: u64,
    /// Messages over the type's size, dropped unread.
    pub too_large: u64,
    /// Messages of a reliable channel read later to keep to its rate.
    pub paced: u64,
    /// Received bytes over the time from the first message to the last,
    /// Mbit/s.
    pub received_mbit_s: Option<f64>,
}

/// The label of the channel that carries keepalive pings.
pub const CONTROL: &str = ControlMessage::LABEL;

/// The bindings not yet attached to a data channel, by label, and what
/// every channel reported.
pub(crate) struct ChannelSet {
    waiting: BTreeMap<&'static str, (ChannelBinding, watch::Sender<ChannelReport>)>,
    reports: BTreeMap<&'static str, watch::Receiver<ChannelReport>>,
    keepalive: Arc<watch::Sender<KeepaliveReport>>,
    started: Instant,
}

impl ChannelSet {
    pub(crate) fn new(bindings: Vec<ChannelBinding>, started: Instant) -> ChannelSet {
        let mut waiting = BTreeMap::new();
        let mut reports = BTreeMap::new();
        for binding in bindings {
            let (report_tx, report_rx) = watch::channel(ChannelReport::default());
            reports.insert(binding.label, report_rx);
            waiting.insert(binding.label, (binding, report_tx));
        }
        ChannelSet {
            waiting,
            reports,
            keepalive: Arc::new(watch::Sender::new(KeepaliveReport::default())),
            started,
        }
    }

    /// The labels and deliveries the offering side creates.
    pub(crate) fn wanted(&self) -> Vec<(&'static str, Delivery)> {
        self.waiting
            .values()
            .map(|(b, _)| (b.label, b.delivery))
            .collect()
    }

    /// What each channel reports, attached or not yet.
    pub(crate) fn reports(&self) -> BTreeMap<&'static str, watch::Receiver<ChannelReport>> {
        self.reports.clone()
    }

    pub(crate) fn keepalive(&self) -> watch::Receiver<KeepaliveReport> {
        self.keepalive.subscribe()
    }

    /// A data channel opened (by us or the far side): its binding moves
    /// onto a task of its own. A label nobody bound is refused.
    pub(crate) async fn attach(&mut self, channel: Arc<dyn DataChannel>) {
        let label = channel.label().await.unwrap_or_default();
        let Some((binding, report_tx)) = self.waiting.remove(label.as_str()) else {
            tracing::warn!("ignoring a data channel named {label:?}");
            let _ = channel.close().await;
            return;
        };
        let keepalive = (binding.label == CONTROL).then(|| self.keepalive.clone());
        tokio::spawn(run(channel, binding, report_tx, keepalive, self.started));
    }
}

/// One data channel: what the endpoint queues goes out (on a task of its
/// own, as a send waits while the channel holds its buffer limit and the
/// reading must go on meanwhile: a full event queue stalls the
/// association); what arrives goes to the endpoint, pings answered on the
/// way.
async fn run(
    channel: Arc<dyn DataChannel>,
    binding: ChannelBinding,
    report: watch::Sender<ChannelReport>,
    keepalive: Option<Arc<watch::Sender<KeepaliveReport>>>,
    started: Instant,
) {
    let ChannelBinding {
        label,
        delivery,
        limits,
        outgoing,
        mut inbox,
        open,
    } = binding;
    let mut rate = limits.rate.map(|(per_s, burst)| Bucket::new(per_s, burst));
    let mut answering = KeepaliveState::default();
    let mut said_too_large = false;
    let report = Arc::new(report);
    if channel.ready_state().await.ok() == Some(RTCDataChannelState::Open) {
        open.send_replace(true);
    }
    let writer = tokio::spawn(write(
        channel.clone(),
        outgoing,
        open.subscribe(),
        report.clone(),
        label,
        keepalive.is_some().then_some(started),
    ));
    let mut first_received: Option<Instant> = None;
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnOpen => {
                open.send_replace(true);
            }
            DataChannelEvent::OnMessage(message) => {
                let now = Instant::now();
                let first = *first_received.get_or_insert(now);
                report.send_modify(|r| {
                    r.messages_received += 1;
                    r.bytes_received += message.data.len() as u64;
                    let secs = now.duration_since(first).as_secs_f64();
                    if secs > 0.5 {
                        r.received_mbit_s = Some(r.bytes_received as f64 * 8.0 / secs / 1e6);
                    }
                });
                if message.data.len() > limits.max_bytes {
                    if !std::mem::replace(&mut said_too_large, true) {
                        tracing::warn!(
                            label,
                            bytes = message.data.len(),
                            "the far side sends messages over {} bytes: dropped",
                            limits.max_bytes
                        );
                    }
                    report.send_modify(|r| r.too_large += 1);
                    continue;
                }
                if let Some(keepalive) = &keepalive {
                    let now_ms = started.elapsed().as_secs_f64() * 1e3;
                    let mut action = Keepalive::NotOne;
                    // Watchers (the statistics) are woken only for pings
                    // and pongs, not for every annotation.
                    keepalive.send_if_modified(|k| {
                        action = answering.on_message(k, &message.data, now_ms);
                        action != Keepalive::NotOne
                    });
                    match action {
                        Keepalive::NotOne => {}
                        Keepalive::Taken => continue,
                        Keepalive::Answer(pong) => {
                            // Inline: a peer that pings faster than it reads
                            // its pongs waits here (back-pressure), and
                            // its pings are also paced by the rate.
                            if channel.send_text(&pong).await.is_ok() {
                                report.send_modify(|r| {
                                    r.messages_sent += 1;
                                    r.bytes_sent += pong.len() as u64;
                                });
                            }
                            continue;
                        }
                    }
                }
                if let Some(bucket) = &mut rate {
                    let now_s = started.elapsed().as_secs_f64();
                    match delivery {
                        Delivery::Latest => {
                            if !bucket.take(now_s) {
                                report.send_modify(|r| r.dropped += 1);
                                continue;
                            }
                        }
                        Delivery::Reliable => {
                            let wait = bucket.take_or_wait(now_s);
                            if wait > 0.0 {
                                report.send_modify(|r| r.paced += 1);
                                tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
                            }
                        }
                    }
                }
                match inbox
                    .deliver(&message.data, message.is_string, delivery)
                    .await
                {
                    Ok(()) => {}
                    Err(Undelivered::Malformed(why)) => {
                        tracing::debug!(label, "a message that is not one: {why}");
                        report.send_modify(|r| r.malformed += 1);
                    }
                    Err(Undelivered::Dropped) => report.send_modify(|r| r.dropped += 1),
                    Err(Undelivered::Closed) => {}
                }
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
    open.send_replace(false);
    writer.abort();
}

/// Send what the endpoint queues, once the channel is open; on `control`
/// (`pings_from` the call's start) a ping every [`PING_EVERY`] too.
async fn write(
    channel: Arc<dyn DataChannel>,
    mut outgoing: mpsc::Receiver<Payload>,
    mut open: watch::Receiver<bool>,
    report: Arc<watch::Sender<ChannelReport>>,
    label: &'static str,
    pings_from: Option<Instant>,
) {
    if open.wait_for(|is_open| *is_open).await.is_err() {
        return;
    }
    let mut pings = tokio::time::interval(PING_EVERY);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let payload = tokio::select! {
            payload = outgoing.recv() => match payload {
                Some(payload) => payload,
                None => return,
            },
            _ = pings.tick(), if pings_from.is_some() => {
                ping(pings_from.unwrap_or_else(Instant::now))
            }
        };
        let bytes = payload.len() as u64;
        // Waits while the channel holds its send-buffer limit.
        let sent = match payload {
            Payload::Text(text) => channel.send_text(&text).await,
            Payload::Binary(data) => channel.send(BytesMut::from(&data[..])).await,
        };
        if let Err(e) = sent {
            tracing::debug!(label, "sending: {e}");
            return;
        }
        report.send_modify(|r| {
            r.messages_sent += 1;
            r.bytes_sent += bytes;
        });
    }
}

/// How often the call pings the far side on `control`: its round trip is
/// the data channels' (`data.control_rtt_ms_p50`).
pub const PING_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A ping for the far side to answer on `control`, stamped with the call's
/// clock (ms since it started).
fn ping(started: Instant) -> Payload {
    Payload::Text(format!(
        r#"{{"type":"ping","t":{:.3}}}"#,
        started.elapsed().as_secs_f64() * 1e3
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_their_payloads() {
        let mut control = ControlMessage::new("annotation");
        control
            .fields
            .insert("id".into(), serde_json::Value::from(7));
        let Payload::Text(text) = control.to_payload() else {
            panic!("control is text");
        };
        assert_eq!(
            ControlMessage::from_payload(text.as_bytes(), true),
            Ok(control)
        );
        let pointer = PointerMessage {
            x: 0.25,
            y: 0.5,
            seq: 9,
        };
        let Payload::Text(text) = pointer.to_payload() else {
            panic!("pointer is text");
        };
        assert_eq!(
            PointerMessage::from_payload(text.as_bytes(), true),
            Ok(pointer)
        );
        let chunk = BulkChunk(Bytes::from_static(b"\x00\x01\x02"));
        assert_eq!(
            BulkChunk::from_payload(b"\x00\x01\x02", false),
            Ok(chunk.clone())
        );
        assert_eq!(chunk.to_payload(), Payload::Binary(chunk.0));
    }

    #[test]
    fn what_is_not_the_channels_type_is_refused() {
        assert!(ControlMessage::from_payload(b"not json", true).is_err());
        assert!(ControlMessage::from_payload(br#"{"no_type":1}"#, true).is_err());
        assert!(PointerMessage::from_payload(br#"{"x":"a","y":1,"seq":1}"#, true).is_err());
        assert!(PointerMessage::from_payload(br#"{"x":1e999,"y":1,"seq":1}"#, true).is_err());
    }

    #[tokio::test]
    async fn an_unreliable_inbox_drops_when_its_endpoint_is_behind() {
        let (mut endpoint, mut binding) = channel::<PointerMessage>(2);
        let data = br#"{"x":0.1,"y":0.2,"seq":1}"#;
        for _ in 0..2 {
            assert!(
                binding
                    .inbox
                    .deliver(data, true, Delivery::Latest)
                    .await
                    .is_ok()
            );
        }
        assert!(matches!(
            binding.inbox.deliver(data, true, Delivery::Latest).await,
            Err(Undelivered::Dropped)
        ));
        assert!(endpoint.try_recv().is_some());
        assert!(endpoint.try_recv().is_some());
        assert!(endpoint.try_recv().is_none());
    }

    #[tokio::test]
    async fn sending_waits_while_the_queue_to_the_call_is_full() {
        let (endpoint, mut binding) = channel::<BulkChunk>(1);
        let chunk = BulkChunk(Bytes::from_static(b"abc"));
        endpoint.send(&chunk).await.expect("first fits");
        assert_eq!(endpoint.offer(&chunk), Ok(false), "the queue is full");
        let second =
            tokio::time::timeout(std::time::Duration::from_millis(50), endpoint.send(&chunk));
        assert!(second.await.is_err(), "send waited");
        assert_eq!(
            binding.outgoing.recv().await,
            Some(Payload::Binary(chunk.0.clone()))
        );
        endpoint.send(&chunk).await.expect("room again");
        drop(binding);
        assert_eq!(endpoint.send(&chunk).await, Err(ChannelClosed));
    }
}
