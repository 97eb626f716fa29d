//! What to send at a given bandwidth estimate: the picture size and frame
//! rate (the rung), and the encoder's bitrate.
//!
//! An 8K source steps down to 4K, then 1080p (each side halved), then to
//! stills — 1080p at a falling frame rate, down to one picture a second —
//! as the estimate falls, and climbs back as it recovers. A rung
//! is worth sending while the estimate gives it [`BITS_PER_PIXEL`] per
//! pixel per frame: 8K30 needs 40 Mbit/s, 4K30 10, 1080p30 2.5.
//!
//! Down is immediate: a rung the estimate cannot carry only builds a queue
//! at the bottleneck (delay first, then loss). Up waits until the estimate
//! has carried the larger rung with margin for [`CLIMB_AFTER`]: every
//! change of size costs a keyframe, and a ladder that flaps on each swing
//! of the estimate would send little else.

use std::time::{Duration, Instant};

/// Bits per pixel per frame below which a rung is not worth sending (a
/// real-time VP8/VP9/H.264 encoder's picture falls apart below about this).
pub const BITS_PER_PIXEL: f64 = 0.04;
/// The margin over a larger rung's need before climbing to it.
pub const CLIMB_MARGIN: f64 = 1.25;
/// How long that margin must hold.
pub const CLIMB_AFTER: Duration = Duration::from_secs(2);
/// The encoder is given this share of the estimate: the rest is headroom
/// for audio, RTCP, retransmissions and the encoder's overshoot on
/// keyframes, so the pacer's queue stays short.
pub const ENCODER_SHARE: f64 = 0.85;
/// The smallest side a rung is made at: below this a picture says nothing.
const SMALLEST_HEIGHT: u32 = 180;
/// The source and two halvings (8K, 4K, 1080p); below them the frame rate
/// falls instead (stills keep the detail a specialist needs).
const MOTION_RUNGS: usize = 3;
/// The frame rate at which "video" becomes "stills".
pub const STILLS_BELOW_FPS: u32 = 5;

/// One step of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl Rung {
    /// What this rung needs to look right, bits per second.
    pub fn needs_bps(self) -> f64 {
        f64::from(self.width) * f64::from(self.height) * f64::from(self.fps) * BITS_PER_PIXEL
    }

    pub fn is_stills(self) -> bool {
        self.fps < STILLS_BELOW_FPS
    }
}

impl std::fmt::Display for Rung {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}@{}", self.width, self.height, self.fps)
    }
}

/// The rungs for one source, and which one is in use.
#[derive(Debug, Clone)]
pub struct Ladder {
    /// Motion rungs, largest (the source) first.
    sizes: Vec<(u32, u32)>,
    fps: u32,
    current: Rung,
    /// Since when the estimate has carried the next rung up with margin.
    climbing_since: Option<Instant>,
    changes: u64,
}

impl Ladder {
    /// The ladder for a `width`×`height` source at `fps`, starting at the
    /// rung `start_bps` carries.
    pub fn new(width: u32, height: u32, fps: u32, start_bps: f64) -> Ladder {
        let fps = fps.max(1);
        let mut sizes = vec![(width & !1, height & !1)];
        let (mut w, mut h) = (width, height);
        while sizes.len() < MOTION_RUNGS && h / 2 >= SMALLEST_HEIGHT {
            // Halved and kept even (4:2:0 chroma).
            (w, h) = ((w / 2) & !1, (h / 2) & !1);
            sizes.push((w, h));
        }
        let mut ladder = Ladder {
            sizes,
            fps,
            current: Rung { width, height, fps },
            climbing_since: None,
            changes: 0,
        };
        ladder.current = ladder.carried_by(start_bps);
        ladder
    }

    pub fn current(&self) -> Rung {
        self.current
    }

    /// The source's size (the top rung).
    pub fn source(&self) -> (u32, u32) {
        self.sizes[0]
    }

    /// How many times the rung has changed.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// The largest rung `bps` carries: a motion rung if any, else stills at
    /// the smallest size and the frame rate the estimate pays for.
    fn carried_by(&self, bps: f64) -> Rung {
        for &(width, height) in &self.sizes {
            let rung = Rung {
                width,
                height,
                fps: self.fps,
            };
            if bps >= rung.needs_bps() {
                return rung;
            }
        }
        let (width, height) = self.sizes[self.sizes.len() - 1];
        let one_fps = Rung {
            width,
            height,
            fps: 1,
        };
        let fps = (bps / one_fps.needs_bps())
            .floor()
            .clamp(1.0, f64::from(self.fps)) as u32;
        Rung { fps, ..one_fps }
    }

