// Pure logic of the Certificates page: fingerprint and expiry wording, trust store names and
// badges, the command hidden in a store's message, and the URL a phone downloads the CA from.
// No network, no React.
import type { StoreChange, TrustState, TrustStore } from "../../api/certificates";

/** `330B64…` as `33:0B:64:…`: uppercase byte pairs, colon-separated; non-hex characters dropped. */
export function formatFingerprint(hex: string): string {
  const clean = hex.replace(/[^0-9a-f]/gi, "").toUpperCase();
  return (clean.match(/.{1,2}/g) ?? []).join(":");
}

/** The formatted fingerprint in lines of `perLine` bytes, for a display that wraps cleanly. */
export function fingerprintLines(hex: string, perLine = 16): string[] {
  const pairs = formatFingerprint(hex).split(":").filter((pair) => pair !== "");
  const lines: string[] = [];
  for (let i = 0; i < pairs.length; i += perLine) lines.push(pairs.slice(i, i + perLine).join(":"));
  return lines;
}

export type ExpiryLevel = "ok" | "soon" | "expired";

export interface Expiry {
  /** The day it expires, `YYYY-MM-DD` (UTC). */
  date: string;
  /** Whole days left (negative once expired). */
  days: number;
  /** `in 42 days`, `tomorrow`, `today`, `expired 3 days ago`. */
  text: string;
  level: ExpiryLevel;
}

const DAY_MS = 86_400_000;

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/**
 * How far `expiresSecs` (Unix seconds) is from `nowMs`: `soon` within `warnDays` days,
 * `expired` once past.
 */
export function describeExpiry(expiresSecs: number, nowMs: number, warnDays: number): Expiry {
  const expiresMs = expiresSecs * 1000;
  const date = new Date(expiresMs).toISOString().slice(0, 10);
  const left = expiresMs - nowMs;
  if (left <= 0) {
    const ago = Math.floor(-left / DAY_MS);
    return {
      date,
      days: -ago,
      text: ago === 0 ? "expired today" : `expired ${plural(ago, "day", "days")} ago`,
      level: "expired",
    };
  }
  const days = Math.floor(left / DAY_MS);
  const text = days === 0 ? "today" : days === 1 ? "tomorrow" : `in ${plural(days, "day", "days")}`;
  return { date, days, text, level: days < warnDays ? "soon" : "ok" };
}

/** A store's name as a person knows it. */
export function storeLabel(store: TrustStore): string {
  switch (store.kind) {
    case "system":
      return "System trust store";
    case "chromium":
      return "Chrome / Chromium";
    case "firefox":
      return `Firefox (${store.profile})`;
    case "java":
      return "Java";
    case "node":
      return "Node.js";
    case "mac_keychain":
      return "macOS login keychain";
    case "windows":
      return "Windows certificate store";
  }
}

/** A stable key for a store (Firefox has one per profile). */
export function storeKey(store: TrustStore): string {
  return store.kind === "firefox" ? `firefox:${store.profile}` : store.kind;
}

/** Whether Portico's trust/untrust changes this store (Java and Node are only reported). */
export function storeIsManaged(store: TrustStore): boolean {
  return store.kind !== "java" && store.kind !== "node";
}

export type Tone = "ok" | "warn" | "muted" | "info" | "bad";

/** The badge for a store's trust state. */
export function stateBadge(state: TrustState): { label: string; tone: Tone } {
  switch (state) {
    case "trusted":
      return { label: "Trusted", tone: "ok" };
    case "not_trusted":
      return { label: "Not trusted", tone: "warn" };
    case "not_present":
      return { label: "Not found", tone: "muted" };
    case "report_only":
      return { label: "Set up by hand", tone: "info" };
    case "unknown":
      return { label: "Unknown", tone: "bad" };
  }
}

/** The badge for what trust/untrust did to a store. */
export function changeBadge(result: StoreChange["result"]): { label: string; tone: Tone } {
  switch (result) {
    case "added":
      return { label: "Added", tone: "ok" };
    case "removed":
      return { label: "Removed", tone: "ok" };
    case "unchanged":
      return { label: "Unchanged", tone: "muted" };
    case "failed":
      return { label: "Failed", tone: "bad" };
  }
}

// Programs the engine's messages name as commands to run by hand.
const COMMAND_START =
  /^(?:sudo|export|certutil(?:\.exe)?|keytool|security|update-ca-certificates|update-ca-trust|trust|portico)\s/;

/** A message that tells the user to run a command: the words before it, the command, and any note after. */
export interface Advice {
  lead: string;
  command: string;
  rest: string;
}

