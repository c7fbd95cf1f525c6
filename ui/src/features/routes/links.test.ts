import { describe, expect, it } from "vitest";
import {
  describeService,
  describeTarget,
  listenerPort,
  routeUrl,
  sanitizeHost,
  unmappedServices,
} from "./links";
import type { Service } from "../../api/client";

const plain = { http: ["127.0.0.1:8080", "[::1]:8080"], https: [] };
const both = { http: ["127.0.0.1:80"], https: ["127.0.0.1:8443"] };

describe("listenerPort", () => {
  it("reads IPv4 and bracketed IPv6 addresses", () => {
    expect(listenerPort("127.0.0.1:8080")).toBe(8080);
    expect(listenerPort("[::1]:443")).toBe(443);
  });
  it("refuses what is not a port", () => {
    expect(listenerPort("localhost")).toBeNull();
    expect(listenerPort("127.0.0.1:0")).toBeNull();
    expect(listenerPort("127.0.0.1:70000")).toBeNull();
  });
});

describe("routeUrl", () => {
  it("uses the http listener's port", () => {
    const route = { host: "shop.localhost", path: "/", https_redirect: true };
    expect(routeUrl(route, plain)).toBe("http://shop.localhost:8080/");
  });
  it("uses https when a listener exists and the route redirects to it", () => {
    const route = { host: "shop.localhost", path: "/", https_redirect: true };
    expect(routeUrl(route, both)).toBe("https://shop.localhost:8443/");
  });
  it("stays on http when the route keeps plain HTTP, and drops the default port", () => {
    const route = { host: "api.localhost", path: "/v1", https_redirect: false };
    expect(routeUrl(route, both)).toBe("http://api.localhost/v1/");
  });
  it("has no single URL for a wildcard or without listeners", () => {
    expect(routeUrl({ host: "*.preview.localhost", path: "/", https_redirect: false }, plain)).toBeNull();
    expect(routeUrl({ host: "a.localhost", path: "/", https_redirect: false }, { http: [], https: [] })).toBeNull();
  });
});

describe("describeTarget", () => {
  const base = { upstreams: [], static_dir: null, redirect: null, redirect_status: 307 };
  it("names the upstream, the folder or the redirect", () => {
    expect(describeTarget({ ...base, upstreams: ["http://localhost:5173"] })).toBe("http://localhost:5173");
    expect(describeTarget({ ...base, static_dir: "/srv/docs" })).toBe("folder /srv/docs");
    expect(describeTarget({ ...base, redirect: "https://new.localhost" })).toBe(
      "redirect https://new.localhost (307)",
    );
  });
});

describe("sanitizeHost", () => {
  it("keeps a good suggestion", () => {
    expect(sanitizeHost("shop.localhost")).toBe("shop.localhost");
  });
  it("lowercases, replaces odd characters and adds .localhost", () => {
    expect(sanitizeHost("My_Shop!!")).toBe("my-shop.localhost");
    expect(sanitizeHost("  @scope/App  ")).toBe("scope-app.localhost");
    expect(sanitizeHost("api.Shop.localhost.")).toBe("api.shop.localhost");
  });
  it("caps a label at 63 characters and gives up on nothing", () => {
    expect(sanitizeHost("a".repeat(80))).toBe(`${"a".repeat(63)}.localhost`);
    expect(sanitizeHost("---")).toBeNull();
    expect(sanitizeHost("")).toBeNull();
  });
});

describe("services", () => {
  const service = (port: number, routes: number[]): Service => ({
    port,
    addresses: ["127.0.0.1"],
    pid: 1,
    process: "node",
    command: null,
    cwd: null,
    framework: "Vite",
    suggested_name: "x",
    suggested_host: "x.localhost",
    routes,
  });
  it("lists only unmapped services, by port", () => {
    expect(unmappedServices([service(8000, []), service(3000, [1]), service(5173, [])]).map((s) => s.port)).toEqual([
      5173, 8000,
    ]);
  });
  it("describes the framework and process without repeats", () => {
    expect(describeService({ framework: "Vite", process: "node" })).toBe("Vite · node");
    expect(describeService({ framework: "node", process: "node" })).toBe("node");
    expect(describeService({ framework: null, process: null })).toBe("unknown process");
  });
});