    /// The rung to send at `now` for estimate `bps`.
    pub fn update(&mut self, now: Instant, bps: f64) -> Rung {
        let carried = self.carried_by(bps);
        let larger = |a: Rung, b: Rung| (a.width, a.fps) > (b.width, b.fps);
        if larger(self.current, carried) {
            // Down at once.
            self.climbing_since = None;
            self.set(carried);
        } else if larger(carried, self.current) {
            // Up only past the margin, held long enough; then one step.
            let next_up = self.carried_by(bps / CLIMB_MARGIN);
            if larger(next_up, self.current) {
                let since = *self.climbing_since.get_or_insert(now);
                if now.duration_since(since) >= CLIMB_AFTER {
                    self.climbing_since = None;
                    self.set(next_up);
                }
            } else {
                self.climbing_since = None;
            }
        } else {
            self.climbing_since = None;
        }
        self.current
    }

    fn set(&mut self, rung: Rung) {
        if rung != self.current {
            self.current = rung;
            self.changes += 1;
        }
    }
}

/// The shortest time between two keyframes made on request. A receiver
/// asks again every few hundred milliseconds until it has one, and two
/// receivers (or a PLI and a FIR for the same loss) may ask at once: each
/// keyframe is several times a frame's bits, and a burst of them is itself
/// congestion.
pub const KEYFRAME_GAP: Duration = Duration::from_millis(250);

/// The keyframe policy: one at the start and at every change of size (a
/// new encoder), on request (PLI/FIR) at most one per [`KEYFRAME_GAP`] —
/// a request inside the gap waits for its end rather than being lost —
/// and the encoder's own every 4 s as the floor for a receiver that never
/// asks (error resilience, not intra refresh: libvpx's and x264's
/// real-time modes recover from a keyframe faster than from a refresh
/// wave on a lossy link).
#[derive(Debug, Default)]
pub struct KeyframeGate {
    last: Option<Instant>,
}

impl KeyframeGate {
    /// A keyframe was made regardless (a new encoder).
    pub fn forced(&mut self, now: Instant) {
        self.last = Some(now);
    }

    /// Whether a keyframe asked for now may be made (and is, from here
    /// on, the last one); a request it refuses stands until it grants.
    pub fn grants(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < KEYFRAME_GAP)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// How far the encoder may run ahead of the estimate.
pub const MAX_BACKLOG: Duration = Duration::from_millis(400);

/// The frame dropper: what the encoder has produced beyond what the
/// estimate has carried since, as a leaky bucket filled by encoded frames
/// and drained at the estimate. The encoder skips frames while it holds
/// more than [`MAX_BACKLOG`] of the estimate. The encoder's own rate
/// control lags a falling target by a second or more, and on a grainy
/// picture it cannot go as low as asked at all: drained at the pacer's
/// rate (2.5 times the estimate) this let it send twice what the link
/// carried after a drop from 50 to 5 Mbit/s, the pacer's queue filled,
/// and what left was stale. A keyframe (several frames' bits) passes and
/// the frames after it wait their share.
#[derive(Debug)]
pub struct SendBacklog {
    bits: f64,
    at: Instant,
}

impl SendBacklog {
    pub fn new(now: Instant) -> SendBacklog {
        SendBacklog { bits: 0.0, at: now }
    }

    /// Drain at `estimate_bps` up to `now`.
    fn drain(&mut self, now: Instant, estimate_bps: f64) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.bits = (self.bits - elapsed * estimate_bps).max(0.0);
        self.at = now;
    }

    /// Whether a frame may be encoded at `now`.
    pub fn has_room(&mut self, now: Instant, estimate_bps: f64) -> bool {
        self.drain(now, estimate_bps);
        self.bits <= estimate_bps * MAX_BACKLOG.as_secs_f64()
    }

    /// A frame of `bytes` was handed to the track.
    pub fn sent(&mut self, now: Instant, estimate_bps: f64, bytes: usize) {
        self.drain(now, estimate_bps);
        self.bits += bytes as f64 * 8.0;
    }
}