/**
 * The command a store's message tells the user to run, e.g. from `this needs administrator
 * rights; run by hand: sudo install … && sudo update-ca-certificates`: the text after a
 * colon that starts with a known program (up to a following `; ` note), or a backquoted
 * command after "run" or "with" (`install it with \`sudo apt-get install libnss3-tools\``).
 * `null` when the message names none.
 */
export function adviceIn(message: string | null | undefined): Advice | null {
  if (!message) return null;
  const colon = /:\s+/g;
  for (let match = colon.exec(message); match !== null; match = colon.exec(message)) {
    const start = match.index + match[0].length;
    const tail = message.slice(start);
    if (COMMAND_START.test(tail)) {
      const end = tail.indexOf("; ");
      return {
        lead: message.slice(0, match.index + 1),
        command: (end === -1 ? tail : tail.slice(0, end)).trim(),
        rest: end === -1 ? "" : tail.slice(end + 2).trim(),
      };
    }
  }
  const quoted = /\b(run|with) `([^`]+)`/.exec(message);
  if (!quoted?.[1] || !quoted[2]) return null;
  return {
    lead: `${message.slice(0, quoted.index)}${quoted[1]}:`,
    command: quoted[2],
    rest: message.slice(quoted.index + quoted[0].length).replace(/^[\s;,.]+/, ""),
  };
}

/** Just the command of `adviceIn`. */
export function commandIn(message: string | null | undefined): string | null {
  return adviceIn(message)?.command ?? null;
}

/** A message cut into plain text and `backquoted` code, for rendering. */
export function splitCode(message: string): { text: string; code: boolean }[] {
  return message
    .split("`")
    .map((text, i) => ({ text, code: i % 2 === 1 }))
    .filter((part) => part.text !== "");
}

/** The host and port of a listener address (`0.0.0.0:8080`, `[::]:8080`, `192.168.1.5:80`). */
export function splitAddress(address: string): { host: string; port: number } | null {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address.trim());
  if (!match?.[1] || !match[2]) return null;
  const port = Number(match[2]);
  if (port <= 0 || port > 65_535) return null;
  return { host: match[1], port };
}

function isLoopback(host: string): boolean {
  return host === "::1" || host === "localhost" || /^127\./.test(host);
}

function isUnspecified(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

function urlHost(ip: string): string {
  return ip.includes(":") ? `[${ip}]` : ip;
}

/** A network address to put in a URL: IPv4 first (phones type and resolve them best). */
function preferredAddress(addresses: readonly string[]): string | null {
  const usable = addresses.map((a) => a.trim()).filter((a) => a !== "" && !isLoopback(a));
  return usable.find((a) => !a.includes(":")) ?? usable[0] ?? null;
}

/**
 * Where a phone downloads the CA (`/ca.crt`, served by the proxy's HTTP listener):
 * - `reachable`: an HTTP listener binds beyond loopback; `url` uses its address, or this
 *   machine's network address when it binds every interface;
 * - `offline`: HTTP binds every interface but this machine has no network address;
 * - `loopback`: HTTP only binds loopback; `url` is where it will be once the listener binds
 *   `listenAll` (same port), `null` when this machine has no network address;
 * - `none`: no HTTP listener at all.
 */
export type PhoneDownload =
  | { kind: "reachable"; url: string }
  | { kind: "offline"; port: number }
  | { kind: "loopback"; url: string | null; listenAll: string }
  | { kind: "none" };

export function phoneDownload(
  httpListeners: readonly string[],
  networkAddresses: readonly string[] | undefined,
): PhoneDownload {
  const bound = httpListeners.map(splitAddress).filter((a) => a !== null);
  const network = preferredAddress(networkAddresses ?? []);
  const exposed = bound.find((a) => !isLoopback(a.host) && !isUnspecified(a.host));
  if (exposed) return { kind: "reachable", url: `http://${urlHost(exposed.host)}:${exposed.port}/ca.crt` };
  const everywhere = bound.find((a) => isUnspecified(a.host));
  if (everywhere) {
    return network === null
      ? { kind: "offline", port: everywhere.port }
      : { kind: "reachable", url: `http://${urlHost(network)}:${everywhere.port}/ca.crt` };
  }
  const first = bound[0];
  if (!first) return { kind: "none" };
  return {
    kind: "loopback",
    url: network === null ? null : `http://${urlHost(network)}:${first.port}/ca.crt`,
    listenAll: `0.0.0.0:${first.port}`,
  };
}
