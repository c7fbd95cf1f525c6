// "Upstream moved": a route's dev server is down, and a discovered service looks like the same
// app started again on another port (a second `npm run dev` takes the next free port). The
// match is by name: the service's suggested name, or its folder's name, equals the route
// host's first label. No network, no React.
import type { Route, RouteHealth, Service } from "../../api/client";
import { isLocalHost, parseUpstream } from "./upstreams";

/** A service that may be the route's app, and the upstream that would point at it. */
export interface MovedCandidate {
  service: Service;
  /** The route's upstream with the service's port (host and base path kept when they work). */
  upstream: string;
  /** What matched: the suggested name, the folder's name, or both. */
  matched: "name" | "folder" | "both";
}

/** A route whose upstream is down while a look-alike service listens elsewhere. */
export interface MovedHint {
  route: Route;
  /** The port the route forwards to now. */
  port: number;
  /** Best first: both name and folder match, then services no route uses yet, then by port. */
  candidates: MovedCandidate[];
}

/** A name as a host label: lowercase letters, digits and hyphens. */
function label(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** The first label of a route's host, without a wildcard: `shop` for `*.shop.localhost`. */
export function hostLabel(host: string): string {
  return host.replace(/^\*\./, "").split(".")[0] ?? "";
}

/** The last part of a folder path. */
export function folderName(path: string): string {
  const parts = path.split(/[\\/]/).filter((part) => part !== "");
  return parts[parts.length - 1] ?? "";
}

/** A folder as a person reads it: the home folder as `~`. */
export function shortenPath(path: string): string {
  return path.replace(/^(?:\/home\/[^/]+|\/Users\/[^/]+|\/root)(?=\/|$)/, "~");
}

const WILDCARD_ADDRESSES = ["0.0.0.0", "::", "[::]"];

/** The upstream pointed at `port`: the same host when the service listens there, else `localhost`. */
export function movedUpstream(
  current: { host: string; basePath: string },
  service: Pick<Service, "port" | "addresses">,
): string {
  const bare = current.host.replace(/^\[|\]$/g, "");
  const listensThere =
    current.host === "localhost" ||
    service.addresses.some((address) => address === bare || WILDCARD_ADDRESSES.includes(address));
  const host = listensThere ? current.host : "localhost";
  return `http://${host}:${service.port}${current.basePath}`;
}

/**
 * The routes that look moved, by route id. A route qualifies when it is enabled, forwards to
 * a port on this machine, and the latest probe of that same upstream found it down; a
 * service qualifies when it listens on another port and its name or folder matches.
 */
export function findMovedUpstreams(
  routes: readonly Route[],
  health: readonly RouteHealth[],
  services: readonly Service[],
): Map<number, MovedHint> {
  const hints = new Map<number, MovedHint>();
  for (const route of routes) {
    if (!route.enabled || route.static_dir != null || route.redirect != null) continue;
    const [current] = route.upstreams;
    if (current === undefined) continue;
    const probe = health.find((h) => h.route_id === route.id);
    // A probe of an older upstream says nothing about the one the route has now.
    if (probe === undefined || probe.up || probe.upstream !== current) continue;
    const parsed = parseUpstream(current);
    if (!parsed.ok || !isLocalHost(parsed.upstream.host)) continue;
    const { port } = parsed.upstream;
    const want = label(hostLabel(route.host));
    if (want === "") continue;

    const candidates: MovedCandidate[] = [];
    for (const service of services) {
      if (service.port === port || service.routes.includes(route.id)) continue;
      const byName = label(service.suggested_name) === want;
      const byFolder = service.cwd != null && label(folderName(service.cwd)) === want;
      if (!byName && !byFolder) continue;
      candidates.push({
        service,
        upstream: movedUpstream(parsed.upstream, service),
        matched: byName && byFolder ? "both" : byName ? "name" : "folder",
      });
    }
    if (candidates.length === 0) continue;
    const rank = (c: MovedCandidate) => (c.matched === "both" ? 0 : 1) * 2 + (c.service.routes.length === 0 ? 0 : 1);
    candidates.sort((a, b) => rank(a) - rank(b) || a.service.port - b.service.port);
    hints.set(route.id, { route, port, candidates });
  }
  return hints;
}

/** `a Vite server`, `a node process`, `a server`. */
export function describeCandidate(service: Pick<Service, "framework" | "process">): string {
  const what = service.framework ? `${service.framework} server` : service.process ? `${service.process} process` : "server";
  return `${/^[aeiou]/i.test(what) ? "an" : "a"} ${what}`;
}

/** `shop.localhost → :5173 is down; a Vite server in ~/shop is listening on :5174`. */
export function movedMessage(hint: MovedHint, candidate: MovedCandidate): string {
  const name = hint.route.path === "/" ? hint.route.host : `${hint.route.host}${hint.route.path}`;
  const where = candidate.service.cwd ? ` in ${shortenPath(candidate.service.cwd)}` : "";
  return `${name} → :${hint.port} is down; ${describeCandidate(candidate.service)}${where} is listening on :${candidate.service.port}`;
}
