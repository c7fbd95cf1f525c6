import { describe, expect, it } from "vitest";
import type { Route } from "../../api/client";
import type { RouteMetrics } from "../../api/metrics";
import { labelName, routeName, trafficRows } from "./rows";

const route = (id: number, host: string, path = "/") => ({ id, host, path }) as Route;
const traffic = (route_id: number | null, label: string | null, requests = [0, 3]): RouteMetrics => ({
  route_id,
  route: label,
  requests,
  errors: requests.map(() => 0),
  p50_ms: requests.map(() => null),
  p95_ms: requests.map(() => null),
});

describe("names", () => {
  it("writes routes as the Routes page does", () => {
    expect(routeName(route(1, "shop.localhost"))).toBe("shop.localhost");
    expect(routeName(route(1, "shop.localhost", "/api"))).toBe("shop.localhost/api");
  });
  it("reads metrics labels the same way", () => {
    expect(labelName("shop.localhost/")).toBe("shop.localhost");
    expect(labelName("shop.localhost/api")).toBe("shop.localhost/api");
    expect(labelName("shop.localhost/api/")).toBe("shop.localhost/api/");
    expect(labelName(null)).toBe("No route matched");
  });
});

describe("trafficRows", () => {
  const routes = [route(2, "b.localhost"), route(1, "a.localhost"), route(3, "c.localhost")];
  it("keeps the routes' order, then removed routes, then unmatched requests", () => {
    const { active, quiet } = trafficRows(routes, [
      traffic(null, null),
      traffic(9, "gone.localhost/"),
      traffic(1, "a.localhost/"),
      traffic(2, "b.localhost/"),
    ]);
    expect(active.map((row) => row.name)).toEqual(["b.localhost", "a.localhost", "gone.localhost", "No route matched"]);
    expect(active.map((row) => row.key)).toEqual(["route-2", "route-1", "route-9", "unmatched"]);
    expect(active[0]?.route?.id).toBe(2);
    expect(active[2]?.route).toBeNull();
    expect(quiet.map((r) => r.id)).toEqual([3]);
  });
  it("treats a series without a route id as unmatched requests", () => {
    const unlabelled: RouteMetrics = traffic(null, null);
    delete unlabelled.route_id;
    delete unlabelled.route;
    const { active } = trafficRows(routes, [unlabelled]);
    expect(active.map((row) => [row.key, row.name])).toEqual([["unmatched", "No route matched"]]);
  });
  it("counts a route whose buckets are all zero as quiet", () => {
    const { active, quiet } = trafficRows(routes, [traffic(1, "a.localhost/", [0, 0])]);
    expect(active).toEqual([]);
    expect(quiet).toHaveLength(3);
  });
});
