// How the Traffic table writes times, durations, sizes and outcomes. Pure functions.
import type { Summary } from "../../api/traffic";

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `13:45:07.123`, local time, for a Unix-milliseconds instant. */
export function formatTime(unixMs: number): string {
  if (!Number.isFinite(unixMs)) return "";
  const d = new Date(unixMs);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** The full local date and time, for a tooltip. */
export function formatDateTime(unixMs: number): string {
  if (!Number.isFinite(unixMs)) return "";
  const d = new Date(unixMs);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatTime(unixMs)}`;
}

/** `0.4 ms`, `12 ms`, `1.25 s`, `12.5 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 0.95) return `${ms.toFixed(1)} ms`;
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  // Rounded first so 999.6 ms reads 1.00 s, and 9.996 s reads 10.0 s.
  if (ms < 9_995) return `${(ms / 1_000).toFixed(2)} s`;
  if (ms < 59_950) return `${(ms / 1_000).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1_000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/** The status class for colouring: `2xx` … `5xx`, or `none` when no response was sent. */
export function statusClass(status: number | null | undefined): "1xx" | "2xx" | "3xx" | "4xx" | "5xx" | "none" {
  if (status === null || status === undefined || status < 100 || status > 599) return "none";
  return `${Math.floor(status / 100)}xx` as "1xx" | "2xx" | "3xx" | "4xx" | "5xx";
}

/** The path with its query, as requested. */
export function pathWithQuery(summary: Pick<Summary, "path" | "query">): string {
  return summary.query ? `${summary.path}?${summary.query}` : summary.path;
}

/** Who an error is on, in words (`error_side`: client, upstream or portico). */
export function errorSideLabel(side: string | null | undefined): string {
  switch (side) {
    case "client":
      return "client";
    case "upstream":
      return "upstream";
    case "portico":
      return "Portico";
    default:
      return "error";
  }
}

/**
 * A row's outcome: what the status cell says and whether it is an error. A status with an
 * error means Portico answered in the upstream's place (e.g. 502 when it is down).
 */
export function describeOutcome(summary: Pick<Summary, "status" | "error" | "error_side">): {
  label: string;
  error: boolean;
  answeredByPortico: boolean;
  title: string;
} {
  const status = summary.status ?? null;
  const error = typeof summary.error === "string" && summary.error !== "";
  const side = errorSideLabel(summary.error_side);
  if (!error) {
    return { label: status === null ? "–" : String(status), error: false, answeredByPortico: false, title: "" };
  }
  if (status === null) {
    return { label: "failed", error: true, answeredByPortico: false, title: `Failed (${side}): ${summary.error ?? ""}` };
  }
  return {
    label: String(status),
    error: true,
    answeredByPortico: true,
    title: `Portico answered ${status} (${side} error): ${summary.error ?? ""}`,
  };
}
