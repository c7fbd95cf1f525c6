import { describe, expect, it } from "vitest";
import {
  adviceIn,
  commandIn,
  describeExpiry,
  fingerprintLines,
  formatFingerprint,
  phoneDownload,
  splitAddress,
  splitCode,
  stateBadge,
  storeIsManaged,
  storeKey,
  storeLabel,
} from "./ca";

const SHA = "330B648E27BC585D8471D7E70BB0BFBD125B6EBB4136B534C90BF6F1931243E2";

describe("formatFingerprint", () => {
  it("groups uppercase byte pairs with colons", () => {
    expect(formatFingerprint("0a1b2c")).toBe("0A:1B:2C");
    expect(formatFingerprint(SHA)).toHaveLength(32 * 3 - 1);
  });
  it("ignores separators already there", () => {
    expect(formatFingerprint("0a:1b 2c")).toBe("0A:1B:2C");
    expect(formatFingerprint("")).toBe("");
  });
  it("wraps into lines of 16 bytes", () => {
    const lines = fingerprintLines(SHA);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("33:0B:64:8E:27:BC:58:5D:84:71:D7:E7:0B:B0:BF:BD");
    expect(lines[1]?.endsWith("43:E2")).toBe(true);
  });
});

describe("describeExpiry", () => {
  const now = Date.UTC(2025, 0, 1, 12);
  const secs = (days: number) => (now + days * 86_400_000) / 1000;

  it("says the date and the days left", () => {
    const e = describeExpiry(secs(400.5), now, 30);
    expect(e).toEqual({ date: "2026-02-06", days: 400, text: "in 400 days", level: "ok" });
  });
  it("groups large counts and warns when near", () => {
    expect(describeExpiry(secs(3650.2), now, 30).text).toBe("in 3,650 days");
    expect(describeExpiry(secs(29.5), now, 30)).toMatchObject({ text: "in 29 days", level: "soon" });
    expect(describeExpiry(secs(30.5), now, 30).level).toBe("ok");
  });
  it("speaks of tomorrow and today", () => {
    expect(describeExpiry(secs(1.2), now, 30).text).toBe("tomorrow");
    expect(describeExpiry(secs(0.2), now, 30).text).toBe("today");
  });
  it("says how long ago it expired", () => {
    expect(describeExpiry(secs(-3.5), now, 30)).toMatchObject({ text: "expired 3 days ago", days: -3, level: "expired" });
    expect(describeExpiry(secs(-1.5), now, 30).text).toBe("expired 1 day ago");
    expect(describeExpiry(secs(-0.1), now, 30).text).toBe("expired today");
  });
});

describe("stores", () => {
  it("names each kind, Firefox with its profile", () => {
    expect(storeLabel({ kind: "system" })).toBe("System trust store");
    expect(storeLabel({ kind: "firefox", profile: "abc.default-release" })).toBe("Firefox (abc.default-release)");
    expect(storeKey({ kind: "firefox", profile: "p" })).toBe("firefox:p");
    expect(storeKey({ kind: "chromium" })).toBe("chromium");
  });
  it("knows which stores Portico changes", () => {
    expect(storeIsManaged({ kind: "system" })).toBe(true);
    expect(storeIsManaged({ kind: "java" })).toBe(false);
    expect(storeIsManaged({ kind: "node" })).toBe(false);
  });
  it("badges each state", () => {
    expect(stateBadge("trusted")).toEqual({ label: "Trusted", tone: "ok" });
    expect(stateBadge("not_trusted").tone).toBe("warn");
    expect(stateBadge("unknown").tone).toBe("bad");
  });
});

