// Where the time went: waiting for the upstream's response headers, then the body up to the
// last byte, as bars within the total, with the numbers beside them.
import type { Exchange } from "../../../api/exchange";
import { bars, formatDuration, formatTick, phases, ticks } from "./waterfall";

export function Waterfall({ exchange }: { exchange: Exchange }) {
  const total = exchange.duration_ms;
  const rows = bars(phases(total, exchange.ttfb_ms), total);
  const axis = ticks(total);
  return (
    <div className="wf">
      <ol className="wf-rows" aria-label="Timing phases">
        {rows.map((row) => (
          <li key={row.id} className="wf-row" data-phase={row.id}>
            <span className="wf-label">{row.label}</span>
            <span className="wf-track" aria-hidden="true">
              <span className={`wf-bar wf-${row.id}`} style={{ left: `${row.left}%`, width: `${row.width}%` }} />
            </span>
            <span className="wf-value">{formatDuration(row.end - row.start)}</span>
          </li>
        ))}
        {rows.length > 1 && (
          <li className="wf-row wf-total-row" data-phase="total">
            <span className="wf-label">Total</span>
            <span className="wf-track" aria-hidden="true">
              <span className="wf-bar wf-total" style={{ left: 0, width: "100%" }} />
            </span>
            <span className="wf-value">{formatDuration(total)}</span>
          </li>
        )}
      </ol>
      <div className="wf-axis" aria-hidden="true">
        <span className="wf-label" />
        <span className="wf-ticks">
          {total > 0 &&
            axis.map((tick) => (
              <span key={tick} className="wf-tick" style={{ left: `${(tick / total) * 100}%` }}>
                {formatTick(tick, total)}
              </span>
            ))}
        </span>
        <span className="wf-value" />
      </div>
    </div>
  );
}
