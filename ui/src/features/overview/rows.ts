// Which routes the Overview charts and in what order: the routes with traffic in the window
// (in the Routes page's order, then traffic of routes since removed, then requests no route
// matched), and the quiet ones. No network, no React.
import type { Route } from "../../api/client";
import type { RouteMetrics } from "../../api/metrics";

/** One charted line of traffic. */
export interface TrafficRow {
  /** Stable across refreshes, for React keys and test selectors. */
  key: string;
  /** The stored route; `null` for unmatched requests or a route removed since. */
  route: Route | null;
  /** What the user calls it: `shop.localhost`, `shop.localhost/api`. */
  name: string;
  metrics: RouteMetrics;
}

/** The name the Routes page shows: the host, with the path prefix unless it is `/`. */
export function routeName(route: Pick<Route, "host" | "path">): string {
  return route.path === "/" ? route.host : `${route.host}${route.path}`;
}

/** A metrics label (`host/`, `host/api`) written like `routeName`. */
export function labelName(label: string | null): string {
  if (label === null) return "No route matched";
  return label.endsWith("/") && label.indexOf("/") === label.length - 1 ? label.slice(0, -1) : label;
}

function hasRequests(metrics: RouteMetrics): boolean {
  return metrics.requests.some((count) => count > 0);
}

/** Routes with traffic to chart, and stored routes without any (`quiet`). */
export function trafficRows(
  routes: readonly Route[],
  metrics: readonly RouteMetrics[],
): { active: TrafficRow[]; quiet: Route[] } {
  const byId = new Map(routes.map((route, order) => [route.id, { route, order }]));
  const active = metrics.filter(hasRequests).map((entry) => {
    const id = entry.route_id ?? null;
    const known = id === null ? undefined : byId.get(id);
    const row: TrafficRow = {
      key: id === null ? "unmatched" : `route-${id}`,
      route: known?.route ?? null,
      name: known ? routeName(known.route) : labelName(entry.route ?? null),
      metrics: entry,
    };
    // Stored routes first in their order, then removed ones by id, unmatched last.
    const rank = known ? known.order : id === null ? Number.MAX_SAFE_INTEGER : routes.length + id;
    return { row, rank };
  });
  active.sort((a, b) => a.rank - b.rank);
  const charted = new Set(active.map(({ row }) => row.route?.id));
  return { active: active.map(({ row }) => row), quiet: routes.filter((route) => !charted.has(route.id)) };
}
