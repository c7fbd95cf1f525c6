import { describe, expect, it } from "vitest";
import type { Finding } from "../../api/doctor";
import { actionLabel, partition, summary } from "./doctor";

function finding(check: Finding["check"], status: Finding["status"], subject: string): Finding {
  return {
    check,
    status,
    subject,
    route_id: null,
    message: `${subject} is ${status}`,
    fix: null,
    action: null,
    connect_ms: null,
    total_ms: null,
  };
}

describe("partition", () => {
  it("puts errors, then warnings, before what works, keeping the engine's order within each", () => {
    const all = [
      finding("name.resolve", "ok", "a"),
      finding("ca.trust", "warn", "b"),
      finding("upstream.reach", "error", "c"),
      finding("listener.bind", "warn", "d"),
      finding("upstream.host_rejected", "error", "e"),
    ];
    const { problems, working } = partition(all);
    expect(problems.map((f) => f.subject)).toEqual(["c", "e", "b", "d"]);
    expect(working.map((f) => f.subject)).toEqual(["a"]);
  });
});

describe("summary", () => {
  it("counts, or says everything works", () => {
    expect(summary({ errors: 0, warnings: 0 })).toBe("Everything checked works.");
    expect(summary({ errors: 1, warnings: 2 })).toBe("1 error, 2 warnings.");
    expect(summary({ errors: 3, warnings: 1 })).toBe("3 errors, 1 warning.");
  });
});

describe("actionLabel", () => {
  it("names each action", () => {
    expect(actionLabel({ kind: "trust_ca" })).toBe("Trust the CA");
    expect(actionLabel({ kind: "enable_upstream_host", route_id: 3 })).toMatch(/upstream's own address/);
  });
});
