import { describe, expect, it } from "vitest";
import { RowStore } from "./rowStore";

const rows = (...ids: number[]) => ids.map((id) => ({ id, label: `#${id}` }));
const ids = (store: RowStore<{ id: number }>) => store.toArray().map((row) => row.id);

describe("RowStore", () => {
  it("holds rows newest first whatever order they come in", () => {
    const store = new RowStore(100);
    store.add(rows(3, 1, 2));
    expect(ids(store)).toEqual([3, 2, 1]);
    store.add(rows(7, 5)); // newer: pushed on top
    expect(ids(store)).toEqual([7, 5, 3, 2, 1]);
    store.add(rows(4, 6)); // a slow exchange finishing late lands in its place
    expect(ids(store)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    store.add(rows(0, -3)); // an older page goes at the end
    expect(ids(store)).toEqual([7, 6, 5, 4, 3, 2, 1, 0, -3]);
    expect(store.at(0)?.id).toBe(7);
    expect(store.at(8)?.id).toBe(-3);
    expect(store.at(9)).toBeUndefined();
    expect(store.at(-1)).toBeUndefined();
  });

  it("keeps each id once", () => {
    const store = new RowStore(100);
    expect(store.add(rows(1, 2, 2, 3))).toBe(3);
    expect(store.add(rows(3, 2, 4))).toBe(1);
    expect(store.add(rows(1))).toBe(0);
    expect(ids(store)).toEqual([4, 3, 2, 1]);
    // The first copy wins.
    const store2 = new RowStore<{ id: number; label: string }>(10);
    store2.add([{ id: 1, label: "first" }]);
    store2.add([{ id: 1, label: "second" }]);
    expect(store2.at(0)?.label).toBe("first");
  });

  it("drops the oldest past its cap and counts them", () => {
    const store = new RowStore(3);
    store.add(rows(1, 2, 3));
    expect(store.trimmed).toBe(0);
    store.add(rows(4, 5));
    expect(ids(store)).toEqual([5, 4, 3]);
    expect(store.trimmed).toBe(2);
    expect(store.has(1)).toBe(false);
    // A dropped id may come back (it is no longer held), and is dropped again if oldest.
    store.add(rows(1));
    expect(ids(store)).toEqual([5, 4, 3]);
    expect(store.trimmed).toBe(3);
    store.add(rows(10, 11, 12, 13));
    expect(ids(store)).toEqual([13, 12, 11]);
    expect(store.size).toBe(3);
  });

  it("finds rows by id", () => {
    const store = new RowStore(100);
    store.add(rows(10, 20, 30, 40));
    expect(store.indexOf(40)).toBe(0);
    expect(store.indexOf(10)).toBe(3);
    expect(store.indexOf(25)).toBe(-1);
    expect(store.countNewerThan(40)).toBe(0);
    expect(store.countNewerThan(25)).toBe(2);
    expect(store.countNewerThan(0)).toBe(4);
    expect(store.newest()?.id).toBe(40);
    expect(store.oldest()?.id).toBe(10);
  });

  it("bumps its version on every change, and clears", () => {
    const store = new RowStore(100);
    const v0 = store.version;
    store.add(rows(1));
    expect(store.version).toBeGreaterThan(v0);
    const v1 = store.version;
    store.add(rows(1)); // nothing new
    expect(store.version).toBe(v1);
    expect(store.remove(1)).toBe(true);
    expect(store.remove(1)).toBe(false);
    store.add(rows(1, 2));
    store.clear();
    expect(store.size).toBe(0);
    expect(store.has(2)).toBe(false);
    expect(store.version).toBeGreaterThan(v1);
  });

  it("stays fast with 100,000 rows", () => {
    const store = new RowStore(100_000);
    const started = performance.now();
    for (let batch = 0; batch < 1_200; batch += 1) {
      const items = [];
      for (let i = 0; i < 100; i += 1) items.push({ id: batch * 100 + i });
      store.add(items);
    }
    expect(store.size).toBe(100_000);
    expect(store.trimmed).toBe(20_000);
    expect(store.at(0)?.id).toBe(119_999);
    expect(store.indexOf(20_000)).toBe(99_999);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("refuses a cap that is not a positive integer", () => {
    expect(() => new RowStore(0)).toThrow(RangeError);
    expect(() => new RowStore(1.5)).toThrow(RangeError);
  });
});
