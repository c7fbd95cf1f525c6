// The route editor's state and how it becomes a request: a new route (`NewRoute`, for POST)
// or only what changed (`RoutePatch`, for PATCH). Also where the API's `field` of a refused
// save belongs in the form. No network, no React.
import type { Route, RoutePatch, Service } from "../../api/client";
import type { AuthUserInput, HeaderRules, NewRoute, Settings } from "../../api/routes";
import { splitEntries } from "../../lib/entries";
import { sanitizeHost } from "./links";
import { normalizeUpstream } from "./upstreams";
import { type Balancing, type BalancingForm, balancingForm, DEFAULT_BALANCING, sameBalancing, toBalancing } from "./balancing";
import { expiryFor, KEEP_EXPIRY } from "./share";

export type TargetKind = "upstream" | "static" | "redirect";
export type RuleKind = "set" | "add" | "remove";
export const REDIRECT_STATUSES = [301, 302, 307, 308] as const;
export type RedirectStatus = (typeof REDIRECT_STATUSES)[number];

/** The engine's default upstream timeout (`DEFAULT_TIMEOUT`). */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** One header rule as a row of the editor. `id` only keeps React's rows stable. */
export interface HeaderRow {
  id: number;
  kind: RuleKind;
  name: string;
  value: string;
}

/** One upstream entry as typed. */
export interface UpstreamRow {
  id: number;
  text: string;
}

/** Everything the editor shows. Numbers stay text so nothing typed is lost or reformatted. */
export interface RouteForm {
  host: string;
  path: string;
  kind: TargetKind;
  upstreams: UpstreamRow[];
  /** How several upstreams are balanced, and the health check. */
  balancing: BalancingForm;
  stripPrefix: boolean;
  upstreamHost: boolean;
  /** Seconds; `""` is the default (60 s). */
  timeoutSecs: string;
  staticDir: string;
  spa: boolean;
  dirListing: boolean;
  followSymlinks: boolean;
  redirect: string;
  redirectStatus: RedirectStatus;
  redirectKeepPath: boolean;
  requestHeaders: HeaderRow[];
  responseHeaders: HeaderRow[];
  hideBackend: boolean;
  /** Client addresses or CIDR ranges, separated by commas, spaces or lines. */
  allowIps: string;
  denyIps: string;
  /** Requests a second per client; `""` is no limit. */
  rateLimit: string;
  /** The largest request body in bytes; `""` is no limit. */
  maxBody: string;
  /** Requests in flight at once per client; `""` is no limit. */
  maxConns: string;
  /** Basic auth users; none: no credentials needed. */
  authUsers: AuthRow[];
  /** Share on the LAN address. */
  shared: boolean;
  /** How long, in seconds (`SHARE_DURATIONS`); `""` until stopped, `keep` the current end. */
  shareFor: string;
  /** Who may use the shared route; `""` is the private ranges. */
  shareAllowIps: string;
  cache: boolean;
  /** Seconds; `""` caches only what the upstream allows. */
  cacheTtlSecs: string;
  compress: boolean;
  enabled: boolean;
  httpsRedirect: boolean;
  capture: boolean;
}

/** A basic auth user in the editor. A stored user's password is never shown: `""` keeps it. */
export interface AuthRow {
  id: number;
  user: string;
  password: string;
  /** The route already has this user (and a password for it). */
  stored: boolean;
}

/** The inputs an error can be shown next to; `form` is the editor as a whole. */
export type FormField =
  | "host"
  | "path"
  | "upstreams"
  | "balancing"
  | "timeout"
  | "staticDir"
  | "redirect"
  | "redirectStatus"
  | "requestHeaders"
  | "responseHeaders"
  | "cacheTtl"
  | "allowIps"
  | "denyIps"
  | "rateLimit"
  | "maxBody"
  | "maxConns"
  | "basicAuth"
  | "shared"
  | "shareAllowIps"
  | "form";

