import { describe, expect, it } from "vitest";
import { areaPath, indexAt, linePath, niceCeil, segments, seriesMax, xAt, yAt, type Box } from "./sparkline";

const box: Box = { width: 100, height: 40, pad: 2 };

describe("niceCeil", () => {
  it("rounds up to 1, 2, 2.5, 5 or 10 times a power of ten", () => {
    expect(niceCeil(1)).toBe(1);
    expect(niceCeil(1.2)).toBe(2);
    expect(niceCeil(2.2)).toBe(2.5);
    expect(niceCeil(3)).toBe(5);
    expect(niceCeil(7)).toBe(10);
    expect(niceCeil(12)).toBe(20);
    expect(niceCeil(480)).toBe(500);
    expect(niceCeil(0.3)).toBe(0.5);
    expect(niceCeil(0.03)).toBe(0.05);
    expect(niceCeil(100)).toBe(100);
  });
  it("keeps zero, negatives and non-finite values at 0", () => {
    expect(niceCeil(0)).toBe(0);
    expect(niceCeil(-3)).toBe(0);
    expect(niceCeil(Number.NaN)).toBe(0);
    expect(niceCeil(Number.POSITIVE_INFINITY)).toBe(0);
  });
});

describe("seriesMax", () => {
  it("takes the largest value of all series, skipping gaps", () => {
    expect(seriesMax([1, null, 4], [null, 7])).toBe(7);
    expect(seriesMax([null, null])).toBe(0);
    expect(seriesMax()).toBe(0);
  });
});

describe("scaling", () => {
  it("spreads buckets from the left edge to the right edge", () => {
    expect(xAt(0, 5, 100)).toBe(0);
    expect(xAt(2, 5, 100)).toBe(50);
    expect(xAt(4, 5, 100)).toBe(100);
    expect(xAt(0, 1, 100)).toBe(50);
  });
  it("maps zero to the baseline and the max to the top, inside the padding", () => {
    expect(yAt(0, 10, box)).toBe(38);
    expect(yAt(10, 10, box)).toBe(2);
    expect(yAt(5, 10, box)).toBe(20);
  });
  it("clamps values outside the scale", () => {
    expect(yAt(20, 10, box)).toBe(2);
    expect(yAt(-1, 10, box)).toBe(38);
  });
  it("puts everything on the baseline when the scale is empty (all zero)", () => {
    expect(yAt(0, 0, box)).toBe(38);
    expect(yAt(3, 0, box)).toBe(38);
  });
  it("finds the bucket under the pointer", () => {
    expect(indexAt(0, 5, 100)).toBe(0);
    expect(indexAt(49, 5, 100)).toBe(2);
    expect(indexAt(100, 5, 100)).toBe(4);
    expect(indexAt(-10, 5, 100)).toBe(0);
    expect(indexAt(130, 5, 100)).toBe(4);
    expect(indexAt(30, 1, 100)).toBe(0);
  });
});

describe("segments and paths", () => {
  it("draws one path through a full series", () => {
    const runs = segments([0, 5, 10], 10, box);
    expect(runs).toHaveLength(1);
    expect(linePath(runs)).toBe("M0,38L50,20L100,2");
    expect(areaPath(runs, box)).toBe("M0,38L0,38L50,20L100,2L100,38Z");
  });
  it("breaks the line at null gaps", () => {
    const runs = segments([1, 2, null, 3, 4], 4, box);
    expect(runs.map((run) => run.map((p) => p.index))).toEqual([[0, 1], [3, 4]]);
    expect(linePath(runs)).toBe("M0,29L25,20M75,11L100,2");
    expect(areaPath(runs, box)).toBe("M0,38L0,29L25,20L25,38ZM75,38L75,11L100,2L100,38Z");
  });
  it("draws a lone bucket between gaps as a dot and leaves it out of the area", () => {
    const runs = segments([null, 2, null], 2, box);
    expect(linePath(runs)).toBe("M50,2h0");
    expect(areaPath(runs, box)).toBe("");
  });
  it("draws a flat series as a horizontal line", () => {
    const runs = segments([3, 3, 3], niceCeil(3), box);
    const ys = new Set(runs.flat().map((p) => p.y));
    expect(ys.size).toBe(1);
    // 3 on a scale to 5: below the top, so a steady rate does not look like a maximum.
    expect([...ys][0]).toBeCloseTo(38 - (3 / 5) * 36);
  });
  it("draws an all-zero series along the baseline", () => {
    const values = [0, 0, 0, 0];
    const runs = segments(values, niceCeil(seriesMax(values)), box);
    expect(linePath(runs)).toBe("M0,38L33.33,38L66.67,38L100,38");
  });
  it("draws nothing for a series of gaps only", () => {
    expect(segments([null, null], 1, box)).toEqual([]);
    expect(linePath([])).toBe("");
    expect(areaPath([], box)).toBe("");
  });
});