/// The encoder's bitrate for estimate `bps`, within `max_kbps`.
pub fn encoder_kbps(bps: f64, max_kbps: u32) -> u32 {
    ((bps * ENCODER_SHARE / 1e3) as u32).clamp(50, max_kbps.max(50))
}

/// What to do with the picture the source made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Encode it at this rung (scaled to it) and bitrate.
    Encode { rung: Rung, encoder_kbps: u32 },
    /// The rung's frame rate has no room for it (the source runs on, as a
    /// camera does).
    NotThisFrame,
    /// The encoder is more than [`MAX_BACKLOG`] of the estimate ahead of
    /// what the link has carried (the frame dropper).
    Backlogged,
}

/// The send side's decisions, frame by frame, for a source that makes
/// pictures at `fps`: the ladder's rung, the encoder's bitrate, which
/// frames to encode — everything between the estimate and the encoder,
/// pure and with time passed in, so the encoder's thread and the
/// congestion simulations run the same rules.
#[derive(Debug)]
pub struct FramePlanner {
    fps: u32,
    max_kbps: u32,
    ladder: Option<Ladder>,
    next_encode: Instant,
    backlog: SendBacklog,
}

impl FramePlanner {
    pub fn new(fps: u32, max_kbps: u32, now: Instant) -> FramePlanner {
        FramePlanner {
            fps: fps.max(1),
            max_kbps,
            ladder: None,
            next_encode: now,
            backlog: SendBacklog::new(now),
        }
    }

    /// Before a picture is made at `made`: the rung to make it at, where
    /// the source can (once a ladder exists).
    pub fn rung_for(&mut self, made: Instant, estimate_bps: f64) -> Option<Rung> {
        self.ladder
            .as_mut()
            .map(|ladder| ladder.update(made, estimate_bps))
    }

    /// The picture made at `made` by a source of size `native` (the top
    /// of the ladder; a new size starts a new ladder).
    pub fn plan(&mut self, made: Instant, estimate_bps: f64, native: (u32, u32)) -> Plan {
        let interval = Duration::from_secs_f64(1.0 / f64::from(self.fps));
        let fps = self.fps;
        let ladder = match self.ladder.as_mut() {
            Some(ladder) if ladder.source() == (native.0 & !1, native.1 & !1) => ladder,
            _ => self
                .ladder
                .insert(Ladder::new(native.0, native.1, fps, estimate_bps)),
        };
        let rung = ladder.current();
        // Half a source interval of slack: a frame made a little early by
        // the clock's jitter is still on time.
        if made + interval / 2 < self.next_encode {
            return Plan::NotThisFrame;
        }
        let every = Duration::from_secs_f64(1.0 / f64::from(rung.fps.max(1)));
        self.next_encode = (self.next_encode + every).max(made);
        // The encoder's rate control lags and, on grainy pictures, cannot
        // go as low as asked: frames the estimate has no room for are not
        // encoded.
        if !self.backlog.has_room(made, estimate_bps) {
            return Plan::Backlogged;
        }
        Plan::Encode {
            rung,
            encoder_kbps: encoder_kbps(estimate_bps, self.max_kbps),
        }
    }

    /// A coded frame of `bytes` went to the network at `now`.
    pub fn sent(&mut self, now: Instant, estimate_bps: f64, bytes: usize) {
        self.backlog.sent(now, estimate_bps, bytes);
    }

    /// How many times the rung has changed.
    pub fn rung_changes(&self) -> u64 {
        self.ladder.as_ref().map_or(0, Ladder::changes)
    }