const API_FIELDS: Record<string, FormField> = {
  host: "host",
  path: "path",
  upstreams: "upstreams",
  balancing: "balancing",
  timeout_ms: "timeout",
  static_dir: "staticDir",
  redirect: "redirect",
  redirect_status: "redirectStatus",
  request_headers: "requestHeaders",
  response_headers: "responseHeaders",
  cache_ttl_secs: "cacheTtl",
  allow_ips: "allowIps",
  deny_ips: "denyIps",
  rate_limit_per_sec: "rateLimit",
  max_body_bytes: "maxBody",
  max_conns_per_ip: "maxConns",
  basic_auth: "basicAuth",
  shared: "shared",
  share_port: "shared",
  share_expires_at: "shared",
  share_allow_ips: "shareAllowIps",
};

/** The input an API error's `field` names (`form` when it names none the editor has). */
export function fieldForApi(field: string | undefined): FormField {
  if (field === undefined) return "form";
  return API_FIELDS[field] ?? "form";
}

let lastRowId = 0;
/** A fresh id for a new row. */
export function nextRowId(): number {
  lastRowId += 1;
  return lastRowId;
}

/** An empty rule row. */
export function emptyHeaderRow(kind: RuleKind = "set"): HeaderRow {
  return { id: nextRowId(), kind, name: "", value: "" };
}

/** An upstream row holding `text`. */
export function upstreamRow(text = ""): UpstreamRow {
  return { id: nextRowId(), text };
}

/** A new route's form: an upstream route with the settings' cache and compress defaults. */
export function newForm(settings?: Pick<Settings, "default_cache" | "default_compress">): RouteForm {
  return {
    host: "",
    path: "/",
    kind: "upstream",
    upstreams: [upstreamRow()],
    balancing: balancingForm(),
    stripPrefix: false,
    upstreamHost: false,
    timeoutSecs: "",
    staticDir: "",
    spa: false,
    dirListing: false,
    followSymlinks: false,
    redirect: "",
    redirectStatus: 307,
    redirectKeepPath: true,
    requestHeaders: [],
    responseHeaders: [],
    hideBackend: false,
    allowIps: "",
    denyIps: "",
    rateLimit: "",
    maxBody: "",
    maxConns: "",
    authUsers: [],
    shared: false,
    shareFor: "",
    shareAllowIps: "",
    cache: settings?.default_cache ?? false,
    cacheTtlSecs: "",
    compress: settings?.default_compress ?? false,
    enabled: true,
    httpsRedirect: true,
    capture: true,
  };
}

/** `form` pointed at a discovered service: its suggested host and its port. */
export function formFromService(form: RouteForm, service: Pick<Service, "port" | "suggested_host">): RouteForm {
  return {
    ...form,
    host: sanitizeHost(service.suggested_host) ?? form.host,
    kind: "upstream",
    upstreams: [upstreamRow(String(service.port))],
  };
}

function isRedirectStatus(status: number): status is RedirectStatus {
  return (REDIRECT_STATUSES as readonly number[]).includes(status);
}

function secondsText(ms: number): string {
  return String(ms / 1000);
}

