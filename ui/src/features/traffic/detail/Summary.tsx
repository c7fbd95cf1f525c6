// The exchange at a glance: what was asked and answered, how long and how big, which route and
// upstream served it, what the cache and compression did; and, when it failed, what went
// wrong, who caused it and what to do.
import type { Exchange } from "../../../api/exchange";
import { formatBytes } from "../../../lib/format";
import { explainFailure, SIDE_LABEL, statusClass, statusText } from "./facts";
import { formatDuration } from "./waterfall";

export function StatusBadge({ status }: { status: number | null | undefined }) {
  return <span className={`xd-status xd-status-${statusClass(status)}`}>{statusText(status)}</span>;
}

export function Facts({ exchange: e }: { exchange: Exchange }) {
  const ws = e.websocket ?? null;
  return (
    <ul className="xd-facts" aria-label="Exchange facts">
      <li>
        <StatusBadge status={e.status} />
      </li>
      <li title="From the request's start to the last response byte">{formatDuration(e.duration_ms)}</li>
      <li title="Request head and body as received / response head and body as sent">
        <span aria-hidden="true">↑</span>
        <span className="visually-hidden">request</span> {formatBytes(e.bytes_in)} <span aria-hidden="true">↓</span>
        <span className="visually-hidden">response</span> {formatBytes(e.bytes_out)}
      </li>
      {e.route !== null && e.route !== undefined && (
        <li>
          <span className="muted">route</span> <a href="#/routes">{e.route}</a>
          {e.upstream !== null && e.upstream !== undefined && (
            <>
              {" "}
              → <code>{e.upstream}</code>
            </>
          )}
        </li>
      )}
      {e.cache !== null && e.cache !== undefined && (
        <li>
          <span className={`xd-chip xd-cache-${e.cache}`}>cache {e.cache}</span>
        </li>
      )}
      {e.compression !== null && e.compression !== undefined && (
        <li>
          <span className="xd-chip" title="Portico compressed the response">
            compressed {e.compression}
          </span>
        </li>
      )}
      {ws !== null && (
        <li>
          <span className="xd-chip" title="An upgraded (WebSocket) connection">
            WebSocket {ws.closed ? "closed" : "open"}
          </span>{" "}
          <span title="Frames and bytes from the client">
            ↑ {ws.frames_in.toLocaleString("en")} frames, {formatBytes(ws.bytes_in)}
          </span>{" "}
          ·{" "}
          <span title="Frames and bytes to the client">
            ↓ {ws.frames_out.toLocaleString("en")} frames, {formatBytes(ws.bytes_out)}
          </span>
        </li>
      )}
      {e.replay_of !== null && e.replay_of !== undefined && (
        <li>
          <span className="xd-chip">
            replay of <a href={`#/traffic/${e.replay_of}`}>#{e.replay_of}</a>
          </span>
        </li>
      )}
      {e.imported && (
        <li>
          <span className="xd-chip">imported from HAR</span>
        </li>
      )}
    </ul>
  );
}

export function FailureCallout({ exchange }: { exchange: Exchange }) {
  const failure = explainFailure(exchange);
  if (failure === null) return null;
  return (
    <section className="xd-failure" aria-labelledby={`xd-failure-${exchange.id}`}>
      <h3 id={`xd-failure-${exchange.id}`}>
        <span aria-hidden="true">⚠ </span>
        {failure.title}
      </h3>
      {failure.side !== null && <p className={`xd-side xd-side-${failure.side}`}>{SIDE_LABEL[failure.side]}</p>}
      {failure.message !== null && (
        <p>
          <code>{failure.message}</code>
        </p>
      )}
      <p>{failure.hint}</p>
    </section>
  );
}
