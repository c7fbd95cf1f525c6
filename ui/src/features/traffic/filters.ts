// The Traffic page's filters as the user sets them (form values, kept as typed) and as the
// API's query parameters. The same query goes to the list, the live stream and the HAR export.
import type { TrafficQuery } from "../../api/traffic";

export const STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;

/** "Slow" when no other threshold is given. */
export const DEFAULT_SLOW_MS = 1_000;

/** How long text fields wait for typing to stop before the query changes. */
export const TEXT_DEBOUNCE_MS = 300;

export interface Filters {
  /** `""` (everything), `route:<id>` or `host:<name>`. */
  target: string;
  /** `""` or a method. */
  method: string;
  statusClass: "" | StatusClass;
  /** An exact status as typed (ignored unless 100–599). */
  status: string;
  /** Free text over the URL and the headers. */
  text: string;
  errorsOnly: boolean;
  slowOnly: boolean;
  /** The slow threshold in milliseconds, as typed. */
  minDurationMs: string;
}

export const DEFAULT_FILTERS: Filters = {
  target: "",
  method: "",
  statusClass: "",
  status: "",
  text: "",
  errorsOnly: false,
  slowOnly: false,
  minDurationMs: String(DEFAULT_SLOW_MS),
};

/** The exact status typed, or `null` when it is not one (100–599). */
export function parseStatus(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d{3}$/.test(trimmed)) return null;
  const status = Number(trimmed);
  return status >= 100 && status <= 599 ? status : null;
}

/** The slow threshold typed, or the default when it is not a number of at least 0. */
export function parseMinDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed === "") return DEFAULT_SLOW_MS;
  const ms = Number(trimmed);
  return Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_SLOW_MS;
}

/** The API query for `filters` (only the parameters that narrow something). */
export function filtersToQuery(filters: Filters): TrafficQuery {
  const query: TrafficQuery = {};
  const target = filters.target.trim();
  if (target.startsWith("route:")) {
    const id = Number(target.slice("route:".length));
    if (Number.isSafeInteger(id) && id >= 0) query.route_id = id;
  } else if (target.startsWith("host:")) {
    const host = target.slice("host:".length).trim().toLowerCase();
    if (host !== "") query.host = host;
  }
  const method = filters.method.trim().toUpperCase();
  if (method !== "") query.method = method;
  if ((STATUS_CLASSES as readonly string[]).includes(filters.statusClass)) query.status_class = filters.statusClass;
  const status = parseStatus(filters.status);
  if (status !== null) query.status = status;
  const text = filters.text.trim().replace(/\s+/g, " ");
  if (text !== "") query.q = text;
  if (filters.errorsOnly) query.errors = true;
  if (filters.slowOnly) query.min_duration_ms = parseMinDuration(filters.minDurationMs);
  return query;
}

/** Whether `filters` narrow the traffic at all. */
export function isFiltered(filters: Filters): boolean {
  return Object.keys(filtersToQuery(filters)).length > 0;
}

/** A stable key for a query (to tell whether it changed). */
export function queryKey(query: TrafficQuery): string {
  return JSON.stringify(Object.entries(query).sort(([a], [b]) => a.localeCompare(b)));
}

/** Filters read back from storage; anything missing or malformed is the default. */
export function parseFilters(value: unknown): Filters {
  if (typeof value !== "object" || value === null) return { ...DEFAULT_FILTERS };
  const record = value as Record<string, unknown>;
  const text = (key: keyof Filters, fallback: string) => {
    const v = record[key];
    return typeof v === "string" ? v.slice(0, 500) : fallback;
  };
  const flag = (key: keyof Filters) => record[key] === true;
  const statusClass = text("statusClass", "");
  return {
    target: text("target", ""),
    method: text("method", ""),
    statusClass: (STATUS_CLASSES as readonly string[]).includes(statusClass) ? (statusClass as StatusClass) : "",
    status: text("status", ""),
    text: text("text", ""),
    errorsOnly: flag("errorsOnly"),
    slowOnly: flag("slowOnly"),
    minDurationMs: text("minDurationMs", String(DEFAULT_SLOW_MS)),
  };
}
