import { describe, expect, it } from "vitest";
import { balancingForm, DEFAULT_BALANCING, describeBalancing, sameBalancing, toBalancing } from "./balancing";

describe("balancing form", () => {
  it("round-trips the defaults and a full health check", () => {
    expect(toBalancing(balancingForm())).toEqual({ ok: true, value: DEFAULT_BALANCING });
    const stored = {
      policy: "first" as const,
      max_fails: 3,
      fail_cooldown_ms: 2500,
      health_check: { path: "/health", interval_ms: 1500, timeout_ms: 2000, expect_status: 204 },
    };
    const form = balancingForm(stored);
    expect(form).toMatchObject({ maxFails: "3", cooldownSecs: "2.5", checkPath: "/health", checkEverySecs: "1.5", checkStatus: "204" });
    expect(toBalancing(form)).toEqual({ ok: true, value: stored });
  });

  it("refuses out-of-range numbers and a path without a slash, saying what to write", () => {
    const base = balancingForm();
    for (const [change, words] of [
      [{ maxFails: "0" }, /1 to 100/],
      [{ maxFails: "1.5" }, /whole number/],
      [{ cooldownSecs: "-1" }, /0.1 to 3600/],
      [{ checkPath: "health" }, /starting with \//],
      [{ checkPath: "/h", checkEverySecs: "0.1" }, /0.5 to 3600/],
      [{ checkPath: "/h", checkStatus: "20" }, /HTTP status/],
    ] as const) {
      const built = toBalancing({ ...base, ...change });
      expect(built.ok, JSON.stringify(change)).toBe(false);
      if (!built.ok) expect(built.message).toMatch(words);
    }
  });

  it("compares and describes", () => {
    const checked = { ...DEFAULT_BALANCING, health_check: { path: "/up", interval_ms: 5000, timeout_ms: 2000, expect_status: null } };
    expect(sameBalancing(DEFAULT_BALANCING, { ...DEFAULT_BALANCING })).toBe(true);
    expect(sameBalancing(DEFAULT_BALANCING, checked)).toBe(false);
    expect(describeBalancing(DEFAULT_BALANCING, 1)).toBeNull();
    expect(describeBalancing({ ...checked, policy: "first" }, 2)).toBe("failover · checked /up");
  });
});
