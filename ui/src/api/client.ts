// The only module that talks to the network: a typed client over the admin API's generated
// types (schema.d.ts). The browser is authenticated by the HttpOnly session cookie that
// `/login?code=…` sets, so every call is same-origin and sends it.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Route = components["schemas"]["Route"];
export type RoutePatch = components["schemas"]["RoutePatch"];
export type RouteHealth = components["schemas"]["RouteHealth"];
export type Service = components["schemas"]["Service"];
export type Status = components["schemas"]["Status"];
export type Listeners = components["schemas"]["ListenerStatus"];
export type PortFallback = components["schemas"]["PortFallback"];
export type Problem = components["schemas"]["Problem"];
export type EngineEvent = components["schemas"]["Event"];

/** The typed client; feature modules in this folder (e.g. `traffic.ts`) build on it. */
export const client = createClient<paths>({ baseUrl: "", credentials: "same-origin" });

/** A failed call, with the API's human-readable `detail` as its message. */
export class ApiError extends Error {
  readonly status: number;
  readonly field: string | undefined;

  constructor(status: number, detail: string, field?: string) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
  }
}

/** The message to show for an error body (problem+json, or whatever came back). */
export function problemDetail(error: unknown, status: number): string {
  if (typeof error === "object" && error !== null && "detail" in error) {
    const detail = error.detail;
    if (typeof detail === "string" && detail !== "") return detail;
  }
  if (status === 401) return "Not logged in: run `portico open` for a login link.";
  return `The admin API answered ${status}.`;
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of a call, or an `ApiError` carrying the problem's detail (and field). */
export function unwrap<T>(result: Result<T>): T {
  const { data, error, response } = result;
  if (error !== undefined || !response.ok || data === undefined) {
    const field =
      typeof error === "object" && error !== null && "field" in error
        ? String(error.field)
        : undefined;
    throw new ApiError(response.status, problemDetail(error, response.status), field);
  }
  return data;
}

/** Version, listeners and route counts. */
export async function getStatus(signal: AbortSignal | null = null): Promise<Status> {
  return unwrap(await client.GET("/api/v1/status", { signal }));
}

/** Every route, in id order. */
export async function listRoutes(signal: AbortSignal | null = null): Promise<Route[]> {
  return unwrap(await client.GET("/api/v1/routes", { signal }));
}

/** Change some of a route's fields; the stored route comes back. */
export async function patchRoute(id: number, patch: RoutePatch): Promise<Route> {
  return unwrap(
    await client.PATCH("/api/v1/routes/{id}", { params: { path: { id } }, body: patch }),
  );
}

/** Add a route forwarding `host` to a port on this machine. */
export async function mapService(host: string, port: number): Promise<Route> {
  return unwrap(
    await client.POST("/api/v1/routes", { body: { host, upstreams: [String(port)] } }),
  );
}

/** The latest probe of each enabled upstream route. */
export async function getHealth(signal: AbortSignal | null = null): Promise<RouteHealth[]> {
  return unwrap(await client.GET("/api/v1/health", { signal }));
}

/** The services listening on loopback, scanned now. */
export async function listServices(signal: AbortSignal | null = null): Promise<Service[]> {
  return unwrap(await client.GET("/api/v1/services", { signal })).services;
}

/** The one events stream of this page, shared by every subscriber. */
let events: { source: EventSource; listeners: Set<(event: EngineEvent) => void> } | null = null;

/**
 * Follow the engine's events (`/api/v1/events`, Server-Sent Events named `change`).
 * Returns a function that stops listening. Every subscriber of the page shares one
 * connection (a browser allows few per origin), closed with the last; the browser
 * reconnects by itself after errors.
 */
export function subscribeEvents(onEvent: (event: EngineEvent) => void): () => void {
  if (events === null) {
    const source = new EventSource("/api/v1/events", { withCredentials: false });
    const listeners = new Set<(event: EngineEvent) => void>();
    source.addEventListener("change", (message: MessageEvent<string>) => {
      let event: EngineEvent;
      try {
        event = JSON.parse(message.data) as EngineEvent;
      } catch {
        // A malformed event carries nothing to act on; the polls catch up.
        return;
      }
      for (const listener of listeners) listener(event);
    });
    events = { source, listeners };
  }
  const shared = events;
  shared.listeners.add(onEvent);
  return () => {
    shared.listeners.delete(onEvent);
    if (shared.listeners.size === 0) {
      shared.source.close();
      if (events === shared) events = null;
    }
  };
}
