import { describe, expect, it } from "vitest";
import { formatClock, formatMs, formatPercent, formatRate, formatRatio, formatSpan, plural } from "./format";

describe("formatRate", () => {
  it("scales its precision with the size", () => {
    expect(formatRate(0)).toBe("0");
    expect(formatRate(0.004)).toBe("<0.01");
    expect(formatRate(0.25)).toBe("0.25");
    expect(formatRate(0.1)).toBe("0.1");
    expect(formatRate(3.24)).toBe("3.2");
    expect(formatRate(3)).toBe("3");
    expect(formatRate(47.6)).toBe("48");
    expect(formatRate(1234)).toBe("1.2k");
    expect(formatRate(15_400)).toBe("15k");
  });
  it("shows nonsense as zero", () => {
    expect(formatRate(Number.NaN)).toBe("0");
    expect(formatRate(-1)).toBe("0");
  });
});

describe("formatPercent", () => {
  it("writes percentages briefly", () => {
    expect(formatPercent(null)).toBe("–");
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(0.05)).toBe("<0.1%");
    expect(formatPercent(2.5)).toBe("2.5%");
    expect(formatPercent(5)).toBe("5%");
    expect(formatPercent(12.4)).toBe("12%");
    expect(formatPercent(100)).toBe("100%");
  });
  it("writes ratios as percentages", () => {
    expect(formatRatio(0.825)).toBe("83%");
    expect(formatRatio(null)).toBe("–");
  });
});

describe("formatMs", () => {
  it("switches to seconds past a second", () => {
    expect(formatMs(null)).toBe("–");
    expect(formatMs(0.04)).toBe("<0.1 ms");
    expect(formatMs(3.14)).toBe("3.1 ms");
    expect(formatMs(89.4)).toBe("89 ms");
    expect(formatMs(1234)).toBe("1.2 s");
    expect(formatMs(12_345)).toBe("12 s");
  });
});

describe("counts, spans and clock times", () => {
  it("groups thousands", () => {
    expect(plural(1, "request")).toBe("1 request");
    expect(plural(1200, "request")).toBe("1,200 requests");
  });
  it("writes spans in words", () => {
    expect(formatSpan(10)).toBe("10 s");
    expect(formatSpan(60)).toBe("1 min");
    expect(formatSpan(900)).toBe("15 min");
    expect(formatSpan(5400)).toBe("1 h 30 min");
    expect(formatSpan(7200)).toBe("2 h");
  });
  it("writes local wall-clock times", () => {
    expect(formatClock(new Date(2025, 0, 2, 9, 5, 7).getTime())).toBe("09:05:07");
  });
});
