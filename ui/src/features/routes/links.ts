// Pure logic of the Routes page: where a route is reachable through the proxy, how to
// describe its target, and a safe host name for a discovered service. No network, no React.
import type { Listeners, Route, Service } from "../../api/client";

/** The port of a listener address: `127.0.0.1:8080`, `[::1]:8080`. */
export function listenerPort(address: string): number | null {
  const match = /:(\d{1,5})$/.exec(address.trim());
  if (!match?.[1]) return null;
  const port = Number(match[1]);
  return port > 0 && port <= 65535 ? port : null;
}

function firstPort(addresses: readonly string[]): number | null {
  for (const address of addresses) {
    const port = listenerPort(address);
    if (port !== null) return port;
  }
  return null;
}

/**
 * The URL of a route on the proxy, e.g. `http://shop.localhost:8080/`: https when an HTTPS
 * listener exists and the route redirects plain HTTP to it, else http. `null` when the host
 * is a wildcard (no single URL) or no suitable listener is bound.
 */
export function routeUrl(
  route: Pick<Route, "host" | "path" | "https_redirect">,
  listeners: Pick<Listeners, "http" | "https">,
): string | null {
  if (route.host.startsWith("*.")) return null;
  const httpsPort = firstPort(listeners.https);
  const useHttps = route.https_redirect && httpsPort !== null;
  const scheme = useHttps ? "https" : "http";
  const port = useHttps ? httpsPort : firstPort(listeners.http);
  if (port === null) return null;
  const defaultPort = useHttps ? 443 : 80;
  const authority = port === defaultPort ? route.host : `${route.host}:${port}`;
  const path = route.path === "/" ? "/" : `${route.path}/`;
  return `${scheme}://${authority}${path}`;
}

/** What a route does with a request: its upstream, its folder or its redirect. */
export function describeTarget(
  route: Pick<Route, "upstreams" | "static_dir" | "redirect" | "redirect_status">,
): string {
  if (route.static_dir) return `folder ${route.static_dir}`;
  if (route.redirect) return `redirect ${route.redirect} (${route.redirect_status})`;
  const [first, ...rest] = route.upstreams;
  if (first === undefined) return "no target";
  return rest.length === 0 ? first : `${first} (+${rest.length} more)`;
}

/**
 * A valid host name from a suggestion: lowercase DNS labels of letters, digits and hyphens
 * (63 at most, no leading or trailing hyphen), ending in `.localhost`. `null` when nothing
 * usable is left.
 */
export function sanitizeHost(suggested: string): string | null {
  const labels = suggested
    .trim()
    .toLowerCase()
    .replace(/\.+$/, "")
    .replace(/\.localhost$/, "")
    .split(".")
    .map((label) =>
      label
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/-{2,}/g, "-")
        .replace(/^-+|-+$/g, "")
        .slice(0, 63)
        .replace(/-+$/, ""),
    )
    .filter((label) => label !== "");
  if (labels.length === 0) return null;
  return `${labels.join(".")}.localhost`;
}

/** Services no route forwards to yet, by port. */
export function unmappedServices(services: readonly Service[]): Service[] {
  return services.filter((service) => service.routes.length === 0).sort((a, b) => a.port - b.port);
}

/** A one-line description of what runs on a service's port. */
export function describeService(service: Pick<Service, "framework" | "process">): string {
  const parts = [service.framework, service.process].filter(
    (part): part is string => typeof part === "string" && part !== "",
  );
  const unique = parts.filter((part, i) => parts.findIndex((p) => p.toLowerCase() === part.toLowerCase()) === i);
  return unique.length === 0 ? "unknown process" : unique.join(" · ");
}
