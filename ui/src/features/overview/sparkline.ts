// The geometry of the Overview's small charts: series of bucket values (with `null` for "no
// data") scaled into an SVG box, as line and area paths that break at gaps. No React, no DOM.

/** The drawing area; values go from `height - pad` (zero) up to `pad` (the scale's max). */
export interface Box {
  width: number;
  height: number;
  /** Room kept above and below the plot so a stroke at zero or at the max is not cut. */
  pad: number;
}

export interface Point {
  x: number;
  y: number;
  /** The bucket this point stands for. */
  index: number;
}

/**
 * A round number at or above `value` (1, 2, 2.5, 5 × a power of ten), so the scale's top
 * reads well as an axis hint and a series does not touch the top. 0 (and anything not
 * positive or not finite) stays 0.
 */
export function niceCeil(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    // Rounded so 0.3 is not lifted to 0.5 by 0.1 * 3 = 0.30000000000000004.
    const candidate = Number((step * power).toPrecision(12));
    if (candidate >= value) return candidate;
  }
  return 10 * power;
}

/** The largest non-null value of all `series`, 0 when there is none. */
export function seriesMax(...series: readonly (readonly (number | null)[])[]): number {
  let max = 0;
  for (const values of series) {
    for (const value of values) {
      if (value !== null && Number.isFinite(value) && value > max) max = value;
    }
  }
  return max;
}

/** The x of bucket `index` of `count`: the first at the left edge, the last at the right. */
export function xAt(index: number, count: number, width: number): number {
  return count <= 1 ? width / 2 : (index * width) / (count - 1);
}

/** The y of `value` on a scale from 0 to `max`; everything sits on the baseline when `max` is 0. */
export function yAt(value: number, max: number, box: Box): number {
  const baseline = box.height - box.pad;
  if (max <= 0) return baseline;
  const clamped = Math.min(Math.max(value, 0), max);
  return baseline - (clamped / max) * (box.height - 2 * box.pad);
}

/** The bucket under a horizontal position (0 to `width`), for hover read-outs. */
export function indexAt(x: number, count: number, width: number): number {
  if (count <= 1 || width <= 0) return 0;
  const index = Math.round((x / width) * (count - 1));
  return Math.min(Math.max(index, 0), count - 1);
}

/** The runs of consecutive non-null values as points; a `null` ends a run. */
export function segments(values: readonly (number | null)[], max: number, box: Box): Point[][] {
  const runs: Point[][] = [];
  let run: Point[] = [];
  values.forEach((value, index) => {
    if (value === null || !Number.isFinite(value)) {
      if (run.length > 0) runs.push(run);
      run = [];
      return;
    }
    run.push({ x: xAt(index, values.length, box.width), y: yAt(value, max, box), index });
  });
  if (run.length > 0) runs.push(run);
  return runs;
}

function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/**
 * An SVG path through each run. A run of one point becomes a zero-length stroke, which a
 * round line cap draws as a dot, so a lone bucket between gaps stays visible.
 */
export function linePath(runs: readonly Point[][]): string {
  return runs
    .map((run) => {
      const [first, ...rest] = run;
      if (first === undefined) return "";
      const start = `M${num(first.x)},${num(first.y)}`;
      if (rest.length === 0) return `${start}h0`;
      return start + rest.map((p) => `L${num(p.x)},${num(p.y)}`).join("");
    })
    .join("");
}

/** A closed SVG path filling between each run and the baseline (zero). */
export function areaPath(runs: readonly Point[][], box: Box): string {
  const baseline = num(box.height - box.pad);
  return runs
    .map((run) => {
      const first = run[0];
      const last = run[run.length - 1];
      if (first === undefined || last === undefined || run.length < 2) return "";
      const top = run.map((p) => `L${num(p.x)},${num(p.y)}`).join("");
      return `M${num(first.x)},${baseline}${top}L${num(last.x)},${baseline}Z`;
    })
    .join("");
}