    pub fn rung(&self) -> Option<Rung> {
        self.ladder.as_ref().map(Ladder::current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MBIT: f64 = 1e6;

    fn eight_k(start_bps: f64) -> Ladder {
        Ladder::new(7680, 4320, 30, start_bps)
    }

    #[test]
    fn eight_k_steps_through_4k_and_1080p_to_stills() {
        let at = Instant::now();
        let mut ladder = eight_k(80.0 * MBIT);
        assert_eq!(ladder.current().to_string(), "7680x4320@30");
        assert_eq!(ladder.update(at, 20.0 * MBIT).to_string(), "3840x2160@30");
        assert_eq!(ladder.update(at, 5.0 * MBIT).to_string(), "1920x1080@30");
        // Below 1080p30's need the frame rate falls, then stills.
        assert_eq!(ladder.update(at, 2.0 * MBIT).to_string(), "1920x1080@24");
        let stills = ladder.update(at, 0.3 * MBIT);
        assert_eq!((stills.width, stills.height), (1920, 1080));
        assert!(stills.is_stills(), "{stills}");
        assert_eq!(ladder.update(at, 0.01 * MBIT).fps, 1, "never below 1 fps");
    }

    #[test]
    fn climbing_back_waits_for_a_margin_held_two_seconds() {
        let start = Instant::now();
        let mut ladder = eight_k(5.0 * MBIT);
        assert_eq!(ladder.current().to_string(), "1920x1080@30");
        // Just enough for 4K, no margin: stays.
        for s in 0..10 {
            let rung = ladder.update(start + Duration::from_secs(s), 10.0 * MBIT);
            assert_eq!(rung.width, 1920, "climbed without margin at {s} s");
        }
        // With margin, only after two seconds of it.
        let t = start + Duration::from_secs(20);
        assert_eq!(ladder.update(t, 14.0 * MBIT).width, 1920);
        assert_eq!(
            ladder
                .update(t + Duration::from_millis(1900), 14.0 * MBIT)
                .width,
            1920
        );
        assert_eq!(
            ladder
                .update(t + Duration::from_millis(2000), 14.0 * MBIT)
                .width,
            3840
        );
        // One step at a time even when the estimate jumps far.
        let u = t + Duration::from_secs(10);
        ladder.update(u, 200.0 * MBIT);
        assert_eq!(
            ladder.update(u + CLIMB_AFTER, 200.0 * MBIT).width,
            7680,
            "then 8K after its own wait"
        );
        assert_eq!(ladder.changes(), 2);
    }

    #[test]
    fn a_dip_resets_the_climb() {
        let start = Instant::now();
        let mut ladder = eight_k(5.0 * MBIT);
        ladder.update(start, 14.0 * MBIT);
        ladder.update(start + Duration::from_millis(1500), 11.0 * MBIT);
        assert_eq!(
            ladder
                .update(start + Duration::from_millis(2500), 14.0 * MBIT)
                .width,
            1920,
            "the margin was not held for two seconds"
        );
    }

    #[test]
    fn a_small_source_has_fewer_rungs() {
        let ladder = Ladder::new(640, 360, 30, 100.0 * MBIT);
        assert_eq!(ladder.sizes, vec![(640, 360), (320, 180)]);
        let odd = Ladder::new(1281, 721, 30, 100.0 * MBIT);
        assert_eq!(odd.current().to_string(), "1280x720@30");
    }

    #[test]
    fn keyframe_requests_are_granted_at_most_one_per_gap_and_never_lost() {
        let start = Instant::now();
        let mut gate = KeyframeGate::default();
        assert!(gate.grants(start));
        // Asked again at once (a second PLI for the same loss): waits...
        assert!(!gate.grants(start + Duration::from_millis(100)));
        assert!(!gate.grants(start + Duration::from_millis(249)));
        // ...and is granted once the gap has passed, not forgotten.
        assert!(gate.grants(start + KEYFRAME_GAP));
        // A new encoder's own keyframe counts.
        gate.forced(start + Duration::from_secs(10));
        assert!(!gate.grants(start + Duration::from_millis(10_100)));
        assert!(gate.grants(start + Duration::from_millis(10_250)));
    }

    #[test]
    fn frames_wait_while_the_encoder_is_more_than_its_limit_ahead_of_the_estimate() {
        let t = Instant::now();
        let mut backlog = SendBacklog::new(t);
        let rate = 1.0 * MBIT;
        assert!(backlog.has_room(t, rate));
        // Half a second of the pacer's time in one keyframe.
        backlog.sent(t, rate, 62_500);
        assert!(!backlog.has_room(t, rate), "over the 400 ms limit");
        assert!(!backlog.has_room(t + Duration::from_millis(50), rate));
        assert!(backlog.has_room(t + Duration::from_millis(100), rate));
        // A fall in the rate lengthens what is queued.
        backlog.sent(t + Duration::from_millis(100), rate, 25_000);
        assert!(!backlog.has_room(t + Duration::from_millis(200), 0.5 * MBIT));
    }

    #[test]
    fn the_encoder_gets_a_share_within_the_ceiling() {
        assert_eq!(encoder_kbps(10.0 * MBIT, 100_000), 8500);
        assert_eq!(encoder_kbps(10.0 * MBIT, 4000), 4000);
        assert_eq!(encoder_kbps(0.0, 4000), 50);
    }
}
