//! Per-route request metrics for the last minutes: requests, errors and latency percentiles
//! in 10-second buckets, kept in memory for the Overview's charts (`GET /api/v1/metrics`).
//!
//! Recorded by the proxy for every request once its response head is ready, whether or not
//! the inspector captures it (capture may be paused or off for a route). Latency is the time
//! from the request's arrival to that response head: the wait a user feels, and the same for a
//! 2 KiB JSON answer and a server-sent event stream that stays open for an hour (time to the
//! last byte would make every long-lived stream the p95).
//!
//! Each bucket keeps a log-scale histogram (four bins per doubling, about ±9 % error) instead of
//! every duration, so memory is fixed per route and recording is a few additions under a
//! mutex that is held for nanoseconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Seconds per bucket.
pub const BUCKET_SECS: u64 = 10;
/// Buckets kept: 15 minutes.
pub const BUCKETS: usize = 90;
/// Histogram bins: four per doubling of microseconds, 2^0 µs … 2^32 µs (about 71 minutes).
const BINS: usize = 128;
/// Routes (and "no route") tracked at once; past this, the least recently used is dropped.
const MAX_SERIES: usize = 1024;

/// The metrics store shared by the proxy and the admin API. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<HashMap<Option<i64>, Series>>>,
}

#[derive(Debug)]
struct Series {
    /// The route's label (host + path) when it was last seen.
    label: Option<String>,
    /// Indexed by bucket number modulo [`BUCKETS`].
    ring: Box<[Bucket; BUCKETS]>,
    /// The newest bucket number written.
    last: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Which bucket (Unix seconds / [`BUCKET_SECS`]) this slot holds now.
    number: u64,
    requests: u32,
    errors: u32,
    bins: [u32; BINS],
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        number: 0,
        requests: 0,
        errors: 0,
        bins: [0; BINS],
    };

    /// The latency below which `quantile` of this bucket's requests fall, in milliseconds
    /// (the geometric middle of the bin that holds it).
    fn percentile_ms(&self, quantile: f64) -> Option<f64> {
        if self.requests == 0 {
            return None;
        }
        // The rank of the wanted request, 1-based: ceil(q × n), at least 1.
        let rank = ((f64::from(self.requests) * quantile).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (bin, count) in self.bins.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return Some(bin_middle_ms(bin));
            }
        }
        None
    }
}

/// The histogram bin for a latency: `floor(4 × log2(µs))`, clamped to the bins.
fn bin_of(latency: Duration) -> usize {
    let micros = latency.as_micros().max(1) as f64;
    let bin = (micros.log2() * 4.0).floor();
    (bin.max(0.0) as usize).min(BINS - 1)
}

/// The geometric middle of a bin, in milliseconds.
fn bin_middle_ms(bin: usize) -> f64 {
    2f64.powf((bin as f64 + 0.5) / 4.0) / 1000.0
}

/// One route's series in a [`MetricsReport`], oldest bucket first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RouteMetrics {
    /// The route, or `null` for requests no route matched.
    pub route_id: Option<i64>,
    /// The route's host and path prefix, or `null` for requests no route matched.
    pub route: Option<String>,
    /// Requests per bucket.
    pub requests: Vec<u32>,
    /// Of those, the ones that failed or answered 5xx.
    pub errors: Vec<u32>,
    /// Median time to the response head per bucket, in milliseconds (`null`: no requests).
    pub p50_ms: Vec<Option<f64>>,
    /// 95th percentile of the same.
    pub p95_ms: Vec<Option<f64>>,
}

/// Requests, errors and latency per route over the last 15 minutes, in 10-second buckets.
///
/// Bucket `i` of `n` covers `[end − (n − i) × bucket_secs, end − (n − i − 1) × bucket_secs)`
/// seconds (times in Unix milliseconds); the last one is still filling.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct MetricsReport {
    /// Seconds per bucket.
    pub bucket_secs: u64,
    /// The end of the newest bucket, Unix milliseconds.
    pub end: i64,
    /// Every route with traffic in the window (no-route requests as `route_id: null`).
    pub routes: Vec<RouteMetrics>,
}

