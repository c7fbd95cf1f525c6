import { describe, expect, it } from "vitest";
import { describeOutcome, formatDateTime, formatDuration, formatTime, pathWithQuery, statusClass } from "./format";

describe("formatDuration", () => {
  it("writes milliseconds, seconds and minutes", () => {
    expect(formatDuration(0)).toBe("0.0 ms");
    expect(formatDuration(0.42)).toBe("0.4 ms");
    expect(formatDuration(0.97)).toBe("1 ms");
    expect(formatDuration(1)).toBe("1 ms");
    expect(formatDuration(12.4)).toBe("12 ms");
    expect(formatDuration(999.4)).toBe("999 ms");
    expect(formatDuration(999.6)).toBe("1.00 s");
    expect(formatDuration(1_234)).toBe("1.23 s");
    expect(formatDuration(9_996)).toBe("10.0 s");
    expect(formatDuration(12_345)).toBe("12.3 s");
    expect(formatDuration(59_960)).toBe("1 min");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(formatDuration(3_600_000)).toBe("1 h");
    expect(formatDuration(5_460_000)).toBe("1 h 31 min");
  });

  it("shows a dash for nonsense", () => {
    expect(formatDuration(Number.NaN)).toBe("–");
    expect(formatDuration(-1)).toBe("–");
  });
});

describe("formatTime", () => {
  it("writes local time to the millisecond", () => {
    const at = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
    expect(formatTime(at)).toBe("03:04:05.006");
    expect(formatDateTime(at)).toBe("2026-01-02 03:04:05.006");
    expect(formatTime(new Date(2026, 11, 31, 23, 59, 59, 999).getTime())).toBe("23:59:59.999");
    expect(formatTime(Number.NaN)).toBe("");
  });
});

describe("outcomes", () => {
  it("classes statuses", () => {
    expect(statusClass(200)).toBe("2xx");
    expect(statusClass(304)).toBe("3xx");
    expect(statusClass(404)).toBe("4xx");
    expect(statusClass(502)).toBe("5xx");
    expect(statusClass(101)).toBe("1xx");
    expect(statusClass(null)).toBe("none");
    expect(statusClass(undefined)).toBe("none");
    expect(statusClass(42)).toBe("none");
  });

  it("marks errors and Portico's answers", () => {
    expect(describeOutcome({ status: 200 })).toEqual({ label: "200", error: false, answeredByPortico: false, title: "" });
    expect(describeOutcome({ status: null })).toMatchObject({ label: "–", error: false });
    const portico = describeOutcome({ status: 502, error: "connection refused", error_side: "upstream" });
    expect(portico).toMatchObject({ label: "502", error: true, answeredByPortico: true });
    expect(portico.title).toBe("Portico answered 502 (upstream error): connection refused");
    const failed = describeOutcome({ status: null, error: "client went away", error_side: "client" });
    expect(failed).toMatchObject({ label: "failed", error: true, answeredByPortico: false });
    expect(failed.title).toContain("client");
  });

  it("joins the path and query", () => {
    expect(pathWithQuery({ path: "/a", query: "x=1" })).toBe("/a?x=1");
    expect(pathWithQuery({ path: "/a", query: null })).toBe("/a");
    expect(pathWithQuery({ path: "/a" })).toBe("/a");
  });
});
