import { describe, expect, it } from "vitest";
import { isLocalHost, normalizeUpstream, parseUpstream, upstreamHints } from "./upstreams";

describe("parseUpstream", () => {
  it("reads a bare port as localhost", () => {
    expect(parseUpstream(" 5173 ")).toEqual({
      ok: true,
      upstream: { url: "http://localhost:5173", host: "localhost", port: 5173, basePath: "" },
    });
  });

  it("reads host:port, full URLs, base paths and IPv6", () => {
    expect(normalizeUpstream("127.0.0.1:8000")).toBe("http://127.0.0.1:8000");
    expect(normalizeUpstream("http://LocalHost:3000/")).toBe("http://localhost:3000");
    expect(normalizeUpstream("http://127.0.0.1:8000/base/")).toBe("http://127.0.0.1:8000/base");
    const v6 = parseUpstream("[::1]:4000");
    expect(v6.ok && v6.upstream).toEqual({ url: "http://[::1]:4000", host: "[::1]", port: 4000, basePath: "" });
  });

  it("explains what the engine would refuse", () => {
    const hint = (text: string) => {
      const parsed = parseUpstream(text);
      return parsed.ok ? null : parsed.hint;
    };
    expect(hint("")).toMatch(/needs an upstream/);
    expect(hint("0")).toMatch(/port 0/);
    expect(hint("70000")).toMatch(/not a port/);
    expect(hint("localhost")).toMatch(/missing port; write it as http:\/\/localhost:PORT/);
    expect(hint("localhost:abc")).toMatch(/abc is not a port/);
    expect(hint("https://localhost:5173")).toMatch(/https upstreams are not supported/);
    expect(hint("ws://localhost:5173")).toMatch(/WebSocket/);
    expect(hint("ftp://localhost:21")).toMatch(/only http/);
    expect(hint("http://user:pw@localhost:80")).toMatch(/passwords/);
    expect(hint("localhost:80/x?y=1")).toMatch(/query/);
    expect(hint(":8080")).toMatch(/missing host/);
    expect(hint("local host:80")).toMatch(/spaces/);
  });

  it("keeps an entry it cannot parse as typed", () => {
    expect(normalizeUpstream(" nope ")).toBe("nope");
  });
});

describe("isLocalHost", () => {
  it("knows this machine's names", () => {
    for (const host of ["localhost", "app.localhost", "127.0.0.1", "127.1.2.3", "[::1]", "::1", "0.0.0.0"]) {
      expect(isLocalHost(host), host).toBe(true);
    }
    for (const host of ["example.com", "10.0.0.2", "[fe80::1]"]) {
      expect(isLocalHost(host), host).toBe(false);
    }
  });
});

describe("upstreamHints", () => {
  it("says where each entry goes, what is wrong, and when one is listed twice", () => {
    expect(upstreamHints(["5173", "", "nope", "5174", "localhost:5173"])).toEqual([
      { tone: "ok", text: "→ http://localhost:5173" },
      null,
      { tone: "problem", text: expect.stringMatching(/missing port/) as unknown },
      { tone: "ok", text: "→ http://localhost:5174" },
      { tone: "problem", text: expect.stringMatching(/listed twice/) as unknown },
    ]);
  });
});