/** The form showing a stored route. */
export function formFromRoute(route: Route): RouteForm {
  const kind: TargetKind = route.static_dir ? "static" : route.redirect ? "redirect" : "upstream";
  return {
    host: route.host,
    path: route.path,
    kind,
    upstreams: route.upstreams.length === 0 ? [upstreamRow()] : route.upstreams.map((u) => upstreamRow(u)),
    balancing: balancingForm(route.balancing),
    stripPrefix: route.strip_prefix,
    upstreamHost: route.upstream_host,
    timeoutSecs: route.timeout_ms === DEFAULT_TIMEOUT_MS ? "" : secondsText(route.timeout_ms),
    staticDir: route.static_dir ?? "",
    spa: route.spa,
    dirListing: route.dir_listing,
    followSymlinks: route.follow_symlinks,
    redirect: route.redirect ?? "",
    redirectStatus: isRedirectStatus(route.redirect_status) ? route.redirect_status : 307,
    redirectKeepPath: route.redirect_keep_path,
    requestHeaders: rulesToRows(route.request_headers),
    responseHeaders: rulesToRows(route.response_headers),
    hideBackend: route.hide_backend,
    allowIps: route.allow_ips.join(", "),
    denyIps: route.deny_ips.join(", "),
    rateLimit: route.rate_limit_per_sec == null ? "" : String(route.rate_limit_per_sec),
    maxBody: route.max_body_bytes == null ? "" : String(route.max_body_bytes),
    maxConns: route.max_conns_per_ip == null ? "" : String(route.max_conns_per_ip),
    authUsers: route.basic_auth.map((user) => ({ id: nextRowId(), user, password: "", stored: true })),
    shared: route.shared,
    shareFor: route.shared && route.share_expires_at != null ? KEEP_EXPIRY : "",
    shareAllowIps: route.share_allow_ips.join(", "),
    cache: route.cache,
    cacheTtlSecs: route.cache_ttl_secs == null ? "" : String(route.cache_ttl_secs),
    compress: route.compress,
    enabled: route.enabled,
    httpsRedirect: route.https_redirect,
    capture: route.capture,
  };
}

/** Rows for stored rules: set, then add, then remove. */
export function rulesToRows(rules: HeaderRules): HeaderRow[] {
  return [
    ...rules.set.map((p) => ({ id: nextRowId(), kind: "set" as const, name: p.name, value: p.value })),
    ...rules.add.map((p) => ({ id: nextRowId(), kind: "add" as const, name: p.name, value: p.value })),
    ...rules.remove.map((name) => ({ id: nextRowId(), kind: "remove" as const, name, value: "" })),
  ];
}

export type Built<T> = { ok: true; value: T } | { ok: false; field: FormField; message: string };

/**
 * Rules from rows: blank rows are skipped, names and values trimmed, a remove row's value
 * ignored. A value without a name is refused (it would silently do nothing).
 */
export function rowsToRules(rows: readonly HeaderRow[]): { ok: true; rules: HeaderRules } | { ok: false; message: string } {
  const rules: HeaderRules = { set: [], add: [], remove: [] };
  for (const [index, row] of rows.entries()) {
    const name = row.name.trim();
    const value = row.value.trim();
    if (name === "" && (row.kind === "remove" || value === "")) continue;
    if (name === "") return { ok: false, message: `rule ${index + 1} has a value but no header name` };
    if (row.kind === "remove") rules.remove.push(name);
    else rules[row.kind].push({ name, value });
  }
  return { ok: true, rules };
}

/**
 * A header typed or pasted as one line (`X-Frame-Options: DENY`) into the name input, split
 * into name and value; `null` when the input has no colon (names cannot contain one).
 */
export function splitHeaderLine(text: string): { name: string; value: string } | null {
  const colon = text.indexOf(":");
  if (colon <= 0) return null;
  return { name: text.slice(0, colon).trim(), value: text.slice(colon + 1).trim() };
}

/** Whether two sets of rules do the same (same rules in the same order). */
export function rulesEqual(a: HeaderRules, b: HeaderRules): boolean {
  const pairs = (list: HeaderRules["set"]) => list.map((p) => `${p.name}\n${p.value}`).join("\n\n");
  return (
    pairs(a.set) === pairs(b.set) &&
    pairs(a.add) === pairs(b.add) &&
    a.remove.join("\n") === b.remove.join("\n")
  );
}

function upstreamEntries(form: RouteForm): string[] {
  return form.upstreams.map((row) => row.text.trim()).filter((text) => text !== "");
}

