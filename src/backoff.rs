//! Waiting between tries: a pause that doubles up to a cap, with jitter if asked, and never one
//! that would end past the deadline. testSecret's wait for a new key and the audit's wait for the
//! credential report both wait this way.

use std::time::{Duration, Instant};

use rand::Rng;

pub struct Backoff {
    next: Duration,
    max: Duration,
    give_up_at: Instant,
    jitter: bool,
}

impl Backoff {
    /// Pauses of `first`, doubling up to `max`; none that would end after `give_up_at`.
    pub fn new(first: Duration, max: Duration, give_up_at: Instant) -> Backoff {
        Backoff {
            next: first,
            max,
            give_up_at,
            jitter: false,
        }
    }

    /// Each pause somewhere between half of it and all of it, so that many callers do not retry
    /// in step.
    pub fn with_jitter(self) -> Backoff {
        Backoff {
            jitter: true,
            ..self
        }
    }

    /// The pause before the next try; `None` when it would end past the deadline: give up.
    pub fn next_pause(&mut self) -> Option<Duration> {
        let pause = if self.jitter {
            jittered(self.next)
        } else {
            self.next
        };
        if Instant::now() + pause >= self.give_up_at {
            return None;
        }
        self.next = (self.next * 2).min(self.max);
        Some(pause)
    }
}

/// Somewhere between half of `delay` and all of it.
fn jittered(delay: Duration) -> Duration {
    let half = delay / 2;
    half + rand::rng().random_range(Duration::ZERO..=half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all_of_the_delay() {
        let delay = Duration::from_millis(800);
        for _ in 0..1000 {
            let pause = jittered(delay);
            assert!(
                pause >= Duration::from_millis(400) && pause <= delay,
                "{pause:?}"
            );
        }
    }

    #[test]
    fn pauses_double_up_to_the_cap_and_stop_before_the_deadline() {
        let second = Duration::from_secs(1);
        let mut backoff = Backoff::new(second, 4 * second, Instant::now() + 60 * second);
        let pauses: Vec<Duration> = (0..4).map_while(|_| backoff.next_pause()).collect();
        assert_eq!(pauses, [second, 2 * second, 4 * second, 4 * second]);
        let mut late = Backoff::new(second, 4 * second, Instant::now() + second / 2);
        assert_eq!(late.next_pause(), None);
    }
}
