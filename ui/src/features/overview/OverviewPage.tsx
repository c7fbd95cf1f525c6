// The landing page: what went through the proxy in the last minutes, per route and in total,
// and the engine's state at a glance. Metrics refresh every 5 s (buckets are 10 s), so the
// newest bucket is never more than half a bucket behind.
import { useEffect, useMemo } from "react";
import { getHealth, listRoutes, subscribeEvents, type Listeners, type Route, type RouteHealth } from "../../api/client";
import { getCacheStats, getMetrics, type Metrics } from "../../api/metrics";
import { useStatus } from "../../app/status";
import { usePoll, type LoadError } from "../../lib/usePoll";
import { routeUrl } from "../routes/links";
import { formatSpan } from "./format";
import { RouteTraffic, type Timeline } from "./RouteTraffic";
import { routeName, trafficRows } from "./rows";
import { bucketCount, bucketDurations, rates, routeCounts, totalSeries } from "./stats";
import { Summary } from "./Summary";
import "./overview.css";

/** Metrics with the moment they arrived, so rates of the filling bucket use the right elapsed time. */
interface Loaded {
  metrics: Metrics;
  receivedAt: number;
}

async function loadMetrics(signal: AbortSignal): Promise<Loaded> {
  const metrics = await getMetrics(signal);
  return { metrics, receivedAt: Date.now() };
}

export function OverviewPage() {
  const metrics = usePoll(loadMetrics, 5_000);
  const routes = usePoll(listRoutes, 5_000);
  const health = usePoll(getHealth, 5_000);
  const cache = usePoll(getCacheStats, 10_000);
  const status = useStatus();
  const { reload: reloadRoutes } = routes;
  const { reload: reloadHealth } = health;
  const { reload: reloadMetrics } = metrics;

  useEffect(
    () =>
      subscribeEvents((event) => {
        if (event.type === "routes_changed" || event.type === "lagged") {
          reloadRoutes();
          reloadHealth();
          reloadMetrics();
        } else if (event.type === "upstream_health") {
          reloadHealth();
        }
      }),
    [reloadRoutes, reloadHealth, reloadMetrics],
  );

  const timeline = useMemo((): Timeline | undefined => {
    if (!metrics.data) return undefined;
    const { metrics: data, receivedAt } = metrics.data;
    const count = bucketCount(data);
    const bucketSecs = data.bucket_secs;
    return {
      count: count > 0 ? count : Math.round(900 / bucketSecs),
      bucketSecs,
      end: data.end,
      durations: bucketDurations(count, bucketSecs, data.end, receivedAt),
    };
  }, [metrics.data]);

  const total = useMemo(() => {
    if (!metrics.data || !timeline) return undefined;
    return rates(totalSeries(metrics.data.metrics), timeline.durations, timeline.bucketSecs);
  }, [metrics.data, timeline]);

  const counts = routes.data && health.data ? routeCounts(routes.data, health.data) : undefined;

  return (
    <>
      <h1 className="visually-hidden">Overview</h1>
      <Summary
        total={total}
        timeline={timeline}
        counts={counts}
        routes={routes.data}
        cache={cache.data}
        status={status}
      />
      {cache.error && cache.error.status !== 401 && (
        <p role="alert" className="error">
          Cache statistics: {cache.error.message}
        </p>
      )}
      <section className="panel ov-traffic" aria-labelledby="ov-traffic-title">
        <h2 id="ov-traffic-title">
          Traffic by route <span className="muted ov-title-span">last {formatSpan((timeline?.count ?? 90) * (timeline?.bucketSecs ?? 10))}</span>
        </h2>
        <TrafficBody
          metrics={metrics.data?.metrics}
          metricsError={metrics.error}
          routes={routes.data}
          routesError={routes.error}
          timeline={timeline}
          listeners={status?.listeners}
          health={health.data}
        />
      </section>
    </>
  );
}

interface BodyProps {
  metrics: Metrics | undefined;
  metricsError: LoadError | undefined;
  routes: Route[] | undefined;
  routesError: LoadError | undefined;
  timeline: Timeline | undefined;
  listeners: Listeners | undefined;
  health: RouteHealth[] | undefined;
}

