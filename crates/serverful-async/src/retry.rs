//! When Lambda tries an asynchronous event again: after a function error, one minute
//! before the second attempt and two before the third; after a throttle (no concurrency
//! free), from one second doubling up to five minutes. A server setting scales the
//! whole schedule down for development and tests.

use std::time::Duration;

/// The delays between attempts. [`RetrySchedule::aws`] is Lambda's; a shorter first delay
/// scales every delay by the same factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait before the first retry of a function error (one minute on AWS).
    pub first_retry: Duration,
}

/// Lambda's wait before retrying a function error the first time.
const AWS_FIRST_RETRY: Duration = Duration::from_secs(60);
/// Lambda's first wait after a throttle, and its longest.
const AWS_FIRST_THROTTLE: Duration = Duration::from_secs(1);
const AWS_LONGEST_THROTTLE: Duration = Duration::from_secs(300);

impl RetrySchedule {
    /// Lambda's schedule.
    pub fn aws() -> RetrySchedule {
        RetrySchedule {
            first_retry: AWS_FIRST_RETRY,
        }
    }

    /// The schedule with its first retry after `first_retry` and every other delay
    /// scaled by the same factor (`SERVERFUL_ASYNC_RETRY_DELAY_MS`).
    pub fn scaled(first_retry: Duration) -> RetrySchedule {
        RetrySchedule { first_retry }
    }

    fn scale(&self, aws: Duration) -> Duration {
        aws.mul_f64(self.first_retry.as_secs_f64() / AWS_FIRST_RETRY.as_secs_f64())
    }

    /// The wait after the `failed_attempts`-th attempt failed with a function error
    /// (1: before the second attempt, one minute; 2: before the third, two minutes).
    pub fn after_error(&self, failed_attempts: u32) -> Duration {
        self.first_retry * failed_attempts.clamp(1, 2)
    }

    /// The wait after the `throttles`-th throttle in a row: one second, doubling, at most
    /// five minutes (scaled like the rest).
    pub fn after_throttle(&self, throttles: u32) -> Duration {
        let doubled = AWS_FIRST_THROTTLE * 2u32.saturating_pow(throttles.saturating_sub(1).min(16));
        self.scale(doubled.min(AWS_LONGEST_THROTTLE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_errors_wait_one_then_two_minutes_as_on_aws() {
        let aws = RetrySchedule::aws();
        assert_eq!(aws.after_error(1), Duration::from_secs(60));
        assert_eq!(aws.after_error(2), Duration::from_secs(120));
    }

    #[test]
    fn throttles_back_off_from_one_second_to_five_minutes() {
        let aws = RetrySchedule::aws();
        let waits: Vec<u64> = (1..=11).map(|n| aws.after_throttle(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(aws.after_throttle(1_000), Duration::from_secs(300));
    }

    #[test]
    fn a_shorter_first_retry_scales_the_whole_schedule() {
        let fast = RetrySchedule::scaled(Duration::from_millis(600));
        assert_eq!(fast.after_error(1), Duration::from_millis(600));
        assert_eq!(fast.after_error(2), Duration::from_millis(1200));
        assert_eq!(fast.after_throttle(1), Duration::from_millis(10));
        assert_eq!(fast.after_throttle(20), Duration::from_millis(3000));
    }
}
