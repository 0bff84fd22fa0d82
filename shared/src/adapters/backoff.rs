//! The one retry delay of the adapters: exponential from `base`, capped, with jitter over the upper
//! half so that retries from many execution environments do not line up.

use std::time::Duration;

/// The delay before retry number `attempt` (0 for the first retry).
pub fn delay(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let capped = base.saturating_mul(1 << attempt.min(10)).min(cap);
    let half = capped / 2;
    half + half.mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_stays_in_the_upper_half() {
        let (base, cap) = (Duration::from_millis(20), Duration::from_millis(1280));
        for attempt in 0..20 {
            let full = base.saturating_mul(1 << attempt.min(10)).min(cap);
            for _ in 0..50 {
                let d = delay(base, attempt, cap);
                assert!(d >= full / 2 && d <= full, "{attempt}: {d:?} of {full:?}");
            }
        }
    }
}
