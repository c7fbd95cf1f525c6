// The Overview's arithmetic: bucket counts turned into rates and error percentages, the
// latest minute of a route, totals across routes, route health counts and the cache's hit
// ratio. No network, no React.
import type { Route, RouteHealth } from "../../api/client";
import type { CacheStats, Metrics } from "../../api/metrics";

/** What "now" means for the numbers next to the charts: the last minute. */
export const RECENT_SECS = 60;

/** The per-bucket series of one route (or of all routes together). */
export interface Series {
  requests: readonly number[];
  errors: readonly number[];
  p50_ms: readonly (number | null)[];
  p95_ms: readonly (number | null)[];
}

/** Recent activity: counts, rates and the latest latency percentiles. */
export interface Recent {
  requests: number;
  errors: number;
  /** How many seconds the recent buckets have covered so far. */
  seconds: number;
  reqPerSec: number;
  /** `null` when there were no requests. */
  errorPct: number | null;
  /** The newest recent bucket's percentiles that had requests; `null` without requests. */
  p50: number | null;
  p95: number | null;
}

/** A series ready to draw, with its totals and its recent values. */
export interface Rates {
  reqPerSec: number[];
  errPerSec: number[];
  errorPct: (number | null)[];
  p50: (number | null)[];
  p95: (number | null)[];
  requests: number;
  errors: number;
  recent: Recent;
}

/**
 * How many seconds each of `count` buckets has covered at `now` (Unix ms): `bucketSecs` for
 * all but the newest, which is still filling up to `end`. The newest counts at least one
 * second so a bucket that just started does not turn one request into a spike.
 */
export function bucketDurations(count: number, bucketSecs: number, end: number, now: number): number[] {
  if (count <= 0) return [];
  const durations = new Array<number>(count).fill(bucketSecs);
  const elapsed = (now - (end - bucketSecs * 1000)) / 1000;
  durations[count - 1] = Math.min(Math.max(elapsed, Math.min(1, bucketSecs)), bucketSecs);
  return durations;
}

/** When bucket `index` of `count` starts, Unix ms. */
export function bucketStart(index: number, count: number, bucketSecs: number, end: number): number {
  return end - (count - index) * bucketSecs * 1000;
}

/** Counts per bucket as rates per second. */
export function perSecond(counts: readonly number[], durations: readonly number[]): number[] {
  return counts.map((count, i) => {
    const seconds = durations[i] ?? 0;
    return seconds > 0 ? count / seconds : 0;
  });
}

/** Errors as a percentage of requests per bucket; `null` for a bucket without requests. */
export function errorPercents(requests: readonly number[], errors: readonly number[]): (number | null)[] {
  return requests.map((count, i) => (count > 0 ? (100 * Math.min(errors[i] ?? 0, count)) / count : null));
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** The last `RECENT_SECS` worth of buckets. */
export function recent(series: Series, durations: readonly number[], bucketSecs: number): Recent {
  const count = series.requests.length;
  const take = Math.min(count, Math.max(1, Math.round(RECENT_SECS / bucketSecs)));
  const from = count - take;
  const requests = sum(series.requests.slice(from));
  const errors = sum(series.errors.slice(from));
  const seconds = sum(durations.slice(from, count));
  let p50: number | null = null;
  let p95: number | null = null;
  for (let i = count - 1; i >= from; i--) {
    const p95At = series.p95_ms[i] ?? null;
    if (p95At !== null) {
      p95 = p95At;
      p50 = series.p50_ms[i] ?? null;
      break;
    }
  }
  return {
    requests,
    errors,
    seconds,
    reqPerSec: seconds > 0 ? requests / seconds : 0,
    errorPct: requests > 0 ? (100 * Math.min(errors, requests)) / requests : null,
    p50,
    p95,
  };
}

/** Everything the Overview draws for one series. */
export function rates(series: Series, durations: readonly number[], bucketSecs: number): Rates {
  return {
    reqPerSec: perSecond(series.requests, durations),
    errPerSec: perSecond(series.errors, durations),
    errorPct: errorPercents(series.requests, series.errors),
    p50: [...series.p50_ms],
    p95: [...series.p95_ms],
    requests: sum(series.requests),
    errors: sum(series.errors),
    recent: recent(series, durations, bucketSecs),
  };
}

/** How many buckets the window has (the longest series). */
export function bucketCount(metrics: Pick<Metrics, "routes">): number {
  return metrics.routes.reduce((max, route) => Math.max(max, route.requests.length), 0);
}

/**
 * All routes (and unmatched requests) added up per bucket. Latency percentiles cannot be
 * added up, so the total has none.
 */
export function totalSeries(metrics: Pick<Metrics, "routes">): Series {
  const count = bucketCount(metrics);
  const requests = new Array<number>(count).fill(0);
  const errors = new Array<number>(count).fill(0);
  for (const route of metrics.routes) {
    const offset = count - route.requests.length;
    route.requests.forEach((value, i) => (requests[offset + i] = (requests[offset + i] ?? 0) + value));
    route.errors.forEach((value, i) => (errors[offset + i] = (errors[offset + i] ?? 0) + value));
  }
  const none = new Array<null>(count).fill(null);
  return { requests, errors, p50_ms: none, p95_ms: none };
}

/** Whether anything went through the proxy in the window. */
export function hasTraffic(metrics: Pick<Metrics, "routes">): boolean {
  return metrics.routes.some((route) => route.requests.some((count) => count > 0));
}

/** Routes by state: stored, enabled, and of the probed (enabled upstream) ones up and down. */
export interface RouteCounts {
  total: number;
  enabled: number;
  up: number;
  down: number;
}

/** Count routes and their upstreams' health; probes of routes no longer listed are ignored. */
export function routeCounts(routes: readonly Route[], health: readonly RouteHealth[]): RouteCounts {
  const enabled = new Set(routes.filter((route) => route.enabled).map((route) => route.id));
  const probed = health.filter((entry) => enabled.has(entry.route_id));
  const up = probed.filter((entry) => entry.up).length;
  return { total: routes.length, enabled: enabled.size, up, down: probed.length - up };
}

/** How much of the cacheable traffic the cache answered. */
export interface HitRatio {
  /** Answered from a stored response: fresh hits, revalidated and stale ones. */
  served: number;
  /** Requests the cache looked up: `served` plus misses (bypassed requests are not counted). */
  lookups: number;
  /** `served / lookups`, 0 to 1; `null` before the first lookup. */
  ratio: number | null;
}

export function cacheHitRatio(stats: Pick<CacheStats, "hits" | "revalidated" | "stale" | "misses">): HitRatio {
  const served = stats.hits + stats.revalidated + stats.stale;
  const lookups = served + stats.misses;
  return { served, lookups, ratio: lookups > 0 ? served / lookups : null };
}