impl Metrics {
    /// An empty store.
    pub fn new() -> Self {
        Metrics::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Option<i64>, Series>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count one request of `route` (`None`: no route matched) that got its response head
    /// after `latency`; `error` when it failed or answered 5xx. `now_ms` is Unix milliseconds.
    pub fn record(&self, route: Option<(i64, &str)>, latency: Duration, error: bool, now_ms: i64) {
        let number = bucket_number(now_ms);
        let bin = bin_of(latency);
        let key = route.map(|(id, _)| id);
        let mut series = self.lock();
        if !series.contains_key(&key) && series.len() >= MAX_SERIES {
            let oldest = series.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                series.remove(&oldest);
            }
        }
        let entry = series.entry(key).or_insert_with(|| Series {
            label: None,
            ring: Box::new([Bucket::EMPTY; BUCKETS]),
            last: number,
        });
        if let Some((_, label)) = route
            && entry.label.as_deref() != Some(label)
        {
            entry.label = Some(label.to_owned());
        }
        entry.last = entry.last.max(number);
        let slot = &mut entry.ring[(number % BUCKETS as u64) as usize];
        if slot.number != number {
            *slot = Bucket {
                number,
                ..Bucket::EMPTY
            };
        }
        slot.requests = slot.requests.saturating_add(1);
        slot.errors = slot.errors.saturating_add(u32::from(error));
        slot.bins[bin] = slot.bins[bin].saturating_add(1);
    }

    /// The last 15 minutes as of `now_ms` (Unix milliseconds). Series with no requests in
    /// the window are left out (and forgotten).
    pub fn report(&self, now_ms: i64) -> MetricsReport {
        let newest = bucket_number(now_ms);
        let oldest = newest.saturating_sub(BUCKETS as u64 - 1);
        let mut series = self.lock();
        series.retain(|_, s| s.last >= oldest);
        let mut routes: Vec<RouteMetrics> = series
            .iter()
            .map(|(key, s)| {
                let buckets: Vec<Bucket> = (oldest..=newest)
                    .map(|number| {
                        let slot = s.ring[(number % BUCKETS as u64) as usize];
                        if slot.number == number {
                            slot
                        } else {
                            Bucket::EMPTY
                        }
                    })
                    .collect();
                RouteMetrics {
                    route_id: *key,
                    route: key.and(s.label.clone()),
                    requests: buckets.iter().map(|b| b.requests).collect(),
                    errors: buckets.iter().map(|b| b.errors).collect(),
                    p50_ms: buckets.iter().map(|b| b.percentile_ms(0.5)).collect(),
                    p95_ms: buckets.iter().map(|b| b.percentile_ms(0.95)).collect(),
                }
            })
            .filter(|r| r.requests.iter().any(|n| *n > 0))
            .collect();
        drop(series);
        routes.sort_by(|a, b| {
            (a.route_id.is_none(), &a.route, a.route_id).cmp(&(
                b.route_id.is_none(),
                &b.route,
                b.route_id,
            ))
        });
        let end_secs = (newest + 1) * BUCKET_SECS;
        MetricsReport {
            bucket_secs: BUCKET_SECS,
            end: i64::try_from(end_secs * 1000).unwrap_or(i64::MAX),
            routes,
        }
    }
}

