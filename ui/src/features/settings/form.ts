// Pure logic of the Settings page: the fields (units, bounds, when they apply), the editable
// draft, parsing and checking it, and the patch holding only what changed. No network, no
// React. Bounds mirror the engine's validation (crates/portico-core/src/config/mod.rs); the
// engine stays the judge and its 422 names the field.
import type { Settings, SettingsPatch } from "../../api/settings";
import { splitEntries } from "../../lib/entries";

export type AddressKey = "http_listen" | "https_listen" | "admin_listen";
export type NumberKey =
  | "capture_body_limit"
  | "capture_retention_count"
  | "capture_retention_days"
  | "capture_max_mb"
  | "cache_max_mb"
  | "compress_min_bytes"
  | "header_read_timeout_ms"
  | "shutdown_grace_ms";
export type SwitchKey = "proxy_paused" | "capture_paused" | "default_cache" | "default_compress" | "hosts_sync";
/** Address lists, edited as text: entries separated by commas, spaces or lines. */
export type ListKey = "allow_ips" | "deny_ips";
/** Optional numbers, edited as text (empty: none). */
export type OptionalNumberKey = "rate_limit_per_sec" | "max_body_bytes" | "max_conns_per_ip" | "share_ca_port";
/** Optional text (empty: none, the engine's own choice). */
export type OptionalTextKey = "lan_address";
/** The DNS responder: its suffixes (a list typed as text) and its address (empty: the default). */
export type DnsKey = "dns_suffixes" | "dns_listen";
export type FieldKey = AddressKey | NumberKey | SwitchKey | ListKey | OptionalNumberKey | OptionalTextKey | DnsKey | "local_suffixes";

/** What the form edits: addresses and numbers as typed text, switches, the suffix list. */
export type Draft = Record<AddressKey | NumberKey | ListKey | OptionalNumberKey | OptionalTextKey | DnsKey, string> &
  Record<SwitchKey, boolean> & { local_suffixes: string[] };

export type Unit = "bytes" | "MiB" | "ms" | "days" | "exchanges";

export interface NumberField {
  label: string;
  unit: Unit;
  min: number;
  max: number;
  defaultValue: number;
  help: string;
}

export const NUMBER_FIELDS: Record<NumberKey, NumberField> = {
  capture_body_limit: {
    label: "Body preview limit",
    unit: "bytes",
    min: 0,
    max: 64 * 1024 * 1024,
    defaultValue: 1024 * 1024,
    help: "Bytes of each request and response body kept for the inspector; the true size is always recorded. 0 keeps no body bytes.",
  },
  capture_retention_count: {
    label: "Retention count",
    unit: "exchanges",
    min: 100,
    max: 10_000_000,
    defaultValue: 100_000,
    help: "Keep at most this many exchanges; the oldest go first.",
  },
  capture_retention_days: {
    label: "Retention days",
    unit: "days",
    min: 1,
    max: 365,
    defaultValue: 7,
    help: "Exchanges older than this many days are dropped.",
  },
  capture_max_mb: {
    label: "Capture size on disk",
    unit: "MiB",
    min: 16,
    max: 1_048_576,
    defaultValue: 1024,
    help: "Captured traffic stays within this size; the oldest exchanges go first.",
  },
  cache_max_mb: {
    label: "Cache size",
    unit: "MiB",
    min: 1,
    max: 65_536,
    defaultValue: 256,
    help: "For all routes together. Changing it empties the cache.",
  },
  compress_min_bytes: {
    label: "Compress from",
    unit: "bytes",
    min: 0,
    max: 100 * 1024 * 1024,
    defaultValue: 1024,
    help: "Responses whose known length is below this are sent uncompressed.",
  },
  header_read_timeout_ms: {
    label: "Header read timeout",
    unit: "ms",
    min: 1_000,
    max: 600_000,
    defaultValue: 30_000,
    help: "How long an HTTP/1 client may take to send its request headers.",
  },
  shutdown_grace_ms: {
    label: "Shutdown grace",
    unit: "ms",
    min: 100,
    max: 600_000,
    defaultValue: 10_000,
    help: "How long requests in flight may take to finish when Portico stops.",
  },
};

/** Where the DNS responder listens when `dns_listen` is left empty. */
export const DEFAULT_DNS_LISTEN = "127.0.0.1:5354";

/** Suffixes the CA always signs for; the setting adds to them. */
export const BUILTIN_SUFFIXES = ["localhost", "test", "internal", "home.arpa"] as const;

