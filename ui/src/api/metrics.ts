// The Overview page's data: per-route traffic metrics over the last minutes (`/api/v1/metrics`)
// and the cache's counters (`/api/v1/cache`).
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type CacheStats = components["schemas"]["CacheStats"];

/** Traffic per route in 10-second buckets over the last 15 minutes. */
export type Metrics = components["schemas"]["MetricsReport"];
/** One route's series (`route_id` and `route` are `null` for requests no route matched). */
export type RouteMetrics = components["schemas"]["RouteMetrics"];

/** Requests, errors and latency per route over the last 15 minutes. */
export async function getMetrics(signal: AbortSignal | null = null): Promise<Metrics> {
  return unwrap(await client.GET("/api/v1/metrics", { signal }));
}

/** Hits, misses, entries and stored bytes, in total and per route. */
export async function getCacheStats(signal: AbortSignal | null = null): Promise<CacheStats> {
  return unwrap(await client.GET("/api/v1/cache", { signal }));
}
