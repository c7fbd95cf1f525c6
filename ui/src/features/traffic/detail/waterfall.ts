// The timing waterfall's geometry: the phases an exchange records, as bars placed within the
// total, and an axis with round tick values.

export interface Phase {
  id: "wait" | "body" | "total";
  label: string;
  /** Milliseconds from the request's start. */
  start: number;
  end: number;
}

export interface Bar extends Phase {
  /** Percent of the track. */
  left: number;
  width: number;
}

/**
 * The phases of an exchange: waiting for the upstream's response headers (`ttfb_ms`), then the
 * body to the client, up to the last byte (`duration_ms`). Without a time to headers (Portico
 * answered itself, or the cache did) there is one bar.
 */
export function phases(durationMs: number, ttfbMs: number | null | undefined): Phase[] {
  const total = Math.max(0, Number.isFinite(durationMs) ? durationMs : 0);
  if (ttfbMs === null || ttfbMs === undefined || !Number.isFinite(ttfbMs) || ttfbMs < 0) {
    return [{ id: "total", label: "Request to last byte", start: 0, end: total }];
  }
  const headers = Math.min(ttfbMs, total);
  return [
    { id: "wait", label: "Waiting for response headers", start: 0, end: headers },
    { id: "body", label: "Response body to last byte", start: headers, end: total },
  ];
}

/**
 * Bars within a track for `total` ms. A phase too short to see gets `minWidth` percent (taken
 * from its left so it never runs past the end).
 */
export function bars(list: Phase[], total: number, minWidth = 0.75): Bar[] {
  return list.map((phase) => {
    if (!(total > 0)) return { ...phase, left: 0, width: phase.id === "body" ? 0 : 100 };
    let left = clamp((phase.start / total) * 100);
    let width = clamp((phase.end / total) * 100) - left;
    if (width < minWidth) {
      width = minWidth;
      left = Math.max(0, Math.min(left, 100 - minWidth));
    }
    return { ...phase, left, width };
  });
}

const clamp = (pct: number) => Math.min(100, Math.max(0, pct));

/** Round tick values from 0 to at most `total` (1, 2 or 5 times a power of ten apart), about `count` of them. */
export function ticks(total: number, count = 4): number[] {
  if (!(total > 0) || !Number.isFinite(total)) return [0];
  const rough = total / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const out: number[] = [];
  for (let i = 0; i * step <= total * (1 + 1e-9); i++) out.push(roundTo(i * step, step));
  return out;
}

function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return Number(value.toFixed(decimals));
}

/** A duration for people: `0.42 ms`, `12.3 ms`, `845 ms`, `1.24 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms - minutes * 60_000) / 1000)} s`;
}

/** A tick's label: round values stay round (`50 ms`, `0.5 ms`, `2 s`). */
export function formatTick(ms: number, total: number): string {
  if (total >= 2_000) return `${Number((ms / 1000).toPrecision(6))} s`;
  return `${Number(ms.toPrecision(6))} ms`;
}