/** The form's starting point for `settings`. */
export function toDraft(settings: Settings): Draft {
  return {
    http_listen: settings.http_listen ?? "",
    https_listen: settings.https_listen ?? "",
    admin_listen: settings.admin_listen ?? "",
    local_suffixes: [...settings.local_suffixes],
    allow_ips: settings.allow_ips.join(", "),
    deny_ips: settings.deny_ips.join(", "),
    rate_limit_per_sec: settings.rate_limit_per_sec == null ? "" : String(settings.rate_limit_per_sec),
    max_body_bytes: settings.max_body_bytes == null ? "" : String(settings.max_body_bytes),
    max_conns_per_ip: settings.max_conns_per_ip == null ? "" : String(settings.max_conns_per_ip),
    share_ca_port: settings.share_ca_port == null ? "" : String(settings.share_ca_port),
    lan_address: settings.lan_address ?? "",
    dns_suffixes: settings.dns_suffixes.join(", "),
    dns_listen: settings.dns_listen,
    proxy_paused: settings.proxy_paused,
    hosts_sync: settings.hosts_sync,
    capture_paused: settings.capture_paused,
    default_cache: settings.default_cache,
    default_compress: settings.default_compress,
    capture_body_limit: String(settings.capture_body_limit),
    capture_retention_count: String(settings.capture_retention_count),
    capture_retention_days: String(settings.capture_retention_days),
    capture_max_mb: String(settings.capture_max_mb),
    cache_max_mb: String(settings.cache_max_mb),
    compress_min_bytes: String(settings.compress_min_bytes),
    header_read_timeout_ms: String(settings.header_read_timeout_ms),
    shutdown_grace_ms: String(settings.shutdown_grace_ms),
  };
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A whole number within the field's bounds; digit groups (`1 048 576`, `1,024`, `1_000`) are fine. */
export function parseNumber(field: NumberField, text: string): Parsed<number> {
  const clean = text.trim().replace(/[\s,_]/g, "");
  if (clean === "") return { ok: false, error: `Enter a number of ${field.unit}.` };
  if (!/^\d+$/.test(clean)) return { ok: false, error: `Enter a whole number of ${field.unit}, without a unit.` };
  const value = Number(clean);
  if (!Number.isSafeInteger(value) || value < field.min || value > field.max) {
    return {
      ok: false,
      error: `Must be between ${field.min.toLocaleString("en-US")} and ${field.max.toLocaleString("en-US")} ${field.unit}.`,
    };
  }
  return { ok: true, value };
}

/** An address as the API takes it: `null` (the default) when blank, else the trimmed text. */
export function parseAddress(text: string): string | null {
  const clean = text.trim();
  return clean === "" ? null : clean;
}

/** The port of an `IP:PORT` address, or `null`. */
export function addressPort(text: string): number | null {
  const match = /:(\d{1,5})$/.exec(text.trim());
  if (!match?.[1]) return null;
  const port = Number(match[1]);
  return port <= 65_535 ? port : null;
}

/** Whether binding this address needs privileges on Linux (a port below 1024; 0 picks a free one). */
export function isLowPort(text: string): boolean {
  const port = addressPort(text);
  return port !== null && port > 0 && port < 1024;
}

/**
 * A local suffix in canonical form (lowercase, no dots at the ends), as the engine stores it,
 * or an error saying what is wrong.
 */
export function parseSuffix(text: string, existing: readonly string[]): Parsed<string> {
  const clean = text.trim().replace(/^\.+|\.+$/g, "").replace(/^\*\./, "").toLowerCase();
  if (clean === "") return { ok: false, error: "Enter a suffix, e.g. lan or dev.internal." };
  const labels = clean.split(".");
  const valid = labels.every((label) => label.length > 0 && label.length <= 63 && /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label));
  if (!valid) return { ok: false, error: `"${text.trim()}" is not a DNS name (e.g. lan or dev.internal).` };
  if ((BUILTIN_SUFFIXES as readonly string[]).includes(clean)) {
    return { ok: false, error: `${clean} is always signed for.` };
  }
  if (existing.includes(clean)) return { ok: false, error: `${clean} is already in the list.` };
  return { ok: true, value: clean };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

export interface Diff {
  /** Only the fields that changed and parsed. */
  patch: SettingsPatch;
  /** The fields the user changed (parsed or not). */
  changed: FieldKey[];
  /** Fields whose text does not parse, with why. */
  errors: Partial<Record<FieldKey, string>>;
}

const ADDRESS_KEYS: AddressKey[] = ["http_listen", "https_listen", "admin_listen"];
const LIST_KEYS: ListKey[] = ["allow_ips", "deny_ips"];
const OPTIONAL_NUMBER_KEYS: OptionalNumberKey[] = ["rate_limit_per_sec", "max_body_bytes", "max_conns_per_ip", "share_ca_port"];
const OPTIONAL_NUMBER_MAX: Record<OptionalNumberKey, number> = {
  rate_limit_per_sec: 1_000_000,
  max_body_bytes: 2 ** 40,
  max_conns_per_ip: 100_000,
  share_ca_port: 65_535,
};
const OPTIONAL_NUMBER_ERRORS: Record<OptionalNumberKey, string> = {
  rate_limit_per_sec: "A whole number of requests a second, 1 to 1000000; empty for no limit.",
  max_body_bytes: "A whole number of bytes, 1 to 1099511627776 (1 TiB); empty for no limit.",
  max_conns_per_ip: "A whole number of connections, 1 to 100000; empty for no limit.",
  share_ca_port: "A port, 1 to 65535; empty for a free one.",
};

const SWITCH_KEYS: SwitchKey[] = ["proxy_paused", "capture_paused", "default_cache", "default_compress", "hosts_sync"];
export const NUMBER_KEYS = Object.keys(NUMBER_FIELDS) as NumberKey[];

/** What saving `draft` over `base` sends: one patch of only the changed fields, or the errors. */
export function diffSettings(base: Settings, draft: Draft): Diff {
  const patch: SettingsPatch = {};
  const changed: FieldKey[] = [];
  const errors: Partial<Record<FieldKey, string>> = {};
  const start = toDraft(base);

  for (const key of ADDRESS_KEYS) {
    const value = parseAddress(draft[key]);
    if (value !== base[key]) {
      changed.push(key);
      patch[key] = value;
    }
  }
  const lan = parseAddress(draft.lan_address);
  if (lan !== base.lan_address) {
    changed.push("lan_address");
    patch.lan_address = lan;
  }
  if (!sameList(draft.local_suffixes, base.local_suffixes)) {
    changed.push("local_suffixes");
    patch.local_suffixes = [...draft.local_suffixes];
  }
  const dnsSuffixes = splitEntries(draft.dns_suffixes);
  if (!sameList(dnsSuffixes, base.dns_suffixes)) {
    changed.push("dns_suffixes");
    patch.dns_suffixes = dnsSuffixes;
  }
  const dnsListen = draft.dns_listen.trim() === "" ? DEFAULT_DNS_LISTEN : draft.dns_listen.trim();
  if (dnsListen !== base.dns_listen) {
    changed.push("dns_listen");
    patch.dns_listen = dnsListen;
  }
  for (const key of LIST_KEYS) {
    const entries = splitEntries(draft[key]);
    if (!sameList(entries, base[key])) {
      changed.push(key);
      patch[key] = entries;
    }
  }
  for (const key of OPTIONAL_NUMBER_KEYS) {
    const text = draft[key].trim().replace(/[\s,_]/g, "");
    if (text === start[key]) continue;
    const max = OPTIONAL_NUMBER_MAX[key];
    if (text === "") {
      if (base[key] !== null) {
        changed.push(key);
        patch[key] = null;
      }
    } else if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
      changed.push(key);
      errors[key] = OPTIONAL_NUMBER_ERRORS[key];
    } else if (Number(text) !== base[key]) {
      changed.push(key);
      patch[key] = Number(text);
    }
  }
  for (const key of SWITCH_KEYS) {
    if (draft[key] !== base[key]) {
      changed.push(key);
      patch[key] = draft[key];
    }
  }
  for (const key of NUMBER_KEYS) {
    if (draft[key] === start[key]) continue;
    const parsed = parseNumber(NUMBER_FIELDS[key], draft[key]);
    if (!parsed.ok) {
      changed.push(key);
      errors[key] = parsed.error;
    } else if (parsed.value !== base[key]) {
      changed.push(key);
      patch[key] = parsed.value;
    }
  }
  return { patch, changed, errors };
}

/** `1048576` bytes as `1 MiB`, `1536` as `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const rounded = Math.round(value * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded : rounded.toFixed(1)} ${units[unit] ?? ""}`;
}

/** `30000` ms as `30 s`, `90000` as `1.5 min`, `250` as `250 ms`. */
export function formatDuration(ms: number): string {
  const short = (n: number) => String(Math.round(n * 10) / 10);
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${short(ms / 1000)} s`;
  return `${short(ms / 60_000)} min`;
}

/** A plain-words reading of a number field's value, shown next to it (`= 1 MiB`). */
export function echo(key: NumberKey, value: number): string | null {
  const unit = NUMBER_FIELDS[key].unit;
  switch (unit) {
    case "bytes":
      return value >= 1024 ? formatBytes(value) : null;
    case "MiB":
      return value >= 1024 ? formatBytes(value * 1024 * 1024) : null;
    case "ms":
      return value >= 1000 ? formatDuration(value) : null;
    case "days":
    case "exchanges":
      return null;
  }
}