function timeoutMs(text: string): Built<number | null> {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: true, value: null };
  const secs = Number(trimmed);
  if (!Number.isFinite(secs) || secs <= 0) {
    return { ok: false, field: "timeout", message: "a number of seconds above 0; leave it empty for the 60 s default" };
  }
  return { ok: true, value: Math.max(1, Math.round(secs * 1000)) };
}

/** An optional whole number from 1 to `max` (digit groups such as `1 048 576` are fine). */
function optionalWhole(text: string, field: FormField, max: number, message: string): Built<number | null> {
  const digits = text.trim().replace(/[\s,_]/g, "");
  if (digits === "") return { ok: true, value: null };
  const value = Number(digits);
  if (!/^\d+$/.test(digits) || value === 0 || value > max) return { ok: false, field, message };
  return { ok: true, value };
}

interface Checked {
  balancing: Balancing;
  timeoutMs: number | null;
  cacheTtlSecs: number | null;
  rateLimit: number | null;
  maxBody: number | null;
  maxConns: number | null;
  authUsers: AuthUserInput[];
  requestHeaders: HeaderRules;
  responseHeaders: HeaderRules;
}

/** The checks only the editor can make (numbers as typed, rule rows); the API does the rest. */
function check(form: RouteForm): Built<Checked> {
  const balancing = toBalancing(form.balancing);
  if (!balancing.ok) return { ok: false, field: "balancing", message: balancing.message };
  const timeout = timeoutMs(form.timeoutSecs);
  if (!timeout.ok) return timeout;
  const ttl = optionalWhole(
    form.cacheTtlSecs,
    "cacheTtl",
    31_536_000,
    "a whole number of seconds (at least 1); leave it empty to cache only what the upstream allows",
  );
  if (!ttl.ok) return ttl;
  const limit = optionalWhole(
    form.rateLimit,
    "rateLimit",
    1_000_000,
    "a whole number of requests a second, 1 to 1000000; leave it empty for no limit",
  );
  if (!limit.ok) return limit;
  const body = optionalWhole(
    form.maxBody,
    "maxBody",
    2 ** 40,
    "a whole number of bytes, 1 to 1099511627776 (1 TiB); leave it empty for no limit",
  );
  if (!body.ok) return body;
  const conns = optionalWhole(
    form.maxConns,
    "maxConns",
    100_000,
    "a whole number of requests in flight, 1 to 100000; leave it empty for no limit",
  );
  if (!conns.ok) return conns;
  const users = authUsers(form.authUsers);
  if (!users.ok) return users;
  const request = rowsToRules(form.requestHeaders);
  if (!request.ok) return { ok: false, field: "requestHeaders", message: request.message };
  const response = rowsToRules(form.responseHeaders);
  if (!response.ok) return { ok: false, field: "responseHeaders", message: response.message };
  return {
    ok: true,
    value: {
      balancing: balancing.value,
      timeoutMs: timeout.value,
      cacheTtlSecs: ttl.value,
      rateLimit: limit.value,
      maxBody: body.value,
      maxConns: conns.value,
      authUsers: users.value,
      requestHeaders: request.rules,
      responseHeaders: response.rules,
    },
  };
}

/** The users as the API takes them: a password only when one was typed (else kept). */
function authUsers(rows: AuthRow[]): Built<AuthUserInput[]> {
  const users: AuthUserInput[] = [];
  for (const row of rows) {
    const user = row.user.trim();
    if (user === "" && row.password === "") continue;
    if (user === "" || user.includes(":")) {
      return { ok: false, field: "basicAuth", message: "each user needs a name without ':'" };
    }
    if (!row.stored && row.password === "") {
      return { ok: false, field: "basicAuth", message: `${user} needs a password` };
    }
    users.push(row.password === "" ? { user } : { user, password: row.password });
  }
  return { ok: true, value: users };
}

const isEmptyRules = (rules: HeaderRules) => rules.set.length + rules.add.length + rules.remove.length === 0;

