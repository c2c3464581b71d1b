//! When each event is due: the original's random sleeps, a fixed rate with optional bursts
//! (open loop: the schedule does not wait for answers), or as fast as possible.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How events are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// One record (pin, geo, user) at a time, then a random 0–2 s sleep: the original emulator.
    Original,
    /// `per_second` events per second on a fixed schedule, with optional bursts.
    Rate {
        /// The base rate.
        per_second: f64,
        /// Periodic bursts at a higher rate.
        burst: Option<Burst>,
    },
    /// As fast as the server answers, `concurrency` requests in flight.
    Max,
}

/// `RATE:ON/EVERY`: for the first `on` of every `every`, send at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    /// Events per second during a burst.
    pub per_second: f64,
    /// How long each burst lasts.
    pub on: Duration,
    /// A burst starts every `every`.
    pub every: Duration,
}

impl FromStr for Burst {
    type Err = String;

    fn from_str(text: &str) -> Result<Burst, String> {
        let usage = || {
            format!(
                "--burst {text:?}: expected RATE:ON/EVERY, e.g. 20000:2s/10s (20,000 events/s for 2 s of every 10 s)"
            )
        };
        let (rate, times) = text.split_once(':').ok_or_else(usage)?;
        let (on, every) = times.split_once('/').ok_or_else(usage)?;
        let per_second: f64 = rate.trim().parse().map_err(|_| usage())?;
        let on = humantime::parse_duration(on.trim()).map_err(|_| usage())?;
        let every = humantime::parse_duration(every.trim()).map_err(|_| usage())?;
        if !(per_second.is_finite() && per_second > 0.0) || on.is_zero() || on > every {
            return Err(format!(
                "{}; the rate must be above 0 and ON at most EVERY",
                usage()
            ));
        }
        Ok(Burst {
            per_second,
            on,
            every,
        })
    }
}

impl fmt::Display for Burst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.per_second,
            humantime::format_duration(self.on),
            humantime::format_duration(self.every)
        )
    }
}

/// The open-loop schedule of a rate: the time (seconds since the start) at which each event is
/// due.
#[derive(Debug, Clone)]
pub struct Schedule {
    base: f64,
    burst: Option<Burst>,
    /// The current stretch of constant rate: its start, rate and events so far. Due times are
    /// `start + n / rate`, computed afresh for each event so that rounding errors do not add up.
    segment_start: f64,
    segment_rate: f64,
    segment_events: u64,
}

impl Schedule {
    /// A schedule at `per_second`, with bursts.
    pub fn new(per_second: f64, burst: Option<Burst>) -> Schedule {
        let mut schedule = Schedule {
            base: per_second,
            burst,
            segment_start: 0.0,
            segment_rate: per_second,
            segment_events: 0,
        };
        schedule.segment_rate = schedule.rate_at(0.0);
        schedule
    }

    /// The rate in force at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        match self.burst {
            Some(b) if t % b.every.as_secs_f64() < b.on.as_secs_f64() => b.per_second,
            _ => self.base,
        }
    }

    /// When the next event is due, in seconds since the start; the first is due at 0.
    pub fn next_due(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // exact below 2^53 events
        let mut due = self.segment_start + self.segment_events as f64 / self.segment_rate;
        let rate = self.rate_at(due);
        if rate != self.segment_rate {
            self.segment_start = due;
            self.segment_rate = rate;
            self.segment_events = 0;
            due = self.segment_start;
        }
        self.segment_events += 1;
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_spaces_events_evenly() {
        let mut s = Schedule::new(200.0, None);
        let due: Vec<f64> = (0..601).map(|_| s.next_due()).collect();
        assert!((due[600] - 3.0).abs() < 1e-9);
        assert_eq!(due.iter().filter(|t| **t < 3.0).count(), 600);
    }

    #[test]
    fn bursts_raise_the_rate_for_their_share_of_each_period() {
        let burst: Burst = "1000:1s/4s".parse().unwrap();
        let mut s = Schedule::new(100.0, Some(burst));
        let mut n = 0;
        while s.next_due() < 8.0 {
            n += 1;
        }
        // Two periods of (1 s at 1000/s + 3 s at 100/s).
        assert!((2590..=2610).contains(&n), "{n}");
    }

    #[test]
    fn burst_syntax_errors_say_what_is_expected() {
        for bad in [
            "",
            "1000",
            "1000:1s",
            "x:1s/2s",
            "1000:3s/2s",
            "0:1s/2s",
            "1000:1parsec/2s",
        ] {
            let e = bad.parse::<Burst>().unwrap_err();
            assert!(e.contains("RATE:ON/EVERY"), "{bad}: {e}");
        }
        let b: Burst = "20000:2s/10s".parse().unwrap();
        assert_eq!(b.on, Duration::from_secs(2));
        assert_eq!(b.every, Duration::from_secs(10));
    }
}
