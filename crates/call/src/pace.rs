//! A token bucket, pure: time is passed in (seconds on any clock that only
//! goes forward), so its users' floods can be tested in virtual time.

#[derive(Debug, Clone)]
pub struct Bucket {
    per_s: f64,
    burst: f64,
    tokens: f64,
    /// When `tokens` was last brought up to date; `None` before first use.
    at: Option<f64>,
}

impl Bucket {
    /// `per_s` tokens a second, at most `burst` saved up (and at first).
    pub fn new(per_s: f64, burst: f64) -> Bucket {
        Bucket {
            per_s,
            burst,
            tokens: burst,
            at: None,
        }
    }

    fn refill(&mut self, now_s: f64) {
        let since = self.at.map_or(0.0, |at| (now_s - at).max(0.0));
        self.tokens = (self.tokens + since * self.per_s).min(self.burst);
        self.at = Some(self.at.map_or(now_s, |at| at.max(now_s)));
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now_s: f64) -> bool {
        self.refill(now_s);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token, in debt if need be: how long to wait (seconds) before
    /// acting on it, so that the average holds — for what must be paced,
    /// not dropped.
    pub fn take_or_wait(&mut self, now_s: f64) -> f64 {
        self.refill(now_s);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            0.0
        } else {
            -self.tokens / self.per_s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_then_the_rate() {
        let mut bucket = Bucket::new(10.0, 3.0);
        assert!((0..3).all(|_| bucket.take(5.0)));
        assert!(!bucket.take(5.0));
        assert!(bucket.take(5.15));
        assert!(!bucket.take(5.15));
        // Saved tokens never pass the burst.
        assert!((0..3).all(|_| bucket.take(100.0)));
        assert!(!bucket.take(100.0));
    }

    #[test]
    fn pacing_spreads_what_arrives_at_once() {
        let mut bucket = Bucket::new(100.0, 2.0);
        let waits: Vec<f64> = (0..5).map(|_| bucket.take_or_wait(0.0)).collect();
        let expected = [0.0, 0.0, 0.01, 0.02, 0.03];
        for (wait, want) in waits.iter().zip(expected) {
            assert!((wait - want).abs() < 1e-9, "{waits:?}");
        }
        // Once the debt is paid, no wait.
        assert_eq!(bucket.take_or_wait(1.0), 0.0);
    }

    #[test]
    fn a_clock_that_steps_back_gives_nothing() {
        let mut bucket = Bucket::new(10.0, 1.0);
        assert!(bucket.take(10.0));
        assert!(!bucket.take(5.0));
        assert!(!bucket.take(10.0));
    }
}