/** The body of `POST /api/v1/routes` for the form; only the chosen target's fields. */
export function toNewRoute(form: RouteForm, now: number = Date.now()): Built<NewRoute> {
  const checked = check(form);
  if (!checked.ok) return checked;
  const { balancing, timeoutMs: timeout, cacheTtlSecs, rateLimit: limit, maxBody: bodyLimit, requestHeaders, responseHeaders } = checked.value;
  const path = form.path.trim();
  const target: Partial<NewRoute> =
    form.kind === "upstream"
      ? {
          upstreams: upstreamEntries(form),
          ...(sameBalancing(balancing, DEFAULT_BALANCING) ? {} : { balancing }),
          strip_prefix: form.stripPrefix,
          upstream_host: form.upstreamHost,
          ...(timeout === null ? {} : { timeout_ms: timeout }),
        }
      : form.kind === "static"
        ? {
            static_dir: form.staticDir.trim(),
            spa: form.spa,
            dir_listing: form.dirListing,
            follow_symlinks: form.followSymlinks,
          }
        : {
            redirect: form.redirect.trim(),
            redirect_status: form.redirectStatus,
            redirect_keep_path: form.redirectKeepPath,
            strip_prefix: form.stripPrefix,
          };
  return {
    ok: true,
    value: {
      host: form.host.trim(),
      ...(path === "" ? {} : { path }),
      ...target,
      enabled: form.enabled,
      https_redirect: form.httpsRedirect,
      capture: form.capture,
      cache: form.cache,
      ...(cacheTtlSecs === null ? {} : { cache_ttl_secs: cacheTtlSecs }),
      compress: form.compress,
      hide_backend: form.hideBackend,
      ...(splitEntries(form.allowIps).length === 0 ? {} : { allow_ips: splitEntries(form.allowIps) }),
      ...(splitEntries(form.denyIps).length === 0 ? {} : { deny_ips: splitEntries(form.denyIps) }),
      ...(limit === null ? {} : { rate_limit_per_sec: limit }),
      ...(bodyLimit === null ? {} : { max_body_bytes: bodyLimit }),
      ...(checked.value.maxConns === null ? {} : { max_conns_per_ip: checked.value.maxConns }),
      ...(checked.value.authUsers.length === 0 ? {} : { basic_auth: checked.value.authUsers }),
      ...(form.shared ? { shared: true, share_expires_at: expiryFor(form.shareFor, now) } : {}),
      ...(splitEntries(form.shareAllowIps).length === 0 ? {} : { share_allow_ips: splitEntries(form.shareAllowIps) }),
      ...(isEmptyRules(requestHeaders) ? {} : { request_headers: requestHeaders }),
      ...(isEmptyRules(responseHeaders) ? {} : { response_headers: responseHeaders }),
    },
  };
}

/** A host as the engine stores it: trimmed, lowercase, no trailing dot. */
function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.+$/, "");
}

/** A path prefix as the engine stores it: `/` for nothing, no trailing slash. */
function normalizePath(path: string): string {
  const trimmed = path.trim();
  if (trimmed === "" || trimmed === "/") return "/";
  return trimmed.replace(/\/+$/, "") || "/";
}

type Flag =
  | "strip_prefix"
  | "upstream_host"
  | "spa"
  | "dir_listing"
  | "follow_symlinks"
  | "redirect_keep_path"
  | "hide_backend"
  | "cache"
  | "compress"
  | "enabled"
  | "https_redirect"
  | "capture";

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/**
 * The body of `PATCH /api/v1/routes/{id}`: only the fields whose value differs from `route`.
 * A changed target sends just that target (the engine drops the others); an empty patch means
 * nothing changed.
 */
