// How the Overview writes its numbers: short, with a precision that suits their size, and the
// same for every locale so columns line up. No React.
import { formatCount } from "../../lib/format";

/** A fixed-precision number without trailing zeros: 2.50 → "2.5", 3.0 → "3". */
function trimmed(value: number, digits: number): string {
  return value.toFixed(digits).replace(/\.?0+$/, "");
}

/** A rate (requests per second): "0", "<0.01", "0.25", "3.2", "48", "1.2k", "15k". */
export function formatRate(value: number): string {
  if (!Number.isFinite(value) || value <= 0) return "0";
  if (value < 0.01) return "<0.01";
  if (value < 1) return trimmed(value, 2);
  if (value < 10) return trimmed(value, 1);
  if (value < 999.5) return String(Math.round(value));
  if (value < 9_950) return `${trimmed(value / 1000, 1)}k`;
  return `${Math.round(value / 1000)}k`;
}

/** A percentage: "–" without data, "0%", "<0.1%", "2.5%", "12%", "100%". */
export function formatPercent(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "–";
  if (value <= 0) return "0%";
  if (value < 0.1) return "<0.1%";
  if (value < 9.95) return `${trimmed(value, 1)}%`;
  return `${Math.round(Math.min(value, 100))}%`;
}

/** A ratio from 0 to 1 as a percentage. */
export function formatRatio(value: number | null): string {
  return formatPercent(value === null ? null : value * 100);
}

/** A duration in milliseconds: "–", "<0.1 ms", "3.1 ms", "89 ms", "1.2 s", "12 s". */
export function formatMs(value: number | null): string {
  if (value === null || !Number.isFinite(value) || value < 0) return "–";
  if (value < 0.1) return "<0.1 ms";
  if (value < 9.95) return `${trimmed(value, 1)} ms`;
  if (value < 999.5) return `${Math.round(value)} ms`;
  if (value < 9_950) return `${trimmed(value / 1000, 1)} s`;
  return `${Math.round(value / 1000)} s`;
}

/** "1 request", "3 requests". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${formatCount(count)} ${count === 1 ? one : many}`;
}

/** A span of seconds in words: "10 s", "1 min", "15 min", "1 h 30 min". */
export function formatSpan(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole} s`;
  const minutes = Math.round(whole / 60);
  if (minutes < 60) return `${minutes} min`;
  const rest = minutes % 60;
  return rest === 0 ? `${Math.floor(minutes / 60)} h` : `${Math.floor(minutes / 60)} h ${rest} min`;
}

/** The local wall-clock time of a Unix ms instant: "09:05:07". */
export function formatClock(ms: number): string {
  const date = new Date(ms);
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, "0"))
    .join(":");
}
