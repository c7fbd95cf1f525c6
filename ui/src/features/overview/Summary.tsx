// The top of the Overview: traffic and errors across all routes, route health, the traffic
// inspector, the cache and the listeners, each a number with a line of context.
import type { ReactNode } from "react";
import type { Route, Status } from "../../api/client";
import type { CacheStats } from "../../api/metrics";
import { Chart } from "./Chart";
import { formatClock, formatPercent, formatRate, formatRatio, formatSpan, plural } from "./format";
import { formatCount } from "../../lib/format";
import type { Timeline } from "./RouteTraffic";
import { bucketStart, cacheHitRatio, type Rates, type RouteCounts } from "./stats";

interface Props {
  /** All traffic added up; `undefined` until the metrics load. */
  total: Rates | undefined;
  timeline: Timeline | undefined;
  counts: RouteCounts | undefined;
  routes: Route[] | undefined;
  cache: CacheStats | undefined;
  status: Status | undefined;
}

function Tile({ label, value, children, name }: { label: string; value: ReactNode; children?: ReactNode; name: string }) {
  return (
    <div className="ov-tile" data-tile={name}>
      <dt>{label}</dt>
      <dd className="ov-tile-value">{value}</dd>
      <dd className="ov-tile-sub">{children}</dd>
    </div>
  );
}

const PENDING = <span className="muted">…</span>;

export function Summary({ total, timeline, counts, routes, cache, status }: Props) {
  const recent = total?.recent;
  const span = timeline ? formatSpan(timeline.count * timeline.bucketSecs) : "15 min";
  const hit = cache ? cacheHitRatio(cache) : undefined;
  const cachingRoutes = routes?.filter((route) => route.cache).length;
  const capture = status?.capture;
  const listeners = status?.listeners;

  return (
    <section className="panel ov-summary" aria-label="Summary">
      <dl className="ov-tiles">
        <Tile name="requests" label="Requests" value={recent ? <>{formatRate(recent.reqPerSec)}<small> /s</small></> : PENDING}>
          {total && timeline ? (
            <>
              <span>
                last minute · {formatCount(total.requests)} in {span}
              </span>
              <Chart
                span={span}
                label={`Requests per second to all routes over the last ${span}: ${plural(total.requests, "request")}, ${formatRate(recent?.reqPerSec ?? 0)} per second in the last minute.`}
                formatMax={(max) => `${formatRate(max)}/s`}
                layers={[
                  { values: total.reqPerSec, kind: "area", tone: "accent" },
                  ...(total.errors > 0 ? [{ values: total.errPerSec, kind: "area" as const, tone: "error" as const }] : []),
                ]}
                describe={(i) =>
                  `${formatClock(bucketStart(i, timeline.count, timeline.bucketSecs, timeline.end))} · ${formatRate(total.reqPerSec[i] ?? 0)}/s`
                }
              />
            </>
          ) : (
            "last minute"
          )}
        </Tile>

        <Tile
          name="errors"
          label="Error rate"
          value={
            recent ? (
              <span className={(recent.errorPct ?? 0) > 0 ? "ov-bad" : undefined}>{formatPercent(recent.errorPct)}</span>
            ) : (
              PENDING
            )
          }
        >
          {total
            ? total.recent.requests > 0
              ? `${formatCount(total.recent.errors)} of ${plural(total.recent.requests, "request")} failed or 5xx, last minute`
              : total.errors > 0
                ? `no requests in the last minute; ${plural(total.errors, "error")} in ${span}`
                : "no requests in the last minute"
            : "failed or 5xx, last minute"}
        </Tile>

        <Tile
          name="routes"
          label="Routes"
          value={
            counts ? (
              <span className="ov-health-counts">
                <span className="ov-count">
                  <span className={counts.up > 0 ? "dot dot-up" : "dot"} aria-hidden="true" /> {counts.up} up
                </span>
                <span className={`ov-count${counts.down > 0 ? " ov-bad" : ""}`}>
                  <span className={counts.down > 0 ? "dot dot-down" : "dot"} aria-hidden="true" /> {counts.down} down
                </span>
              </span>
            ) : (
              PENDING
            )
          }
        >
          {counts ? (
            <>
              {plural(counts.total, "route")}
              {counts.total > counts.enabled ? `, ${counts.total - counts.enabled} disabled` : ""} ·{" "}
              <a href="#/routes">Manage</a>
            </>
          ) : (
            "upstreams accepting connections"
          )}
        </Tile>

        <Tile
          name="capture"
          label="Traffic capture"
          value={
            capture ? (
              capture.paused ? (
                <span className="ov-warn">Paused</span>
              ) : capture.store_error ? (
                <span className="ov-warn">Not stored</span>
              ) : (
                "Recording"
              )
            ) : (
              PENDING
            )
          }
        >
          {capture ? (
            capture.store_error ? (
              <span className="ov-warn">{capture.store_error}</span>
            ) : capture.store_reset ? (
              <span className="ov-warn">{capture.store_reset}</span>
            ) : capture.dropped > 0 ? (
              <span className="ov-warn">
                {plural(capture.dropped, "exchange")} dropped (the recorder could not keep up)
              </span>
            ) : capture.paused ? (
              <>
                new requests are not recorded · <a href="#/settings">Settings</a>
              </>
            ) : (
              <>
                nothing dropped · <a href="#/traffic">Inspect</a>
              </>
            )
          ) : (
            "the traffic inspector"
          )}
        </Tile>

        <Tile
          name="cache"
          label="Cache hit ratio"
          value={hit ? (hit.ratio === null ? <span className="muted">–</span> : formatRatio(hit.ratio)) : PENDING}
        >
          {hit && cache
            ? hit.lookups > 0
              ? `${formatCount(hit.served)} of ${plural(hit.lookups, "cacheable request")} since start`
              : cachingRoutes === 0
                ? "caching is off on every route"
                : "no cacheable requests yet"
            : "since start"}
        </Tile>

        <Tile
          name="listeners"
          label="Listening"
          value={
            listeners ? (
              <span className="ov-listeners">
                <span>
                  HTTP <code>{listeners.http.join(", ") || "off"}</code>
                </span>
                <span>
                  HTTPS <code>{listeners.https.join(", ") || "off"}</code>
                </span>
              </span>
            ) : (
              PENDING
            )
          }
        >
          {listeners ? (
            <>
              admin <code>{listeners.admin.join(", ")}</code>
            </>
          ) : (
            "proxy and admin addresses"
          )}
        </Tile>
      </dl>
    </section>
  );
}
