//! The source of "now", injected so tests can move time without sleeping.

use jiff::Timestamp;
use std::sync::Mutex;

/// Something that tells the current time. Production uses [`SystemClock`]; tests use
/// [`ManualClock`] and advance it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;

    /// Simulated seconds per real second: 1 for real time, 60 when a minute passes every
    /// second (the demo). Loops that wait in real time divide their periods by it, so a job
    /// that runs "every 5 seconds" keeps doing so in this clock's time.
    fn rate(&self) -> f64 {
        1.0
    }

    /// The real time to wait for `d` of this clock's time to pass, never less than `floor`.
    fn real(&self, d: std::time::Duration, floor: std::time::Duration) -> std::time::Duration {
        let rate = self.rate();
        if rate == 1.0 || !rate.is_finite() || rate <= 0.0 {
            return d;
        }
        d.div_f64(rate).max(floor.min(d))
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to — or, once told to [`run`](ManualClock::run), at a
/// chosen pace from wherever it was set (tests of loops that wait in real time).
#[derive(Debug)]
pub struct ManualClock(Mutex<Manual>);

#[derive(Debug, Clone, Copy)]
struct Manual {
    at: Timestamp,
    /// Since when (real time) and how fast it runs by itself; `None`: it stands still.
    running: Option<(std::time::Instant, f64)>,
}

impl Manual {
    fn now(&self) -> Timestamp {
        match self.running {
            None => self.at,
            Some((since, rate)) => {
                let ran = since.elapsed().mul_f64(rate);
                let ran = jiff::SignedDuration::try_from(ran).unwrap_or(jiff::SignedDuration::MAX);
                self.at.saturating_add(ran).unwrap_or(self.at)
            }
        }
    }

    /// Sets the time to `t`, running on from it if it runs.
    fn set(&mut self, t: Timestamp) {
        self.at = t;
        if let Some((since, _)) = &mut self.running {
            *since = std::time::Instant::now();
        }
    }
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Mutex::new(Manual {
            at: start,
            running: None,
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Manual> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, t: Timestamp) {
        self.lock().set(t);
    }

    /// Sets the time to `ms` unix milliseconds.
    pub fn set_ms(&self, ms: i64) {
        if let Ok(t) = Timestamp::from_millisecond(ms) {
            self.set(t);
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.now().as_millisecond()
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut m = self.lock();
        let by = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        let now = m.now();
        m.set(now.saturating_add(by).unwrap_or(now));
    }

    /// From now on the clock runs by itself, `rate` of its seconds per real second, and
    /// says so ([`Clock::rate`]), so loops that wait in real time keep its pace.
    pub fn run(&self, rate: f64) {
        let mut m = self.lock();
        m.at = m.now();
        m.running = Some((std::time::Instant::now(), rate));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.lock().now()
    }

    fn rate(&self) -> f64 {
        self.lock().running.map_or(1.0, |(_, rate)| rate)
    }
}

/// A clock that runs `rate` times faster than real time from a chosen start: `downbeat demo`
/// shows hours of an outage in minutes, with every part of the server on the same time.
#[derive(Debug)]
pub struct ScaledClock {
    start: Timestamp,
    real_start: std::time::Instant,
    rate: f64,
}

impl ScaledClock {
    /// Starts now at `start`, running `rate` (> 0) times real time.
    pub fn new(start: Timestamp, rate: f64) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        ScaledClock {
            start,
            real_start: std::time::Instant::now(),
            rate,
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let real = self.real_start.elapsed();
        let sim = jiff::SignedDuration::try_from(real.mul_f64(self.rate))
            .unwrap_or(jiff::SignedDuration::MAX);
        self.start.saturating_add(sim).unwrap_or(self.start)
    }

    fn rate(&self) -> f64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_scaled_clock_runs_faster_and_scales_waits() {
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let c = ScaledClock::new(start, 600.0);
        std::thread::sleep(Duration::from_millis(20));
        let passed = c.now().duration_since(start).as_secs_f64();
        // 20 ms real is 12 s simulated; allow a slow machine up to a few seconds of real time
        assert!((12.0..3_000.0).contains(&passed), "{passed}");
        assert_eq!(
            c.real(Duration::from_secs(60), Duration::from_millis(1)),
            Duration::from_millis(100)
        );
        assert_eq!(
            c.real(Duration::from_secs(6), Duration::from_millis(50)),
            Duration::from_millis(50),
            "never below the floor"
        );
        assert_eq!(
            SystemClock.real(Duration::from_secs(5), Duration::from_millis(50)),
            Duration::from_secs(5)
        );
    }
}
