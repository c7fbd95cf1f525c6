import { describe, expect, it } from "vitest";
import type { Settings } from "../../api/settings";
import {
  addressPort,
  diffSettings,
  echo,
  formatBytes,
  formatDuration,
  isLowPort,
  NUMBER_FIELDS,
  parseAddress,
  parseNumber,
  parseSuffix,
  toDraft,
} from "./form";
import { splitEntries } from "../../lib/entries";

const base: Settings = {
  http_listen: null,
  https_listen: "127.0.0.1:8443",
  admin_listen: null,
  local_suffixes: ["lan"],
  shutdown_grace_ms: 10_000,
  header_read_timeout_ms: 30_000,
  proxy_paused: false,
  allow_ips: [],
  deny_ips: [],
  rate_limit_per_sec: null,
  max_body_bytes: null,
  max_conns_per_ip: null,
  lan_address: null,
  share_ca_port: null,
  hosts_sync: true,
  capture_paused: false,
  capture_body_limit: 1_048_576,
  capture_retention_count: 100_000,
  capture_retention_days: 7,
  capture_max_mb: 1024,
  default_compress: false,
  default_cache: false,
  cache_max_mb: 256,
  compress_min_bytes: 1024,
  dns_suffixes: ["test"],
  dns_listen: "127.0.0.1:5354",
};

describe("diffSettings", () => {
  it("sends nothing when nothing changed", () => {
    expect(diffSettings(base, toDraft(base))).toEqual({ patch: {}, changed: [], errors: {} });
  });
  it("sends only the changed fields, typed", () => {
    const draft = { ...toDraft(base), capture_retention_days: " 14 ", default_cache: true, http_listen: "0.0.0.0:8080" };
    const diff = diffSettings(base, draft);
    expect(diff.patch).toEqual({ capture_retention_days: 14, default_cache: true, http_listen: "0.0.0.0:8080" });
    expect(diff.changed.sort()).toEqual(["capture_retention_days", "default_cache", "http_listen"]);
    expect(diff.errors).toEqual({});
  });
  it("clears an address with null when emptied", () => {
    expect(diffSettings(base, { ...toDraft(base), https_listen: "  " }).patch).toEqual({ https_listen: null });
  });
  it("sends the whole suffix list when it changed", () => {
    expect(diffSettings(base, { ...toDraft(base), local_suffixes: ["lan", "dev.internal"] }).patch).toEqual({
      local_suffixes: ["lan", "dev.internal"],
    });
    expect(diffSettings(base, { ...toDraft(base), local_suffixes: [] }).patch).toEqual({ local_suffixes: [] });
  });
  it("sends the DNS suffixes as a list and an emptied DNS address as the default", () => {
    expect(diffSettings(base, { ...toDraft(base), dns_suffixes: "test, lan  dev.internal" }).patch).toEqual({
      dns_suffixes: ["test", "lan", "dev.internal"],
    });
    expect(diffSettings(base, { ...toDraft(base), dns_suffixes: " " }).patch).toEqual({ dns_suffixes: [] });
    expect(diffSettings(base, { ...toDraft(base), dns_listen: " " }).patch).toEqual({});
    expect(diffSettings(base, { ...toDraft(base), dns_listen: "127.0.0.1:5300 " }).patch).toEqual({ dns_listen: "127.0.0.1:5300" });
  });
  it("reports a number that does not parse and leaves it out of the patch", () => {
    const diff = diffSettings(base, { ...toDraft(base), cache_max_mb: "lots", capture_retention_days: "30" });
    expect(diff.patch).toEqual({ capture_retention_days: 30 });
    expect(diff.errors.cache_max_mb).toBe("Enter a whole number of MiB, without a unit.");
    expect(diff.changed).toContain("cache_max_mb");
  });
  it("treats a retyped equal number as unchanged", () => {
    expect(diffSettings(base, { ...toDraft(base), capture_body_limit: "1,048,576" })).toEqual({
      patch: {},
      changed: [],
      errors: {},
    });
  });
});

describe("parseNumber", () => {
  const days = NUMBER_FIELDS.capture_retention_days;
  it("reads whole numbers with digit groups", () => {
    expect(parseNumber(days, "30")).toEqual({ ok: true, value: 30 });
    expect(parseNumber(NUMBER_FIELDS.capture_body_limit, "1 048 576")).toEqual({ ok: true, value: 1_048_576 });
    expect(parseNumber(NUMBER_FIELDS.capture_retention_count, "1_000")).toEqual({ ok: true, value: 1000 });
  });
  it("refuses blanks, fractions, units and negative numbers", () => {
    expect(parseNumber(days, "")).toEqual({ ok: false, error: "Enter a number of days." });
    expect(parseNumber(days, "1.5").ok).toBe(false);
    expect(parseNumber(days, "7d").ok).toBe(false);
    expect(parseNumber(days, "-1").ok).toBe(false);
  });
  it("applies the engine's bounds", () => {
    expect(parseNumber(days, "0")).toEqual({ ok: false, error: "Must be between 1 and 365 days." });
    expect(parseNumber(days, "366").ok).toBe(false);
    expect(parseNumber(NUMBER_FIELDS.capture_retention_count, "99")).toEqual({
      ok: false,
      error: "Must be between 100 and 10,000,000 exchanges.",
    });
    expect(parseNumber(NUMBER_FIELDS.shutdown_grace_ms, "100")).toEqual({ ok: true, value: 100 });
    expect(parseNumber(NUMBER_FIELDS.capture_body_limit, "0")).toEqual({ ok: true, value: 0 });
  });
});