/// The bucket a Unix-millisecond time falls in (times before 1970 count as 0).
fn bucket_number(now_ms: i64) -> u64 {
    u64::try_from(now_ms).unwrap_or(0) / 1000 / BUCKET_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_190_000_000;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn an_empty_store_reports_no_routes_and_a_bucket_aligned_end() {
        let report = Metrics::new().report(T0 + 1234);
        assert!(report.routes.is_empty());
        assert_eq!(report.bucket_secs, 10);
        assert_eq!(report.end % 10_000, 0);
        assert!(report.end > T0 + 1234 && report.end <= T0 + 1234 + 10_000);
    }

    #[test]
    fn requests_errors_and_percentiles_land_in_their_bucket() {
        let metrics = Metrics::new();
        for i in 0..100u64 {
            // 1..=100 ms; five of them 5xx.
            metrics.record(Some((7, "shop.localhost/")), ms(i + 1), i % 20 == 0, T0);
        }
        metrics.record(None, ms(3), false, T0);
        let report = metrics.report(T0);
        assert_eq!(report.routes.len(), 2);
        let shop = &report.routes[0];
        assert_eq!(shop.route_id, Some(7));
        assert_eq!(shop.route.as_deref(), Some("shop.localhost/"));
        assert_eq!(shop.requests.len(), BUCKETS);
        assert_eq!(shop.requests[BUCKETS - 1], 100);
        assert_eq!(shop.errors[BUCKETS - 1], 5);
        assert!(shop.requests[..BUCKETS - 1].iter().all(|n| *n == 0));
        assert!(shop.p50_ms[..BUCKETS - 1].iter().all(Option::is_none));
        let p50 = shop.p50_ms[BUCKETS - 1].expect("p50");
        let p95 = shop.p95_ms[BUCKETS - 1].expect("p95");
        // Within the histogram's ±10 %.
        assert!((45.0..=55.0).contains(&p50), "{p50}");
        assert!((86.0..=105.0).contains(&p95), "{p95}");
        // No-route requests come last, unlabelled.
        assert_eq!(report.routes[1].route_id, None);
        assert_eq!(report.routes[1].route, None);
        assert_eq!(report.routes[1].requests[BUCKETS - 1], 1);
    }

    #[test]
    fn buckets_move_with_time_and_old_traffic_falls_out_of_the_window() {
        let metrics = Metrics::new();
        metrics.record(Some((1, "a.localhost/")), ms(5), false, T0);
        metrics.record(Some((1, "a.localhost/")), ms(5), false, T0 + 10_000);
        metrics.record(Some((1, "a.localhost/")), ms(5), false, T0 + 10_000);
        let report = metrics.report(T0 + 10_000);
        let a = &report.routes[0];
        assert_eq!(a.requests[BUCKETS - 2..], [1, 2]);

        // 14 minutes later the first two buckets are still in the window, at its start.
        let later = T0 + 10_000 + 88 * 10_000;
        let report = metrics.report(later);
        assert_eq!(report.routes[0].requests[..2], [1, 2]);
        // A minute after that they are gone, and so is the series.
        let report = metrics.report(later + 60_000);
        assert!(report.routes.is_empty());
        assert!(metrics.lock().is_empty());
    }

    #[test]
    fn a_slot_reused_a_lap_later_starts_from_zero() {
        let metrics = Metrics::new();
        metrics.record(Some((1, "a.localhost/")), ms(5), true, T0);
        let lap = T0 + BUCKETS as i64 * 10_000;
        metrics.record(Some((1, "a.localhost/")), ms(5), false, lap);
        let report = metrics.report(lap);
        let a = &report.routes[0];
        assert_eq!(a.requests.iter().sum::<u32>(), 1);
        assert_eq!(a.errors.iter().sum::<u32>(), 0);
    }

    #[test]
    fn a_renamed_route_reports_its_new_label() {
        let metrics = Metrics::new();
        metrics.record(Some((1, "old.localhost/")), ms(1), false, T0);
        metrics.record(Some((1, "new.localhost/")), ms(1), false, T0);
        let report = metrics.report(T0);
        assert_eq!(report.routes[0].route.as_deref(), Some("new.localhost/"));
        assert_eq!(report.routes[0].requests[BUCKETS - 1], 2);
    }

    #[test]
    fn histogram_bins_cover_microseconds_to_an_hour() {
        assert_eq!(bin_of(Duration::ZERO), 0);
        assert_eq!(bin_of(Duration::from_secs(24 * 3600)), BINS - 1);
        for micros in [3u64, 250, 1_000, 42_000, 3_000_000] {
            let middle = bin_middle_ms(bin_of(Duration::from_micros(micros))) * 1000.0;
            let error = (middle - micros as f64).abs() / micros as f64;
            assert!(error < 0.1, "{micros} µs → {middle} µs");
        }
    }

    #[test]
    fn the_number_of_series_is_bounded() {
        let metrics = Metrics::new();
        for id in 0..(MAX_SERIES as i64 + 10) {
            metrics.record(Some((id, "x.localhost/")), ms(1), false, T0 + id);
        }
        assert_eq!(metrics.lock().len(), MAX_SERIES);
    }
}
