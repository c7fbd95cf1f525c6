// The Overview page's data: per-route traffic metrics over the last minutes (`/api/v1/metrics`)
// and the cache's counters (`/api/v1/cache`).
import { ApiError, client, problemDetail, unwrap } from "./client";
import type { components } from "./schema";

export type CacheStats = components["schemas"]["CacheStats"];

/** One route's traffic, one value per bucket, oldest first. */
export interface RouteMetrics {
  /** The route; `null` for requests no route matched. */
  route_id: number | null;
  /** Host and path prefix (`shop.localhost/`); `null` when no route matched. */
  route: string | null;
  /** Requests per bucket. */
  requests: number[];
  /** Exchanges that failed or answered 5xx, per bucket. */
  errors: number[];
  /** Median latency per bucket in milliseconds; `null` for a bucket without requests. */
  p50_ms: (number | null)[];
  /** 95th percentile latency per bucket in milliseconds; `null` for a bucket without requests. */
  p95_ms: (number | null)[];
}

/** Traffic per route in fixed buckets; bucket `i` of `n` ends `(n - i - 1)` buckets before `end`. */
export interface Metrics {
  bucket_secs: number;
  /** Unix milliseconds: the end of the newest bucket, which is still filling. */
  end: number;
  /** Routes with traffic in the window (others are absent). */
  routes: RouteMetrics[];
}

/** Requests, errors and latency per route over the last 15 minutes. */
export async function getMetrics(signal: AbortSignal | null = null): Promise<Metrics> {
  const response = await fetch("/api/v1/metrics", {
    signal,
    credentials: "same-origin",
    headers: { accept: "application/json" },
  });
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok || body === undefined) {
    throw new ApiError(response.status, problemDetail(body, response.status));
  }
  return body as Metrics;
}

/** Hits, misses, entries and stored bytes, in total and per route. */
export async function getCacheStats(signal: AbortSignal | null = null): Promise<CacheStats> {
  return unwrap(await client.GET("/api/v1/cache", { signal }));
}
