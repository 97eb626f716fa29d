//! The island link itself, without any I/O: what happens to each packet
//! offered to one direction of the link — a cut, a blocked address, random
//! loss, a tail-drop bottleneck buffer served at the link's rate, the
//! propagation delay — and when each surviving packet arrives. Time is
//! passed in, so the same model drives the real TAP link (in real time, in
//! network namespaces) and simulations (in virtual time, without root).

use crate::LinkShape;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Why a packet did not cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The link was cut when it was offered (or while it was on the wire).
    Cut,
    /// Random loss.
    Loss,
    /// The bottleneck's buffer was full (tail drop).
    Queue,
}

/// One direction of the link.
#[derive(Debug)]
pub struct LinkModel<T> {
    pub shape: LinkShape,
    pub cut: bool,
    /// xorshift64 state: a fixed seed, so a run's losses do not depend on
    /// the clock.
    random: u64,
    /// When the bottleneck is next free.
    free_at: Option<Instant>,
    /// Packets on the wire or in the buffer, with their arrival; departures
    /// are in order, so arrivals are too.
    in_flight: VecDeque<(Instant, T)>,
}

impl<T> LinkModel<T> {
    /// A direction shaped as `shape`, its losses drawn from `seed` (not 0).
    pub fn new(shape: LinkShape, seed: u64) -> LinkModel<T> {
        LinkModel {
            shape,
            cut: false,
            random: seed.max(1),
            free_at: None,
            in_flight: VecDeque::new(),
        }
    }

    /// A uniform draw in [0, 100).
    fn draw_percent(&mut self) -> f64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        (self.random >> 11) as f64 / (1u64 << 53) as f64 * 100.0
    }

    /// Offer `packet` of `bytes` at `now`. `spared` packets are not subject
    /// to random loss (ARP: a lost one costs a second's retry in the kernel
    /// and says nothing about the call).
    pub fn offer(
        &mut self,
        now: Instant,
        bytes: usize,
        packet: T,
        spared: bool,
    ) -> Result<Instant, Dropped> {
        if self.cut {
            return Err(Dropped::Cut);
        }
        if !spared && self.draw_percent() < self.shape.loss_percent {
            return Err(Dropped::Loss);
        }
        let serialise =
            Duration::from_secs_f64(bytes as f64 * 8.0 / self.shape.rate_bps.max(1) as f64);
        let starts = self.free_at.map_or(now, |free| free.max(now));
        if starts.duration_since(now) > self.shape.queue {
            return Err(Dropped::Queue);
        }
        let leaves = starts + serialise;
        self.free_at = Some(leaves);
        let arrives = leaves + self.shape.one_way_delay;
        self.in_flight.push_back((arrives, packet));
        Ok(arrives)
    }

    /// When the next packet arrives, if one is on its way.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.front().map(|(at, _)| *at)
    }

    /// A packet that has arrived by `now`: `Ok` to deliver, `Err` when the
    /// link was cut while it was on the wire.
    pub fn arrived(&mut self, now: Instant) -> Option<Result<T, Dropped>> {
        match self.in_flight.front() {
            Some((at, _)) if *at <= now => {
                let (_, packet) = self.in_flight.pop_front()?;
                Some(if self.cut {
                    Err(Dropped::Cut)
                } else {
                    Ok(packet)
                })
            }
            _ => None,
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(mbit_s: f64, rtt_ms: u64, loss: f64) -> LinkShape {
        LinkShape::new(mbit_s, rtt_ms, loss)
    }

    #[test]
    fn a_packet_takes_its_serialisation_and_the_delay() {
        let start = Instant::now();
        let mut link = LinkModel::new(shape(8.0, 60, 0.0), 1);
        // 1000 bytes at 8 Mbit/s: 1 ms on the wire, then 30 ms of delay.
        let arrives = link.offer(start, 1000, "a", false).expect("crosses");
        assert_eq!(arrives - start, Duration::from_millis(31));
        assert_eq!(link.arrived(start + Duration::from_millis(30)), None);
        assert_eq!(
            link.arrived(start + Duration::from_millis(31)),
            Some(Ok("a"))
        );
    }

    #[test]
    fn the_bottleneck_drains_at_the_rate_and_drops_past_its_buffer() {
        let start = Instant::now();
        let mut link = LinkModel::new(shape(8.0, 0, 0.0), 1);
        // 100 ms of buffer at 1 ms a packet: ~100 queue, the rest drop.
        let mut crossed = 0;
        let mut dropped = 0;
        for i in 0..200 {
            match link.offer(start, 1000, i, false) {
                Ok(_) => crossed += 1,
                Err(Dropped::Queue) => dropped += 1,
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!((crossed, dropped), (101, 99));
        let last = link.in_flight.back().expect("queued").0;
        assert_eq!(last - start, Duration::from_millis(101));
    }

    #[test]
    fn losses_follow_the_seed_and_the_share() {
        let start = Instant::now();
        let mut link = LinkModel::new(shape(1000.0, 0, 1.0), 7);
        let lost = (0..100_000)
            .filter(|i| link.offer(start, 10, *i, false) == Err(Dropped::Loss))
            .count();
        assert!((900..1100).contains(&lost), "{lost} of 100 000 at 1 %");
        let mut again = LinkModel::new(shape(1000.0, 0, 1.0), 7);
        let lost_again = (0..100_000)
            .filter(|i| again.offer(start, 10, *i, false) == Err(Dropped::Loss))
            .count();
        assert_eq!(lost, lost_again, "the same seed loses the same packets");
    }

    #[test]
    fn a_cut_drops_what_is_offered_and_what_is_on_the_wire() {
        let start = Instant::now();
        let mut link = LinkModel::new(shape(8.0, 60, 0.0), 1);
        link.offer(start, 1000, 1, false).expect("crosses");
        link.cut = true;
        assert_eq!(link.offer(start, 1000, 2, false), Err(Dropped::Cut));
        assert_eq!(
            link.arrived(start + Duration::from_secs(1)),
            Some(Err(Dropped::Cut))
        );
    }
}
