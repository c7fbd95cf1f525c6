// The traffic endpoints (`/api/v1/requests…`): list pages, the live stream, clear, and HAR
// export and import. Built on the typed client; the only network code the Traffic page uses.
import { saveBlob } from "../lib/download";
import { client, unwrap } from "./client";
import type { components, operations } from "./schema";

export type Summary = components["schemas"]["Summary"];
export type RequestPage = components["schemas"]["RequestPage"];
export type Imported = components["schemas"]["Imported"];
export type Cleared = components["schemas"]["Cleared"];
/** The filters the list, the stream and the HAR export share (plus the list's cursor). */
export type TrafficQuery = NonNullable<operations["list_requests"]["parameters"]["query"]>;

/** `query` as URL search parameters (absent and empty values left out), without the `?`. */
export function trafficSearch(query: TrafficQuery): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query) as [string, string | number | boolean | undefined][]) {
    if (value === undefined || value === "") continue;
    params.set(name, String(value));
  }
  return params.toString();
}

/** The filters of `query` without the list's cursor and page size (for the stream and HAR). */
export function filtersOnly(query: TrafficQuery): TrafficQuery {
  const filters = { ...query };
  delete filters.before;
  delete filters.limit;
  return filters;
}

/** One page of exchanges, newest first; pass `next_before` back as `before` for older ones. */
export async function listRequests(query: TrafficQuery, signal: AbortSignal | null = null): Promise<RequestPage> {
  return unwrap(await client.GET("/api/v1/requests", { params: { query }, signal }));
}

/** Delete every captured exchange. */
export async function clearRequests(): Promise<Cleared> {
  return unwrap(await client.DELETE("/api/v1/requests", {}));
}

/** Import a HAR file's entries (they come back as new, `imported` exchanges). */
export async function importHar(file: Blob): Promise<Imported> {
  const text = await file.text();
  return unwrap(
    await client.POST("/api/v1/requests/har", {
      body: text,
      bodySerializer: (body: unknown) => body as string,
      headers: { "content-type": "application/json" },
    }),
  );
}

/** A file name for an export made now: `portico-20260126-134501.har`. */
export function harFileName(now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const date = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return `portico-${date}-${time}.har`;
}

/**
 * Export the exchanges matching `query` (the newest 10,000 at most) as HAR and save the file
 * through the browser's download. Returns the file's name.
 */
export async function downloadHar(query: TrafficQuery): Promise<string> {
  const blob = unwrap(
    await client.GET("/api/v1/requests/har", { params: { query: filtersOnly(query) }, parseAs: "blob" }),
  );
  const name = harFileName();
  saveBlob(name, new Blob([blob], { type: "application/json" }));
  return name;
}

/** What the live stream reports. */
export interface TrafficStreamHandlers {
  /** Connected (again): anything recorded from now on arrives as `exchange`. */
  onOpen: () => void;
  /** A new exchange matching the filters (free text included). */
  onExchange: (summary: Summary) => void;
  /** This client read too slowly and missed `missed` events. */
  onSkipped: (missed: number) => void;
  /** Capture itself dropped exchanges: `total` since the engine started. */
  onDropped: (total: number) => void;
  /**
   * The connection failed. `closed`: the browser gave up (the API refused the stream) and a
   * new subscription is needed; otherwise it reconnects by itself.
   */
  onError: (closed: boolean) => void;
}

function parse(message: MessageEvent<string>): unknown {
  try {
    return JSON.parse(message.data) as unknown;
  } catch {
    return undefined;
  }
}

function numberField(value: unknown, field: string): number | undefined {
  if (typeof value !== "object" || value === null || !(field in value)) return undefined;
  const n = (value as Record<string, unknown>)[field];
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

/**
 * Follow new exchanges (`/api/v1/requests/stream`, Server-Sent Events) that match `query`
 * (cursor and limit do not apply). Returns a function that stops listening.
 */
export function subscribeTraffic(query: TrafficQuery, handlers: TrafficStreamHandlers): () => void {
  const search = trafficSearch(filtersOnly(query));
  const source = new EventSource(`/api/v1/requests/stream${search === "" ? "" : `?${search}`}`);
  const onExchange = (message: MessageEvent<string>) => {
    const summary = parse(message);
    if (numberField(summary, "id") !== undefined) handlers.onExchange(summary as Summary);
  };
  const onSkipped = (message: MessageEvent<string>) => {
    const missed = numberField(parse(message), "missed");
    if (missed !== undefined) handlers.onSkipped(missed);
  };
  const onDropped = (message: MessageEvent<string>) => {
    const total = numberField(parse(message), "total");
    if (total !== undefined) handlers.onDropped(total);
  };
  const onOpen = () => {
    handlers.onOpen();
  };
  const onError = () => {
    handlers.onError(source.readyState === EventSource.CLOSED);
  };
  source.addEventListener("exchange", onExchange);
  source.addEventListener("skipped", onSkipped);
  source.addEventListener("dropped", onDropped);
  source.addEventListener("open", onOpen);
  source.addEventListener("error", onError);
  return () => {
    source.removeEventListener("exchange", onExchange);
    source.removeEventListener("skipped", onSkipped);
    source.removeEventListener("dropped", onDropped);
    source.removeEventListener("open", onOpen);
    source.removeEventListener("error", onError);
    source.close();
  };
}
