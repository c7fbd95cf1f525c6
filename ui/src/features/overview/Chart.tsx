// A small time-series chart: areas and lines over the window's buckets, the scale's top and
// the time span as axis hints, and a read-out of the bucket under the pointer. Screen readers
// get the `label` summary instead of the drawing.
import { useState, type PointerEvent } from "react";
import { areaPath, indexAt, linePath, niceCeil, segments, seriesMax, xAt, type Box } from "./sparkline";

export type Tone = "accent" | "error" | "muted";

export interface Layer {
  values: readonly (number | null)[];
  kind: "area" | "line";
  tone: Tone;
  /** Drawn dashed (a secondary line, such as the median under the 95th percentile). */
  dashed?: boolean;
}

interface Props {
  layers: readonly Layer[];
  /** What the chart shows, in words (its accessible name). */
  label: string;
  /** Writes the scale's top (the axis hint). */
  formatMax: (max: number) => string;
  /** The read-out for a bucket. */
  describe: (index: number) => string;
  /** The window, in words: "15 min". */
  span: string;
}

const BOX: Box = { width: 300, height: 48, pad: 2 };

export function Chart({ layers, label, formatMax, describe, span }: Props) {
  const [hover, setHover] = useState<number | null>(null);
  const count = layers.reduce((max, layer) => Math.max(max, layer.values.length), 0);
  const max = niceCeil(seriesMax(...layers.map((layer) => layer.values)));

  const onPointerMove = (event: PointerEvent<HTMLDivElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    if (count === 0 || rect.width <= 0) return;
    setHover(indexAt(((event.clientX - rect.left) / rect.width) * BOX.width, count, BOX.width));
  };

  const hoverX = hover === null ? 0 : (xAt(hover, count, BOX.width) / BOX.width) * 100;

  return (
    <div className="ov-chart-frame">
      <div
        className="ov-chart"
        onPointerMove={onPointerMove}
        onPointerLeave={() => {
          setHover(null);
        }}
      >
        <svg
          viewBox={`0 0 ${BOX.width} ${BOX.height}`}
          preserveAspectRatio="none"
          role="img"
          aria-label={label}
        >
          <line className="ov-chart-base" x1={0} x2={BOX.width} y1={BOX.height - BOX.pad} y2={BOX.height - BOX.pad} />
          {layers.map((layer, i) => {
            const runs = segments(layer.values, max, BOX);
            // Lone buckets (between gaps) are drawn as dots, thicker than the lines so they show.
            const lines = runs.filter((run) => run.length > 1);
            const dots = runs.filter((run) => run.length === 1);
            return (
              <g key={i} className={`ov-tone-${layer.tone}`}>
                {layer.kind === "area" && <path className="ov-area" d={areaPath(lines, BOX)} />}
                <path className={`ov-line${layer.dashed ? " ov-dashed" : ""}`} d={linePath(lines)} />
                {dots.length > 0 && <path className="ov-dot" d={linePath(dots)} />}
              </g>
            );
          })}
        </svg>
        {max > 0 && (
          <span className="ov-chart-max" aria-hidden="true">
            {formatMax(max)}
          </span>
        )}
        {hover !== null && (
          <>
            <span className="ov-chart-guide" style={{ left: `${hoverX}%` }} aria-hidden="true" />
            <span
              className="ov-chart-tip"
              style={{ left: `${hoverX}%`, transform: `translateX(-${hoverX}%)` }}
              aria-hidden="true"
            >
              {describe(hover)}
            </span>
          </>
        )}
      </div>
      <div className="ov-chart-axis" aria-hidden="true">
        <span>−{span}</span>
        <span>now</span>
      </div>
    </div>
  );
}
