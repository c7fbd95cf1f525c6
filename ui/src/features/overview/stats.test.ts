import { describe, expect, it } from "vitest";
import type { Route, RouteHealth } from "../../api/client";
import type { Metrics, RouteMetrics } from "../../api/metrics";
import {
  bucketDurations,
  bucketStart,
  cacheHitRatio,
  errorPercents,
  hasTraffic,
  perSecond,
  rates,
  recent,
  routeCounts,
  totalSeries,
} from "./stats";

const END = 1_764_190_000_000;

function series(requests: number[], errors: number[], p95: (number | null)[] = requests.map(() => null)): RouteMetrics {
  return {
    route_id: 1,
    route: "shop.localhost/",
    requests,
    errors,
    p50_ms: p95.map((value) => (value === null ? null : value / 2)),
    p95_ms: p95,
  };
}

describe("bucketDurations", () => {
  it("counts full buckets whole and the filling one as far as it got", () => {
    // 4 s into the newest bucket, which ends at END.
    expect(bucketDurations(3, 10, END, END - 6_000)).toEqual([10, 10, 4]);
  });
  it("counts a bucket that just started as one second, and never more than a bucket", () => {
    expect(bucketDurations(2, 10, END, END - 10_000)).toEqual([10, 1]);
    expect(bucketDurations(2, 10, END, END + 5_000)).toEqual([10, 10]);
    expect(bucketDurations(0, 10, END, END)).toEqual([]);
  });
  it("places buckets before the window's end", () => {
    expect(bucketStart(89, 90, 10, END)).toBe(END - 10_000);
    expect(bucketStart(0, 90, 10, END)).toBe(END - 900_000);
  });
});

describe("rates", () => {
  it("turns requests per bucket into requests per second", () => {
    expect(perSecond([0, 20, 5], [10, 10, 2.5])).toEqual([0, 2, 2]);
    expect(perSecond([3], [0])).toEqual([0]);
  });
  it("gives each bucket's error percentage, none without requests", () => {
    expect(errorPercents([0, 4, 10], [0, 1, 10])).toEqual([null, 25, 100]);
    // More errors than requests (counted in different buckets) never exceeds 100%.
    expect(errorPercents([2], [3])).toEqual([100]);
  });
  it("sums the last minute for the current numbers", () => {
    const requests = [100, ...new Array<number>(6).fill(6)];
    const errors = [50, 0, 0, 0, 0, 0, 3];
    const durations = bucketDurations(requests.length, 10, END, END - 5_000);
    const now = recent(series(requests, errors, [9, 1, 2, 3, 4, 5, null]), durations, 10);
    expect(now.requests).toBe(36);
    expect(now.errors).toBe(3);
    expect(now.seconds).toBe(55);
    expect(now.reqPerSec).toBeCloseTo(36 / 55);
    expect(now.errorPct).toBeCloseTo(100 * (3 / 36));
    // The newest bucket with requests but no percentiles yet is skipped.
    expect(now.p95).toBe(5);
    expect(now.p50).toBe(2.5);
  });
  it("has no error rate or latency without recent requests", () => {
    const now = recent(series([5, 0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0, 0], [3, null, null, null, null, null, null]), new Array<number>(7).fill(10), 10);
    expect(now.reqPerSec).toBe(0);
    expect(now.errorPct).toBeNull();
    expect(now.p95).toBeNull();
  });
  it("draws a route's whole window", () => {
    const drawn = rates(series([10, 0, 5], [1, 0, 5], [4, null, 8]), [10, 10, 5], 10);
    expect(drawn.reqPerSec).toEqual([1, 0, 1]);
    expect(drawn.errPerSec).toEqual([0.1, 0, 1]);
    expect(drawn.errorPct).toEqual([10, null, 100]);
    expect(drawn.p95).toEqual([4, null, 8]);
    expect(drawn.p50).toEqual([2, null, 4]);
    expect(drawn.requests).toBe(15);
    expect(drawn.errors).toBe(6);
  });
});

describe("totals across routes", () => {
  const metrics: Metrics = {
    bucket_secs: 10,
    end: END,
    routes: [
      series([1, 2, 3], [0, 1, 0]),
      { ...series([10, 0, 0], [0, 0, 0]), route_id: null, route: null },
      // A shorter series lines up with the newest buckets.
      series([5, 5], [5, 0]),
    ],
  };
  it("adds up requests and errors per bucket", () => {
    const total = totalSeries(metrics);
    expect(total.requests).toEqual([11, 7, 8]);
    expect(total.errors).toEqual([0, 6, 0]);
    expect(total.p95_ms).toEqual([null, null, null]);
  });
  it("knows whether there was any traffic", () => {
    expect(hasTraffic(metrics)).toBe(true);
    expect(hasTraffic({ routes: [] })).toBe(false);
    expect(hasTraffic({ routes: [series([0, 0], [0, 0])] })).toBe(false);
  });
  it("totals nothing without routes", () => {
    expect(totalSeries({ routes: [] }).requests).toEqual([]);
  });
});

describe("routeCounts", () => {
  const route = (id: number, enabled: boolean) => ({ id, enabled }) as Route;
  const probe = (route_id: number, up: boolean) => ({ route_id, up }) as RouteHealth;
  it("counts stored, enabled, up and down routes", () => {
    const routes = [route(1, true), route(2, true), route(3, false), route(4, true)];
    const health = [probe(1, true), probe(2, false), probe(4, true), probe(9, false)];
    expect(routeCounts(routes, health)).toEqual({ total: 4, enabled: 3, up: 2, down: 1 });
  });
});

describe("cacheHitRatio", () => {
  it("counts fresh, revalidated and stale answers against misses", () => {
    expect(cacheHitRatio({ hits: 6, revalidated: 1, stale: 1, misses: 2 })).toEqual({ served: 8, lookups: 10, ratio: 0.8 });
  });
  it("has no ratio before the first lookup", () => {
    expect(cacheHitRatio({ hits: 0, revalidated: 0, stale: 0, misses: 0 }).ratio).toBeNull();
  });
});
