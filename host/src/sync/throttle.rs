//! `--bwlimit`: one rate shared by every transfer of a run.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub struct Throttle {
    bytes_per_second: f64,
    /// The moment until which the bandwidth already handed out lasts.
    booked_until: Mutex<Instant>,
}

impl Throttle {
    pub fn new(bytes_per_second: u64) -> Self {
        Throttle {
            bytes_per_second: bytes_per_second as f64,
            booked_until: Mutex::new(Instant::now()),
        }
    }

    /// Wait until sending `bytes` more keeps the total at or under the rate.
    pub async fn acquire(&self, bytes: usize) {
        let ready_at = {
            let mut booked = self.booked_until.lock().unwrap_or_else(|p| p.into_inner());
            let start = (*booked).max(Instant::now());
            *booked = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_second);
            *booked
        };
        tokio::time::sleep_until(ready_at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn total_rate_is_capped_across_tasks() {
        let throttle = std::sync::Arc::new(Throttle::new(1_000_000));
        let started = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let throttle = throttle.clone();
                tokio::spawn(async move {
                    for _ in 0..5 {
                        throttle.acquire(100_000).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // 4 × 5 × 100 KB = 2 MB at 1 MB/s.
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }
}