describe("commandIn", () => {
  it("finds the command after 'run by hand:'", () => {
    expect(
      commandIn(
        "this needs administrator rights; run by hand: sudo install -D -m 0644 /d/root.pem /usr/local/share/ca-certificates/portico-1.crt && sudo update-ca-certificates",
      ),
    ).toBe(
      "sudo install -D -m 0644 /d/root.pem /usr/local/share/ca-certificates/portico-1.crt && sudo update-ca-certificates",
    );
  });
  it("stops before a note appended after '; '", () => {
    expect(commandIn("run by hand: sudo update-ca-certificates; created the NSS database x")).toBe(
      "sudo update-ca-certificates",
    );
  });
  it("reads the Java, Node and password-protected forms", () => {
    expect(commandIn("Portico does not change Java's trust store; to make Java trust the CA run: sudo keytool -importcert -cacerts")).toBe(
      "sudo keytool -importcert -cacerts",
    );
    expect(commandIn("Node reads one file, so point it at the CA (or add the CA to that file): export NODE_EXTRA_CA_CERTS=/d/root.pem")).toBe(
      "export NODE_EXTRA_CA_CERTS=/d/root.pem",
    );
    expect(commandIn("the NSS database x is protected by a password; run by hand (certutil asks for the password): certutil -A -d sql:/h")).toBe(
      "certutil -A -d sql:/h",
    );
  });
  it("reads a backquoted command after 'run'", () => {
    expect(commandIn("/a is installed but /b does not list it yet: run `sudo update-ca-certificates`")).toBe(
      "sudo update-ca-certificates",
    );
  });
  it("does not mistake sudo's own complaint or a failed command for advice", () => {
    expect(commandIn("`sudo -n x` failed (exit status: 1): sudo: a password is required")).toBeNull();
    expect(commandIn("already trusted")).toBeNull();
    expect(commandIn(null)).toBeNull();
  });
});

describe("adviceIn", () => {
  it("separates the words, the command and a trailing note", () => {
    expect(adviceIn("this needs administrator rights; run by hand: sudo update-ca-certificates; created the NSS database x")).toEqual({
      lead: "this needs administrator rights; run by hand:",
      command: "sudo update-ca-certificates",
      rest: "created the NSS database x",
    });
    expect(adviceIn("/a is installed but /b does not list it yet: run `sudo update-ca-certificates`.")).toEqual({
      lead: "/a is installed but /b does not list it yet: run:",
      command: "sudo update-ca-certificates",
      rest: "",
    });
    expect(adviceIn("`certutil` was not found; install it with `sudo apt-get install libnss3-tools`")).toEqual({
      lead: "`certutil` was not found; install it with:",
      command: "sudo apt-get install libnss3-tools",
      rest: "",
    });
    expect(adviceIn("already trusted")).toBeNull();
  });
});

describe("splitCode", () => {
  it("separates backquoted code", () => {
    expect(splitCode("no NSS database yet; `portico ca trust` creates it")).toEqual([
      { text: "no NSS database yet; ", code: false },
      { text: "portico ca trust", code: true },
      { text: " creates it", code: false },
    ]);
  });
});

describe("splitAddress", () => {
  it("reads IPv4 and bracketed IPv6", () => {
    expect(splitAddress("0.0.0.0:8080")).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(splitAddress("[::]:80")).toEqual({ host: "::", port: 80 });
    expect(splitAddress("nonsense")).toBeNull();
  });
});

describe("phoneDownload", () => {
  const lan = ["192.168.1.20", "fe80::1"];
  it("uses the network address when HTTP binds every interface", () => {
    expect(phoneDownload(["0.0.0.0:8080"], lan)).toEqual({ kind: "reachable", url: "http://192.168.1.20:8080/ca.crt" });
    expect(phoneDownload(["[::]:80"], ["fd00::5"])).toEqual({ kind: "reachable", url: "http://[fd00::5]:80/ca.crt" });
  });
  it("uses a specific non-loopback listener as it is", () => {
    expect(phoneDownload(["127.0.0.1:8080", "10.0.0.7:8081"], lan)).toEqual({
      kind: "reachable",
      url: "http://10.0.0.7:8081/ca.crt",
    });
  });
  it("keeps the QR for a loopback listener and says how to open it up on the same port", () => {
    expect(phoneDownload(["127.0.0.1:8080", "[::1]:8080"], lan)).toEqual({
      kind: "loopback",
      url: "http://192.168.1.20:8080/ca.crt",
      listenAll: "0.0.0.0:8080",
    });
    expect(phoneDownload(["127.0.0.1:80"], [])).toEqual({ kind: "loopback", url: null, listenAll: "0.0.0.0:80" });
  });
  it("has nothing without a network address or a listener", () => {
    expect(phoneDownload(["0.0.0.0:8080"], undefined)).toEqual({ kind: "offline", port: 8080 });
    expect(phoneDownload([], lan)).toEqual({ kind: "none" });
  });
});