export function toPatch(route: Route, form: RouteForm, now: number = Date.now()): Built<RoutePatch> {
  const checked = check(form);
  if (!checked.ok) return checked;
  const { balancing, timeoutMs: timeout, cacheTtlSecs, rateLimit: limit, maxBody: bodyLimit, requestHeaders, responseHeaders } = checked.value;
  const patch: RoutePatch = {};

  if (normalizeHost(form.host) !== route.host) patch.host = form.host.trim();
  if (normalizePath(form.path) !== route.path) patch.path = form.path.trim() === "" ? "/" : form.path.trim();

  if (form.kind === "upstream") {
    const entries = upstreamEntries(form);
    const moved = !sameList(entries.map(normalizeUpstream), route.upstreams);
    if (moved || route.static_dir != null || route.redirect != null) patch.upstreams = entries;
    if (!sameBalancing(balancing, route.balancing)) patch.balancing = balancing;
  } else if (form.kind === "static") {
    if (form.staticDir.trim() !== route.static_dir) patch.static_dir = form.staticDir.trim();
  } else if (form.redirect.trim() !== route.redirect) {
    patch.redirect = form.redirect.trim();
  }

  const flags: [Flag, boolean][] = [
    ["strip_prefix", form.stripPrefix],
    ["upstream_host", form.upstreamHost],
    ["spa", form.spa],
    ["dir_listing", form.dirListing],
    ["follow_symlinks", form.followSymlinks],
    ["redirect_keep_path", form.redirectKeepPath],
    ["hide_backend", form.hideBackend],
    ["cache", form.cache],
    ["compress", form.compress],
    ["enabled", form.enabled],
    ["https_redirect", form.httpsRedirect],
    ["capture", form.capture],
  ];
  for (const [field, value] of flags) {
    if (route[field] !== value) patch[field] = value;
  }

  const wantedTimeout = timeout ?? DEFAULT_TIMEOUT_MS;
  if (wantedTimeout !== route.timeout_ms) patch.timeout_ms = wantedTimeout;
  if (form.redirectStatus !== route.redirect_status) patch.redirect_status = form.redirectStatus;
  if (cacheTtlSecs !== (route.cache_ttl_secs ?? null)) patch.cache_ttl_secs = cacheTtlSecs;
  if (!rulesEqual(requestHeaders, route.request_headers)) patch.request_headers = requestHeaders;
  if (!rulesEqual(responseHeaders, route.response_headers)) patch.response_headers = responseHeaders;
  // The engine stores `192.168.1.7/24` as `192.168.1.0/24`: a list counts as changed when its
  // entries as typed differ from the stored ones, and the engine's answer shows the result.
  const allow = splitEntries(form.allowIps);
  if (!sameList(allow, route.allow_ips)) patch.allow_ips = allow;
  const deny = splitEntries(form.denyIps);
  if (!sameList(deny, route.deny_ips)) patch.deny_ips = deny;
  if (limit !== (route.rate_limit_per_sec ?? null)) patch.rate_limit_per_sec = limit;
  if (bodyLimit !== (route.max_body_bytes ?? null)) patch.max_body_bytes = bodyLimit;
  if (checked.value.maxConns !== (route.max_conns_per_ip ?? null)) patch.max_conns_per_ip = checked.value.maxConns;
  // Users without a typed password keep theirs; the list is sent when a name or password changed.
  const users = checked.value.authUsers;
  if (users.some((u) => u.password !== undefined) || !sameList(users.map((u) => u.user), route.basic_auth)) {
    patch.basic_auth = users;
  }
  // Starting to share, or a new duration for a shared route: its end counts from now.
  if (form.shared !== route.shared) patch.shared = form.shared;
  if (form.shared && (!route.shared || form.shareFor !== KEEP_EXPIRY)) {
    const expires = expiryFor(form.shareFor, now);
    if (!route.shared || expires !== (route.share_expires_at ?? null)) patch.share_expires_at = expires;
  }
  const shareAllow = splitEntries(form.shareAllowIps);
  if (!sameList(shareAllow, route.share_allow_ips)) patch.share_allow_ips = shareAllow;
  return { ok: true, value: patch };
}
