import { describe, expect, it } from "vitest";
import { childCount, childPath, children, countLabel, expandAll, initialExpansion, preview, scalar } from "./jsonTree";

const doc = { user: { name: "Ada", roles: ["admin"] } };

describe("paths", () => {
  it("are JSON Pointers", () => {
    expect(childPath("", "user")).toBe("/user");
    expect(childPath("/user/roles", 0)).toBe("/user/roles/0");
    expect(childPath("", "a/b~c")).toBe("/a~1b~0c");
  });
});

describe("nodes", () => {
  it("list children in order", () => {
    expect(children(doc.user)).toEqual([["name", "Ada"], ["roles", ["admin"]]]);
    expect(children(["x", "y"])).toEqual([[0, "x"], [1, "y"]]);
    expect(children("Ada")).toEqual([]);
    expect(childCount({ a: 1, b: 2 })).toBe(2);
    expect(childCount(null)).toBe(0);
  });

  it("write leaves as JSON", () => {
    expect(scalar("Ada")).toEqual({ text: '"Ada"', type: "string" });
    expect(scalar('say "hi"\n')).toEqual({ text: '"say \\"hi\\"\\n"', type: "string" });
    expect(scalar(1.5)).toEqual({ text: "1.5", type: "number" });
    expect(scalar(false)).toEqual({ text: "false", type: "boolean" });
    expect(scalar(null)).toEqual({ text: "null", type: "null" });
  });

  it("summarise collapsed containers", () => {
    expect(countLabel({ a: 1 })).toBe("1 key");
    expect(countLabel([1, 2])).toBe("2 items");
    expect(preview(doc.user)).toBe('{name: "Ada", roles: […]}');
    expect(preview([1, { a: 1 }, "x"])).toBe('[1, {…}, "x"]');
    expect(preview({ "a-b": 1 })).toBe('{"a-b": 1}');
    expect(preview({ a: "x".repeat(100), b: 1 }, 20)).toBe("{…}");
    expect(preview({})).toBe("{}");
  });
});

describe("initialExpansion", () => {
  it("opens a small document completely", () => {
    expect([...initialExpansion(doc)].sort()).toEqual(["", "/user", "/user/roles"]);
  });

  it("opens a big one breadth first within the row budget", () => {
    const big = { items: Array.from({ length: 50 }, (_, i) => ({ id: i, tags: ["a", "b"] })) };
    const open = initialExpansion(big, 60);
    expect(open.has("")).toBe(true);
    expect(open.has("/items")).toBe(true);
    expect(open.has("/items/0")).toBe(true);
    expect(open.has("/items/49")).toBe(false);
    expect(open.has("/items/0/tags")).toBe(false);
  });

  it("opens nothing for a scalar and always the root of a container", () => {
    expect(initialExpansion("x").size).toBe(0);
    expect([...initialExpansion(Array.from({ length: 1000 }, () => 0), 10)]).toEqual([""]);
  });
});

describe("expandAll", () => {
  it("opens every container of a small document and stays within the budget of a big one", () => {
    expect([...expandAll(doc)].sort()).toEqual(["", "/user", "/user/roles"]);
    const big = Array.from({ length: 100 }, () => ({ a: [1, 2, 3] }));
    expect(expandAll(big).size).toBe(201);
    const open = expandAll(big, 150);
    expect(open.has("/0")).toBe(true);
    expect(open.has("/99/a")).toBe(false);
  });
});

describe("children with a limit", () => {
  it("lists only the first ones", () => {
    expect(children([1, 2, 3], 2)).toEqual([[0, 1], [1, 2]]);
    expect(children({ a: 1, b: 2, c: 3 }, 1)).toEqual([["a", 1]]);
  });
});
