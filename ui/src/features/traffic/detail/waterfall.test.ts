import { describe, expect, it } from "vitest";
import { bars, formatDuration, formatTick, phases, ticks } from "./waterfall";

describe("phases", () => {
  it("splits at the response headers", () => {
    expect(phases(100, 40)).toEqual([
      { id: "wait", label: "Waiting for response headers", start: 0, end: 40 },
      { id: "body", label: "Response body to last byte", start: 40, end: 100 },
    ]);
  });

  it("is one bar without a time to headers, and clamps odd values", () => {
    expect(phases(12, null)).toEqual([{ id: "total", label: "Request to last byte", start: 0, end: 12 }]);
    expect(phases(10, 15).map((p) => [p.start, p.end])).toEqual([[0, 10], [10, 10]]);
    expect(phases(Number.NaN, undefined)[0]?.end).toBe(0);
  });
});

describe("bars", () => {
  it("places phases as percentages of the total", () => {
    expect(bars(phases(200, 50), 200).map((b) => [b.left, b.width])).toEqual([[0, 25], [25, 75]]);
  });

  it("keeps tiny phases visible and inside the track", () => {
    const [wait, body] = bars(phases(1000, 999.9), 1000, 1);
    expect(wait?.width).toBeCloseTo(99.99);
    expect(body?.width).toBe(1);
    expect(body?.left).toBe(99);
  });

  it("fills the track for a zero total", () => {
    expect(bars(phases(0, 0), 0).map((b) => [b.left, b.width])).toEqual([[0, 100], [0, 0]]);
  });
});

describe("ticks", () => {
  it("are round numbers within the total", () => {
    expect(ticks(100)).toEqual([0, 50, 100]);
    expect(ticks(7.3)).toEqual([0, 2, 4, 6]);
    expect(ticks(0.9)).toEqual([0, 0.5]);
    expect(ticks(1234)).toEqual([0, 500, 1000]);
    expect(ticks(0)).toEqual([0]);
  });
});

describe("formatDuration", () => {
  it("uses a precision that fits the size", () => {
    expect(formatDuration(0.421)).toBe("0.42 ms");
    expect(formatDuration(12.34)).toBe("12.3 ms");
    expect(formatDuration(845.4)).toBe("845 ms");
    expect(formatDuration(1240)).toBe("1.24 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(formatDuration(-1)).toBe("–");
  });
});

describe("formatTick", () => {
  it("keeps round values round", () => {
    expect(ticks(192).map((t) => formatTick(t, 192))).toEqual(["0 ms", "50 ms", "100 ms", "150 ms"]);
    expect(formatTick(0.5, 0.9)).toBe("0.5 ms");
    expect(formatTick(0.30000000000000004, 0.4)).toBe("0.3 ms");
    expect(formatTick(2000, 4500)).toBe("2 s");
  });
});
