// One route's last minutes: requests per second, error rate and latency as charts, each with
// its current value, and links to the route and to its traffic.
import type { Listeners, RouteHealth } from "../../api/client";
import { describeTarget, routeUrl } from "../routes/links";
import { Chart } from "./Chart";
import { formatClock, formatMs, formatPercent, formatRate, formatSpan, plural } from "./format";
import { formatCount } from "../../lib/format";
import type { TrafficRow } from "./rows";
import { bucketStart, rates } from "./stats";

/** The timeline the charts cover, shared by every row. */
export interface Timeline {
  count: number;
  bucketSecs: number;
  end: number;
  durations: readonly number[];
}

interface Props {
  row: TrafficRow;
  timeline: Timeline;
  listeners: Listeners | undefined;
  health: RouteHealth | undefined;
}

export function RouteTraffic({ row, timeline, listeners, health }: Props) {
  const { route, name, metrics } = row;
  const drawn = rates(metrics, timeline.durations, timeline.bucketSecs);
  const now = drawn.recent;
  const url = route && listeners ? routeUrl(route, listeners) : null;
  const span = formatSpan(timeline.count * timeline.bucketSecs);
  const titleId = `ov-route-${row.key}`;
  const at = (index: number) => {
    const start = formatClock(bucketStart(index, timeline.count, timeline.bucketSecs, timeline.end));
    return index === timeline.count - 1 ? `${start} (now)` : start;
  };
  const requestsAt = (index: number) => metrics.requests[index] ?? 0;
  const errorsAt = (index: number) => metrics.errors[index] ?? 0;
  const hasErrors = drawn.errors > 0;

  return (
    <article
      className="ov-route"
      aria-labelledby={titleId}
      data-route-key={row.key}
      data-name={name}
    >
      <div className="ov-route-head">
        <h3 id={titleId} className="ov-route-name">
          {url ? (
            <a href={url} target="_blank" rel="noreferrer">
              {name}
            </a>
          ) : (
            name
          )}
        </h3>
        {route ? (
          <p className="ov-route-target">
            <Health enabled={route.enabled} proxying={route.upstreams.length > 0} health={health} />
            <span className="ov-route-upstream">{describeTarget(route)}</span>
          </p>
        ) : (
          <p className="ov-route-target muted">
            {row.key === "unmatched" ? "Hosts without a route (answered 404)" : "Route removed"}
          </p>
        )}
        <p className="ov-route-totals muted">
          {plural(drawn.requests, "request")}
          {hasErrors && (
            <>
              {" · "}
              <span className="ov-bad">{plural(drawn.errors, "error")}</span>
            </>
          )}{" "}
          in {span}
        </p>
        <p className="ov-route-links">
          <a href="#/traffic" aria-label={`Traffic of ${name}`}>
            Traffic →
          </a>
        </p>
      </div>

      <div className="ov-metric">
        <p className="ov-metric-head">
          <span className="ov-metric-label">Requests</span>
          <span className="ov-metric-value" data-metric="rps">
            {formatRate(now.reqPerSec)}
            <small> /s</small>
          </span>
        </p>
        <p className="ov-metric-sub">{plural(now.requests, "request")} in the last minute</p>
        <Chart
          span={span}
          label={`Requests per second to ${name} over the last ${span}: peak ${formatRate(Math.max(0, ...drawn.reqPerSec))}, ${formatRate(now.reqPerSec)} in the last minute.`}
          formatMax={(max) => `${formatRate(max)}/s`}
          layers={[
            { values: drawn.reqPerSec, kind: "area", tone: "accent" },
            ...(hasErrors ? [{ values: drawn.errPerSec, kind: "area" as const, tone: "error" as const }] : []),
          ]}
          describe={(i) =>
            `${at(i)} · ${formatRate(drawn.reqPerSec[i] ?? 0)}/s · ${plural(requestsAt(i), "request")}` +
            (errorsAt(i) > 0 ? `, ${plural(errorsAt(i), "error")}` : "")
          }
        />
      </div>

      <div className="ov-metric">
        <p className="ov-metric-head">
          <span className="ov-metric-label">Errors</span>
          <span className={`ov-metric-value${(now.errorPct ?? 0) > 0 ? " ov-bad" : ""}`} data-metric="errors">
            {formatPercent(now.errorPct)}
          </span>
        </p>
        <p className="ov-metric-sub">
          {now.requests > 0 ? `${formatCount(now.errors)} of ${formatCount(now.requests)} failed or 5xx` : "no requests in the last minute"}
        </p>
        <Chart
          span={span}
          label={`Error rate of ${name} over the last ${span}: ${plural(drawn.errors, "failed or 5xx exchange")} of ${plural(drawn.requests, "request")}; ${formatPercent(now.errorPct)} in the last minute.`}
          formatMax={(max) => formatPercent(max)}
          layers={[{ values: drawn.errorPct, kind: "area", tone: "error" }]}
          describe={(i) => {
            const requests = requestsAt(i);
            if (requests === 0) return `${at(i)} · no requests`;
            return `${at(i)} · ${formatPercent(drawn.errorPct[i] ?? null)} (${errorsAt(i)} of ${requests})`;
          }}
        />
      </div>

      <div className="ov-metric">
        <p className="ov-metric-head">
          <span className="ov-metric-label">
            Latency <abbr title="95th percentile: 95% of requests were faster">p95</abbr>
          </span>
          <span className="ov-metric-value" data-metric="p95">
            {formatMs(now.p95)}
          </span>
        </p>
        <p className="ov-metric-sub">
          <span className="ov-swatch" aria-hidden="true" />
          <abbr title="median: half of the requests were faster">p50</abbr> {formatMs(now.p50)}
        </p>
        <Chart
          span={span}
          label={`Latency of ${name} over the last ${span}: p95 peak ${formatMs(Math.max(0, ...drawn.p95.map((v) => v ?? 0)))}; latest p95 ${formatMs(now.p95)}, p50 ${formatMs(now.p50)}.`}
          formatMax={(max) => formatMs(max)}
          layers={[
            { values: drawn.p50, kind: "line", tone: "muted", dashed: true },
            { values: drawn.p95, kind: "line", tone: "accent" },
          ]}
          describe={(i) => {
            const p95 = drawn.p95[i] ?? null;
            if (p95 === null) return `${at(i)} · no requests`;
            return `${at(i)} · p95 ${formatMs(p95)} · p50 ${formatMs(drawn.p50[i] ?? null)}`;
          }}
        />
      </div>
    </article>
  );
}

function Health({ enabled, proxying, health }: { enabled: boolean; proxying: boolean; health: RouteHealth | undefined }) {
  let state: "up" | "down" | "unknown" = "unknown";
  let text = "not probed yet";
  if (!enabled) text = "disabled";
  else if (!proxying) text = "not probed (no upstream)";
  else if (health?.up === true) {
    state = "up";
    text = "upstream up";
  } else if (health?.up === false) {
    state = "down";
    text = `upstream down: ${health.error ?? "not accepting connections"}`;
  }
  return (
    <span className="ov-health" data-health={state} title={text}>
      <span className={`dot dot-${state}`} aria-hidden="true" />
      <span className="visually-hidden">{text}</span>
    </span>
  );
}
