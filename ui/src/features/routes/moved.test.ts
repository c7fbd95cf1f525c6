import { describe, expect, it } from "vitest";
import type { Route, RouteHealth, Service } from "../../api/client";
import { findMovedUpstreams, folderName, hostLabel, movedMessage, movedUpstream, shortenPath } from "./moved";

const noRules = { set: [], add: [], remove: [] };

function route(overrides: Partial<Route> = {}): Route {
  return {
    id: 1,
    host: "shop.localhost",
    path: "/",
    upstreams: ["http://localhost:5173"],
    balancing: { policy: "round_robin", max_fails: 1, fail_cooldown_ms: 10000, health_check: null },
    strip_prefix: false,
    upstream_host: false,
    timeout_ms: 60_000,
    enabled: true,
    https_redirect: true,
    project: null,
    capture: true,
    static_dir: null,
    spa: false,
    dir_listing: false,
    follow_symlinks: false,
    redirect: null,
    redirect_status: 307,
    redirect_keep_path: true,
    compress: false,
    cache: false,
    cache_ttl_secs: null,
    request_headers: noRules,
    response_headers: noRules,
    hide_backend: false,
    allow_ips: [],
    deny_ips: [],
    rate_limit_per_sec: null,
    max_body_bytes: null,
    max_conns_per_ip: null,
    basic_auth: [],
    shared: false,
    share_port: null,
    share_expires_at: null,
    share_allow_ips: [],
    ...overrides,
  };
}

function health(up: boolean, overrides: Partial<RouteHealth> = {}): RouteHealth {
  return { route_id: 1, upstream: "http://localhost:5173", up, latency_ms: null, error: up ? null : "refused", checked_at: 0, since: 0, upstreams: [], ...overrides };
}

function service(port: number, overrides: Partial<Service> = {}): Service {
  return {
    port,
    addresses: ["127.0.0.1"],
    pid: 100,
    process: "node",
    command: "node vite",
    cwd: "/home/ana/shop",
    framework: "Vite",
    suggested_name: "shop",
    suggested_host: "shop.localhost",
    routes: [],
    ...overrides,
  };
}

describe("findMovedUpstreams", () => {
  it("finds the same app on another port and says so", () => {
    const hints = findMovedUpstreams([route()], [health(false)], [service(5174)]);
    const hint = hints.get(1);
    expect(hint?.port).toBe(5173);
    expect(hint?.candidates.map((c) => [c.service.port, c.upstream, c.matched])).toEqual([
      [5174, "http://localhost:5174", "both"],
    ]);
    expect(hint && hint.candidates[0] && movedMessage(hint, hint.candidates[0])).toBe(
      "shop.localhost → :5173 is down; a Vite server in ~/shop is listening on :5174",
    );
  });

  it("says nothing while the route's own upstream is up", () => {
    expect(findMovedUpstreams([route()], [health(true)], [service(5174)]).size).toBe(0);
  });

  it("says nothing before a probe, or when the probe was of an older upstream", () => {
    expect(findMovedUpstreams([route()], [], [service(5174)]).size).toBe(0);
    expect(findMovedUpstreams([route()], [health(false, { upstream: "http://localhost:4000" })], [service(5174)]).size).toBe(0);
  });

  it("says nothing for unrelated services, disabled, static, redirect or remote routes", () => {
    const other = service(5174, { suggested_name: "blog", cwd: "/home/ana/blog" });
    expect(findMovedUpstreams([route()], [health(false)], [other]).size).toBe(0);
    const down = [health(false)];
    expect(findMovedUpstreams([route({ enabled: false })], down, [service(5174)]).size).toBe(0);
    expect(findMovedUpstreams([route({ upstreams: [], static_dir: "/srv" })], down, [service(5174)]).size).toBe(0);
    expect(findMovedUpstreams([route({ upstreams: [], redirect: "https://x" })], down, [service(5174)]).size).toBe(0);
    const remote = route({ upstreams: ["http://10.0.0.2:5173"] });
    expect(findMovedUpstreams([remote], [health(false, { upstream: "http://10.0.0.2:5173" })], [service(5174)]).size).toBe(0);
  });

  it("ignores the port the route already uses and services pointing at this route", () => {
    expect(findMovedUpstreams([route()], [health(false)], [service(5173), service(5175, { routes: [1] })]).size).toBe(0);
  });

  it("matches by folder alone or by name alone", () => {
    const byFolder = service(5174, { suggested_name: "web-app", cwd: "/work/shop" });
    expect(findMovedUpstreams([route()], [health(false)], [byFolder]).get(1)?.candidates[0]?.matched).toBe("folder");
    const byName = service(5174, { cwd: null });
    expect(findMovedUpstreams([route()], [health(false)], [byName]).get(1)?.candidates[0]?.matched).toBe("name");
    const wildcard = route({ host: "*.shop.localhost" });
    expect(findMovedUpstreams([wildcard], [health(false)], [service(5174)]).size).toBe(1);
  });

  it("ranks several candidates: both matches first, then unused ones, then by port", () => {
    const candidates = [
      service(6000, { cwd: "/elsewhere/x" }),
      service(5180, { routes: [9] }),
      service(5176),
      service(5175, { cwd: null }),
      service(5174, { suggested_name: "other", cwd: "/tmp/other" }),
    ];
    const hint = findMovedUpstreams([route()], [health(false)], candidates).get(1);
    expect(hint?.candidates.map((c) => c.service.port)).toEqual([5176, 5180, 5175, 6000]);
  });

  it("keeps each route's own hint", () => {
    const routes = [route(), route({ id: 2, host: "blog.localhost", upstreams: ["http://localhost:4000"] })];
    const probes = [health(false), health(false, { route_id: 2, upstream: "http://localhost:4000" })];
    const found = findMovedUpstreams(routes, probes, [service(5174), service(4001, { suggested_name: "blog", cwd: "/home/ana/blog" })]);
    expect(found.get(1)?.candidates.map((c) => c.service.port)).toEqual([5174]);
    expect(found.get(2)?.candidates.map((c) => c.service.port)).toEqual([4001]);
  });
});

describe("movedUpstream", () => {
  it("keeps the host and base path when the service listens there", () => {
    expect(movedUpstream({ host: "127.0.0.1", basePath: "/app" }, { port: 5174, addresses: ["127.0.0.1"] })).toBe(
      "http://127.0.0.1:5174/app",
    );
    expect(movedUpstream({ host: "localhost", basePath: "" }, { port: 5174, addresses: ["::1"] })).toBe("http://localhost:5174");
    expect(movedUpstream({ host: "127.0.0.1", basePath: "" }, { port: 5174, addresses: ["0.0.0.0"] })).toBe("http://127.0.0.1:5174");
  });

  it("falls back to localhost when the service listens elsewhere", () => {
    expect(movedUpstream({ host: "127.0.0.1", basePath: "" }, { port: 5174, addresses: ["::1"] })).toBe("http://localhost:5174");
  });
});

describe("names and folders", () => {
  it("reads a host's first label, a folder's name, and shortens home folders", () => {
    expect(hostLabel("shop.localhost")).toBe("shop");
    expect(hostLabel("*.shop.localhost")).toBe("shop");
    expect(folderName("/home/ana/shop/")).toBe("shop");
    expect(shortenPath("/home/ana/shop")).toBe("~/shop");
    expect(shortenPath("/Users/ana/code/shop")).toBe("~/code/shop");
    expect(shortenPath("/root")).toBe("~");
    expect(shortenPath("/srv/shop")).toBe("/srv/shop");
  });
});
