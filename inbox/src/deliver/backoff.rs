//! Exponential backoff with jitter between delivery attempts.

use std::time::Duration;

use rand::Rng;

use crate::config::Retry;

/// Wait after the `attempt`-th failure (1-based): initial * 2^(attempt-1),
/// capped at max, then drawn uniformly from [half, full] ("equal jitter") so
/// that many inboxes, or many referrals, do not hit a recovering server at
/// the same second.
pub fn delay(retry: &Retry, attempt: u32, rng: &mut impl Rng) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = retry
        .initial_seconds
        .saturating_mul(1u64 << exp)
        .min(retry.max_seconds)
        .max(1);
    let ms = full * 1000;
    Duration::from_millis(rng.gen_range(ms / 2..=ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter() {
        let r = Retry {
            initial_seconds: 30,
            max_seconds: 3600,
            give_up_hours: 168,
            poll_seconds: 5,
        };
        let mut rng = rand::thread_rng();
        for (attempt, full) in [(1, 30), (2, 60), (3, 120), (8, 3600), (40, 3600)] {
            for _ in 0..50 {
                let d = delay(&r, attempt, &mut rng).as_millis() as u64;
                assert!(
                    (full * 500..=full * 1000).contains(&d),
                    "attempt {attempt}: {d}"
                );
            }
        }
    }
}
