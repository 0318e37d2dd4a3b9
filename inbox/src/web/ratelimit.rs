//! Token buckets: per operator for submissions (a stolen certificate or a
//! stuck browser cannot flood the staff), per IP address on the staff site.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before the full ones are forgotten (bounds memory when
/// many addresses pass by).
const MAX_BUCKETS: usize = 100_000;

pub struct Limiter<K = i64> {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq> Limiter<K> {
    pub fn new(per_minute: u32, burst: u32) -> Limiter<K> {
        Limiter {
            per_sec: f64::from(per_minute) / 60.0,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token; `Err(seconds)` says when to retry.
    pub fn check(&self, operator: K) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_BUCKETS {
            // A bucket refilled to the burst is the same as no bucket.
            let (per_sec, burst) = (self.per_sec, self.burst);
            map.retain(|_, (t, last)| {
                *t + now.duration_since(*last).as_secs_f64() * per_sec < burst
            });
        }
        let (tokens, last) = map.entry(operator).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_sec).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_per_operator() {
        let l: Limiter = Limiter::new(1, 2);
        assert!(l.check(1).is_ok());
        assert!(l.check(1).is_ok());
        let wait = l.check(1).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(l.check(2).is_ok(), "buckets are per operator");
    }
}