function metricsMessage(error: LoadError): string {
  if (error.status === 404) {
    return "This engine does not report traffic metrics (GET /api/v1/metrics answered 404). Update Portico to see charts here.";
  }
  return error.message;
}

function TrafficBody({ metrics, metricsError, routes, routesError, timeline, listeners, health }: BodyProps) {
  const errors = (
    <>
      {metricsError && metricsError.status !== 401 && (
        <p role="alert" className="error">
          {metricsMessage(metricsError)}
        </p>
      )}
      {routesError && routesError.status !== 401 && (
        <p role="alert" className="error">
          {routesError.message}
        </p>
      )}
    </>
  );
  if (routes === undefined || (metrics === undefined && !metricsError)) {
    return (
      <>
        {errors}
        {!routesError && !metricsError && <p className="muted ov-loading">Loading traffic…</p>}
      </>
    );
  }

  const { active, quiet } = trafficRows(routes, metrics?.routes ?? []);
  const span = formatSpan((timeline?.count ?? 90) * (timeline?.bucketSecs ?? 10));

  return (
    <>
      {errors}
      {routes.length === 0 && <FirstRoute />}
      {routes.length > 0 && metrics !== undefined && active.length === 0 && (
        <NoTraffic routes={routes} listeners={listeners} span={span} />
      )}
      {timeline && active.length > 0 && (
        <div className="ov-routes">
          {active.map((row) => (
            <RouteTraffic
              key={row.key}
              row={row}
              timeline={timeline}
              listeners={listeners}
              health={row.route ? health?.find((entry) => entry.route_id === row.route?.id) : undefined}
            />
          ))}
        </div>
      )}
      {active.length > 0 && quiet.length > 0 && (
        <p className="ov-quiet muted">
          No requests in the last {span}:{" "}
          {quiet.map((route, i) => (
            <span key={route.id}>
              {i > 0 && ", "}
              <RouteLink route={route} listeners={listeners} />
            </span>
          ))}
        </p>
      )}
    </>
  );
}

function RouteLink({ route, listeners }: { route: Route; listeners: Listeners | undefined }) {
  const url = listeners ? routeUrl(route, listeners) : null;
  const name = routeName(route);
  return url ? (
    <a href={url} target="_blank" rel="noreferrer">
      {name}
    </a>
  ) : (
    <span>{name}</span>
  );
}

function FirstRoute() {
  return (
    <div className="empty ov-empty" data-empty="no-routes">
      <h3>Map your first dev server</h3>
      <p>
        Portico gives each dev server a name such as <code>app.localhost</code>. On{" "}
        <a href="#/routes">Routes</a>, running dev servers are one click away; or run{" "}
        <code>portico route add app.localhost 5173</code> to send <code>app.localhost</code> to the server on port
        5173.
      </p>
      <p>
        <a className="ov-cta" href="#/routes">
          Map a dev server
        </a>
      </p>
    </div>
  );
}

function NoTraffic({ routes, listeners, span }: { routes: Route[]; listeners: Listeners | undefined; span: string }) {
  const enabled = routes.filter((route) => route.enabled);
  const withUrl = enabled
    .map((route) => ({ route, url: listeners ? routeUrl(route, listeners) : null }))
    .filter((entry): entry is { route: Route; url: string } => entry.url !== null)
    .slice(0, 3);
  return (
    <div className="empty ov-empty" data-empty="no-traffic">
      <h3>No traffic in the last {span}</h3>
      {withUrl.length > 0 ? (
        <p>
          Open{" "}
          {withUrl.map(({ route, url }, i) => (
            <span key={route.id}>
              {i > 0 && (i === withUrl.length - 1 ? " or " : ", ")}
              <a href={url} target="_blank" rel="noreferrer">
                {url}
              </a>
            </span>
          ))}{" "}
          to see traffic here.
        </p>
      ) : enabled.length === 0 ? (
        <p>
          Every route is disabled. Enable one on <a href="#/routes">Routes</a> to send traffic through it.
        </p>
      ) : (
        <p>Requests through the proxy to {routes.map(routeName).join(", ")} will show here.</p>
      )}
    </div>
  );
}
