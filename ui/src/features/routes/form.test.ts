import { describe, expect, it } from "vitest";
import type { Route } from "../../api/client";
import {
  emptyHeaderRow,
  fieldForApi,
  formFromRoute,
  formFromService,
  newForm,
  rowsToRules,
  rulesEqual,
  rulesToRows,
  splitHeaderLine,
  toNewRoute,
  toPatch,
  upstreamRow,
  type HeaderRow,
  type RouteForm,
} from "./form";
import { splitEntries } from "../../lib/entries";

const noRules = { set: [], add: [], remove: [] };

function route(overrides: Partial<Route> = {}): Route {
  return {
    id: 7,
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

const row = (kind: HeaderRow["kind"], name: string, value = ""): HeaderRow => ({ ...emptyHeaderRow(kind), name, value });

describe("newForm", () => {
  it("takes cache and compress from the settings", () => {
    const form = newForm({ default_cache: true, default_compress: true });
    expect(form.cache).toBe(true);
    expect(form.compress).toBe(true);
    expect(newForm().cache).toBe(false);
    expect(form.kind).toBe("upstream");
    expect(form.enabled && form.httpsRedirect && form.capture && form.redirectKeepPath).toBe(true);
    expect(form.redirectStatus).toBe(307);
  });

  it("is pre-filled from a discovered service", () => {
    const form = formFromService(newForm(), { port: 5174, suggested_host: "My Shop.localhost" });
    expect(form.host).toBe("my-shop.localhost");
    expect(form.upstreams.map((u) => u.text)).toEqual(["5174"]);
  });
});

describe("toNewRoute", () => {
  const base = (): RouteForm => ({ ...newForm(), host: " shop.localhost ", upstreams: [upstreamRow("5173"), upstreamRow(" ")] });

  it("sends an upstream route with the visible defaults and nothing empty", () => {
    expect(toNewRoute(base())).toEqual({
      ok: true,
      value: {
        host: "shop.localhost",
        path: "/",
        upstreams: ["5173"],
        strip_prefix: false,
        upstream_host: false,
        enabled: true,
        https_redirect: true,
        capture: true,
        cache: false,
        compress: false,
        hide_backend: false,
      },
    });
  });

  it("converts the timeout and TTL and sends header rules", () => {
    const form = {
      ...base(),
      timeoutSecs: "1.5",
      cache: true,
      cacheTtlSecs: "30",
      responseHeaders: [row("set", "X-Frame-Options", "DENY"), row("remove", "Server")],
    };
    const built = toNewRoute(form);
    expect(built.ok && built.value).toMatchObject({
      timeout_ms: 1500,
      cache: true,
      cache_ttl_secs: 30,
      response_headers: { set: [{ name: "X-Frame-Options", value: "DENY" }], add: [], remove: ["Server"] },
    });
    expect(built.ok && "request_headers" in built.value).toBe(false);
  });

  it("sends only the chosen target's fields", () => {
    const folder = toNewRoute({ ...base(), kind: "static", staticDir: " /srv/site ", spa: true });
    expect(folder.ok && folder.value).toMatchObject({ static_dir: "/srv/site", spa: true, dir_listing: false, follow_symlinks: false });
    expect(folder.ok && "upstreams" in folder.value).toBe(false);

    const redirect = toNewRoute({ ...base(), kind: "redirect", redirect: "https://example.com", redirectStatus: 308, redirectKeepPath: false });
    expect(redirect.ok && redirect.value).toMatchObject({
      redirect: "https://example.com",
      redirect_status: 308,
      redirect_keep_path: false,
    });
    expect(redirect.ok && ("upstreams" in redirect.value || "static_dir" in redirect.value)).toBe(false);
  });

  it("refuses numbers the API could not read, naming the input", () => {
    expect(toNewRoute({ ...base(), timeoutSecs: "-1" })).toMatchObject({ ok: false, field: "timeout" });
    expect(toNewRoute({ ...base(), timeoutSecs: "abc" })).toMatchObject({ ok: false, field: "timeout" });
    expect(toNewRoute({ ...base(), cacheTtlSecs: "1.5" })).toMatchObject({ ok: false, field: "cacheTtl" });
    expect(toNewRoute({ ...base(), cacheTtlSecs: "0" })).toMatchObject({ ok: false, field: "cacheTtl" });
    expect(toNewRoute({ ...base(), requestHeaders: [row("set", "", "v")] })).toMatchObject({
      ok: false,
      field: "requestHeaders",
    });
  });

  it("leaves host validation to the API", () => {
    const built = toNewRoute({ ...base(), host: "bad host" });
    expect(built.ok && built.value.host).toBe("bad host");
  });
});

describe("toPatch", () => {
  it("is empty when nothing changed", () => {
    const stored = route({
      cache_ttl_secs: 60,
      timeout_ms: 2500,
      request_headers: { set: [{ name: "X-A", value: "1" }], add: [], remove: ["Cookie"] },
    });
    expect(toPatch(stored, formFromRoute(stored))).toEqual({ ok: true, value: {} });
  });

  it("sends only the changed fields", () => {
    const stored = route();
    const form = { ...formFromRoute(stored), host: "Shop.localhost", cache: true, compress: true, timeoutSecs: "5" };
    expect(toPatch(stored, form)).toEqual({ ok: true, value: { cache: true, compress: true, timeout_ms: 5000 } });
  });

  it("treats an upstream typed differently but meaning the same as unchanged", () => {
    const stored = route();
    const form = { ...formFromRoute(stored), upstreams: [upstreamRow("5173")] };
    expect(toPatch(stored, form)).toEqual({ ok: true, value: {} });
    const moved = { ...formFromRoute(stored), upstreams: [upstreamRow("5174")] };
    expect(toPatch(stored, moved)).toEqual({ ok: true, value: { upstreams: ["5174"] } });
  });

  it("switches the target with one field", () => {
    const stored = route();
    expect(toPatch(stored, { ...formFromRoute(stored), kind: "static", staticDir: "/srv" })).toEqual({
      ok: true,
      value: { static_dir: "/srv" },
    });
    expect(toPatch(stored, { ...formFromRoute(stored), kind: "redirect", redirect: "https://x.localhost" })).toEqual({
      ok: true,
      value: { redirect: "https://x.localhost" },
    });
    const folder = route({ upstreams: [], static_dir: "/srv" });
    expect(toPatch(folder, { ...formFromRoute(folder), kind: "upstream", upstreams: [upstreamRow("3000")] })).toEqual({
      ok: true,
      value: { upstreams: ["3000"] },
    });
  });

  it("clears a TTL with null, resets the timeout, and replaces header rules as a whole", () => {
    const stored = route({ cache_ttl_secs: 60, timeout_ms: 1000, response_headers: { set: [], add: [], remove: ["Server"] } });
    const form = {
      ...formFromRoute(stored),
      cacheTtlSecs: "",
      timeoutSecs: "",
      responseHeaders: [row("remove", "Server"), row("add", "X-Env", "dev")],
    };
    expect(toPatch(stored, form)).toEqual({
      ok: true,
      value: {
        cache_ttl_secs: null,
        timeout_ms: 60_000,
        response_headers: { set: [], add: [{ name: "X-Env", value: "dev" }], remove: ["Server"] },
      },
    });
  });

  it("normalises the path before comparing", () => {
    const stored = route({ path: "/api" });
    expect(toPatch(stored, { ...formFromRoute(stored), path: "/api/" })).toEqual({ ok: true, value: {} });
    expect(toPatch(stored, { ...formFromRoute(stored), path: "" })).toEqual({ ok: true, value: { path: "/" } });
  });
});

describe("header rule rows", () => {
  it("turn into rules, skipping blank rows and trimming", () => {
    const rows = [
      row("set", " X-Frame-Options ", " DENY "),
      row("add", "", ""),
      row("add", "Vary", "Accept"),
      row("remove", "Server", "ignored"),
      row("remove", " ", ""),
    ];
    expect(rowsToRules(rows)).toEqual({
      ok: true,
      rules: { set: [{ name: "X-Frame-Options", value: "DENY" }], add: [{ name: "Vary", value: "Accept" }], remove: ["Server"] },
    });
  });

  it("refuse a value without a name, saying which row", () => {
    expect(rowsToRules([row("set", "A", "1"), row("add", " ", "x")])).toEqual({
      ok: false,
      message: "rule 2 has a value but no header name",
    });
  });

  it("round-trip through stored rules", () => {
    const rules = { set: [{ name: "A", value: "1" }], add: [{ name: "B", value: "2" }], remove: ["C"] };
    const back = rowsToRules(rulesToRows(rules));
    expect(back.ok && rulesEqual(back.rules, rules)).toBe(true);
    expect(rulesEqual(rules, { ...rules, remove: ["D"] })).toBe(false);
  });

  it("split a pasted `Name: value` line", () => {
    expect(splitHeaderLine("X-Frame-Options: DENY")).toEqual({ name: "X-Frame-Options", value: "DENY" });
    expect(splitHeaderLine("Link: <https://x>; rel=preload")).toEqual({ name: "Link", value: "<https://x>; rel=preload" });
    expect(splitHeaderLine("X-Frame-Options")).toBeNull();
    expect(splitHeaderLine(":authority")).toBeNull();
  });
});

describe("fieldForApi", () => {
  it("maps the API's field names to inputs", () => {
    expect(fieldForApi("host")).toBe("host");
    expect(fieldForApi("upstreams")).toBe("upstreams");
    expect(fieldForApi("timeout_ms")).toBe("timeout");
    expect(fieldForApi("static_dir")).toBe("staticDir");
    expect(fieldForApi("redirect_status")).toBe("redirectStatus");
    expect(fieldForApi("cache_ttl_secs")).toBe("cacheTtl");
    expect(fieldForApi("response_headers")).toBe("responseHeaders");
    expect(fieldForApi("something_else")).toBe("form");
    expect(fieldForApi(undefined)).toBe("form");
  });
});

describe("address lists", () => {
  it("split on commas, spaces and lines, and go out only when not empty", () => {
    expect(splitEntries(" 127.0.0.1, 192.168.1.0/24\n::1  ")).toEqual(["127.0.0.1", "192.168.1.0/24", "::1"]);
    expect(splitEntries("")).toEqual([]);
    const form = { ...newForm(), host: "lan.localhost", upstreams: [upstreamRow("5173")], allowIps: "127.0.0.1, 10.0.0.0/8" };
    const built = toNewRoute(form);
    expect(built.ok && built.value.allow_ips).toEqual(["127.0.0.1", "10.0.0.0/8"]);
    expect(built.ok && "deny_ips" in built.value).toBe(false);
  });

  it("patch only when changed, and an emptied list is sent as []", () => {
    const stored = route({ allow_ips: ["127.0.0.1"], deny_ips: ["10.0.0.0/8"] });
    const form = formFromRoute(stored);
    expect(form.allowIps).toBe("127.0.0.1");
    expect(toPatch(stored, form)).toEqual({ ok: true, value: {} });
    const patch = toPatch(stored, { ...form, allowIps: "", denyIps: "10.0.0.0/8 192.168.0.0/16" });
    expect(patch).toEqual({ ok: true, value: { allow_ips: [], deny_ips: ["10.0.0.0/8", "192.168.0.0/16"] } });
    expect(fieldForApi("deny_ips")).toBe("denyIps");
  });
});

describe("rate limit", () => {
  it("is a whole number of requests a second, empty for none, patched to null when cleared", () => {
    const stored = route({ rate_limit_per_sec: 20 });
    const form = formFromRoute(stored);
    expect(form.rateLimit).toBe("20");
    expect(toPatch(stored, { ...form, rateLimit: "" })).toEqual({ ok: true, value: { rate_limit_per_sec: null } });
    expect(toPatch(stored, { ...form, rateLimit: "0" })).toMatchObject({ ok: false, field: "rateLimit" });
    const built = toNewRoute({ ...newForm(), host: "a.localhost", upstreams: [upstreamRow("5173")], rateLimit: "5" });
    expect(built.ok && built.value.rate_limit_per_sec).toBe(5);
    expect(fieldForApi("rate_limit_per_sec")).toBe("rateLimit");
  });
});

describe("body limit", () => {
  it("is a whole number of bytes, empty for none", () => {
    const stored = route({ max_body_bytes: 1024 });
    const form = formFromRoute(stored);
    expect(form.maxBody).toBe("1024");
    expect(toPatch(stored, { ...form, maxBody: "1 048 576" })).toEqual({ ok: true, value: { max_body_bytes: 1048576 } });
    expect(toPatch(stored, { ...form, maxBody: "" })).toEqual({ ok: true, value: { max_body_bytes: null } });
    expect(toPatch(stored, { ...form, maxBody: "1k" })).toMatchObject({ ok: false, field: "maxBody" });
  });
});

describe("requests in flight and basic auth", () => {
  it("sends the in-flight limit, and users with passwords only when typed", () => {
    const stored = route({ max_conns_per_ip: 4, basic_auth: ["alice"] });
    const form = formFromRoute(stored);
    expect(form.maxConns).toBe("4");
    expect(form.authUsers.map((u) => [u.user, u.password, u.stored])).toEqual([["alice", "", true]]);
    expect(toPatch(stored, form)).toEqual({ ok: true, value: {} });
    expect(toPatch(stored, { ...form, maxConns: "" })).toEqual({ ok: true, value: { max_conns_per_ip: null } });
    expect(toPatch(stored, { ...form, maxConns: "0" })).toMatchObject({ ok: false, field: "maxConns" });
    const bob = { id: 999, user: "bob", password: "pw", stored: false };
    expect(toPatch(stored, { ...form, authUsers: [...form.authUsers, bob] })).toEqual({
      ok: true,
      value: { basic_auth: [{ user: "alice" }, { user: "bob", password: "pw" }] },
    });
    expect(toPatch(stored, { ...form, authUsers: [] })).toEqual({ ok: true, value: { basic_auth: [] } });
    expect(toPatch(stored, { ...form, authUsers: [{ ...bob, password: "" }] })).toMatchObject({
      ok: false,
      field: "basicAuth",
    });
    expect(fieldForApi("basic_auth")).toBe("basicAuth");
  });
});

describe("sharing on the network", () => {
  const now = 1_700_000_000_000;

  it("starts with an end counted from now, or none, and the allowed ranges typed", () => {
    const stored = route();
    const form = formFromRoute(stored);
    expect(form.shared).toBe(false);
    expect(toPatch(stored, { ...form, shared: true, shareFor: "3600" }, now)).toEqual({
      ok: true,
      value: { shared: true, share_expires_at: now + 3_600_000 },
    });
    expect(toPatch(stored, { ...form, shared: true }, now)).toEqual({
      ok: true,
      value: { shared: true, share_expires_at: null },
    });
    expect(toPatch(stored, { ...form, shareAllowIps: "192.168.1.0/24" }, now)).toEqual({
      ok: true,
      value: { share_allow_ips: ["192.168.1.0/24"] },
    });
    expect(fieldForApi("share_allow_ips")).toBe("shareAllowIps");
    expect(fieldForApi("shared")).toBe("shared");
  });

  it("keeps a shared route's end unless another duration is chosen, and stops", () => {
    const stored = route({ shared: true, share_port: 50_000, share_expires_at: now + 60_000 });
    const form = formFromRoute(stored);
    expect(form.shareFor).toBe("keep");
    expect(toPatch(stored, form, now)).toEqual({ ok: true, value: {} });
    expect(toPatch(stored, { ...form, shareFor: "" }, now)).toEqual({ ok: true, value: { share_expires_at: null } });
    expect(toPatch(stored, { ...form, shared: false }, now)).toEqual({ ok: true, value: { shared: false } });
  });

  it("is sent for a new route only when switched on", () => {
    const base = { ...newForm(), host: "a.localhost", upstreams: [upstreamRow("5173")] };
    const off = toNewRoute(base, now);
    expect(off.ok && "shared" in off.value).toBe(false);
    const on = toNewRoute({ ...base, shared: true, shareFor: "900" }, now);
    expect(on.ok && on.value.shared).toBe(true);
    expect(on.ok && on.value.share_expires_at).toBe(now + 900_000);
  });
});