describe("addresses", () => {
  it("treats blank as the default", () => {
    expect(parseAddress("")).toBeNull();
    expect(parseAddress(" 127.0.0.1:80 ")).toBe("127.0.0.1:80");
  });
  it("spots ports that need privileges", () => {
    expect(addressPort("[::1]:443")).toBe(443);
    expect(isLowPort("127.0.0.1:80")).toBe(true);
    expect(isLowPort("0.0.0.0:8080")).toBe(false);
    expect(isLowPort("127.0.0.1:0")).toBe(false);
    expect(isLowPort("nonsense")).toBe(false);
  });
});

describe("parseSuffix", () => {
  it("normalises like the engine", () => {
    expect(parseSuffix(" .Dev.Internal. ", [])).toEqual({ ok: true, value: "dev.internal" });
    expect(parseSuffix("*.lan", [])).toEqual({ ok: true, value: "lan" });
  });
  it("refuses what is not a DNS name, built-ins and duplicates", () => {
    expect(parseSuffix("my_lan", []).ok).toBe(false);
    expect(parseSuffix("-lan", []).ok).toBe(false);
    expect(parseSuffix("a..b", []).ok).toBe(false);
    expect(parseSuffix("", [])).toEqual({ ok: false, error: "Enter a suffix, e.g. lan or dev.internal." });
    expect(parseSuffix("test", [])).toEqual({ ok: false, error: "test is always signed for." });
    expect(parseSuffix("LAN", ["lan"])).toEqual({ ok: false, error: "lan is already in the list." });
  });
});

describe("units", () => {
  it("reads bytes and durations in plain words", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(1_048_576)).toBe("1 MiB");
    expect(formatDuration(250)).toBe("250 ms");
    expect(formatDuration(30_000)).toBe("30 s");
    expect(formatDuration(90_000)).toBe("1.5 min");
  });
  it("echoes a field's value only when it reads better", () => {
    expect(echo("capture_body_limit", 1_048_576)).toBe("1 MiB");
    expect(echo("compress_min_bytes", 100)).toBeNull();
    expect(echo("capture_max_mb", 1024)).toBe("1 GiB");
    expect(echo("header_read_timeout_ms", 30_000)).toBe("30 s");
    expect(echo("capture_retention_days", 7)).toBeNull();
  });
});

describe("address lists", () => {
  it("are edited as text and patched as lists only when changed", () => {
    const stored: Settings = { ...base, allow_ips: ["127.0.0.1"], deny_ips: [] };
    const draft = toDraft(stored);
    expect(draft.allow_ips).toBe("127.0.0.1");
    expect(diffSettings(stored, draft).changed).toEqual([]);
    const diff = diffSettings(stored, { ...draft, allow_ips: "", deny_ips: "192.168.1.66, 10.0.0.0/8" });
    expect(diff.patch).toEqual({ allow_ips: [], deny_ips: ["192.168.1.66", "10.0.0.0/8"] });
    expect(splitEntries(" a,b\nc ")).toEqual(["a", "b", "c"]);
  });
});

describe("rate limit", () => {
  it("is empty for none, a number otherwise, and checked", () => {
    const draft = toDraft(base);
    expect(draft.rate_limit_per_sec).toBe("");
    expect(diffSettings(base, { ...draft, rate_limit_per_sec: "20" }).patch).toEqual({ rate_limit_per_sec: 20 });
    expect(diffSettings(base, { ...draft, rate_limit_per_sec: "0" }).errors.rate_limit_per_sec).toContain("1 to 1000000");
    const limited: Settings = { ...base, rate_limit_per_sec: 20 };
    expect(diffSettings(limited, { ...toDraft(limited), rate_limit_per_sec: " " }).patch).toEqual({ rate_limit_per_sec: null });
  });
});

describe("sharing settings", () => {
  it("send the LAN address as text or null, and the CA page port as a number or null", () => {
    const draft = toDraft(base);
    expect(draft.lan_address).toBe("");
    expect(draft.share_ca_port).toBe("");
    const set = diffSettings(base, { ...draft, lan_address: " 192.168.1.20 ", share_ca_port: "8079" });
    expect(set.patch).toEqual({ lan_address: "192.168.1.20", share_ca_port: 8079 });
    const bad = diffSettings(base, { ...draft, share_ca_port: "70000" });
    expect(bad.errors.share_ca_port).toContain("65535");
    const cleared = diffSettings({ ...base, lan_address: "10.0.0.5" }, { ...toDraft({ ...base, lan_address: "10.0.0.5" }), lan_address: "" });
    expect(cleared.patch).toEqual({ lan_address: null });
  });
});
