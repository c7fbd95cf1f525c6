import { describe, expect, it } from "vitest";
import type { DnsStatus } from "../../api/dns";
import { dnsHeadline } from "./dns";

const base: DnsStatus = {
  enabled: true,
  listen: "127.0.0.1:5354",
  listening: "127.0.0.1:5354",
  error: null,
  platform: "linux_resolved",
  suffixes: [
    { suffix: "test", resolver_configured: true, detail: "…/portico.conf sends it to 127.0.0.1:5354" },
    { suffix: "lan", resolver_configured: false, detail: "no …/portico.conf" },
  ],
};

describe("dnsHeadline", () => {
  it("is off without suffixes", () => {
    expect(dnsHeadline({ ...base, enabled: false, listening: null, suffixes: [] }).tone).toBe("off");
  });
  it("shows the bind error", () => {
    const headline = dnsHeadline({ ...base, listening: null, error: "cannot listen for DNS on 127.0.0.1:5354 (UDP): in use" });
    expect(headline).toEqual({ text: "cannot listen for DNS on 127.0.0.1:5354 (UDP): in use", tone: "error" });
  });
  it("asks for the setup while a suffix is not sent to the responder", () => {
    const headline = dnsHeadline(base);
    expect(headline.tone).toBe("setup");
    expect(headline.text).toContain("1 of 2 suffixes");
    expect(dnsHeadline({ ...base, suffixes: base.suffixes.map((s) => ({ ...s, resolver_configured: false })) }).text).toContain("no suffix");
  });
  it("is fine when every suffix is configured", () => {
    const all = { ...base, suffixes: base.suffixes.map((s) => ({ ...s, resolver_configured: true })) };
    expect(dnsHeadline(all)).toEqual({
      text: "Answering on 127.0.0.1:5354 (UDP and TCP); the system resolver sends every suffix here.",
      tone: "ok",
    });
  });
});
