// The pure side of the JSON tree: node paths, what a collapsed node shows, which nodes start
// open. Nodes are named by JSON Pointer (RFC 6901), so a path names one node whatever its keys hold.

export type JsonKey = string | number;

/** Children drawn at once under one node; more are drawn a page at a time on request. */
export const CHILD_PAGE = 200;

/** The pointer of `key` below `parent` (`""` is the root): `/user/roles/0`. */
export function childPath(parent: string, key: JsonKey): string {
  return `${parent}/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`;
}

export function isContainer(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}

/** The first `limit` children of an object or array, in order; empty for anything else. */
export function children(value: unknown, limit = Number.POSITIVE_INFINITY): [JsonKey, unknown][] {
  if (Array.isArray(value)) {
    const items: unknown[] = Number.isFinite(limit) ? value.slice(0, limit) : value;
    return items.map((item, index): [JsonKey, unknown] => [index, item]);
  }
  if (isContainer(value)) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    return (Number.isFinite(limit) ? keys.slice(0, limit) : keys).map((key): [JsonKey, unknown] => [key, record[key]]);
  }
  return [];
}

/** How many children an object or array has (0 for anything else), without listing them. */
export function childCount(value: unknown): number {
  if (Array.isArray(value)) return value.length;
  if (isContainer(value)) return Object.keys(value).length;
  return 0;
}

export type ScalarType = "string" | "number" | "boolean" | "null";

/** A leaf as JSON writes it (strings quoted and escaped) and its type, for colouring. */
export function scalar(value: unknown): { text: string; type: ScalarType } {
  if (value === null) return { text: "null", type: "null" };
  switch (typeof value) {
    case "string":
      return { text: JSON.stringify(value), type: "string" };
    case "number":
      return { text: String(value), type: "number" };
    case "boolean":
      return { text: String(value), type: "boolean" };
    default:
      return { text: typeof value, type: "null" };
  }
}

/** The count a collapsed container shows: `3 keys`, `1 item`. */
export function countLabel(value: unknown): string {
  const n = childCount(value);
  if (Array.isArray(value)) return `${n} ${n === 1 ? "item" : "items"}`;
  return `${n} ${n === 1 ? "key" : "keys"}`;
}

/**
 * A one-line preview of a collapsed container, like a browser console's: `{name: "Ada",
 * roles: […]}`, cut at `max` characters.
 */
export function preview(value: unknown, max = 80): string {
  const array = Array.isArray(value);
  const parts: string[] = [];
  let length = 2;
  for (const [key, child] of children(value)) {
    const shown = isContainer(child) ? (Array.isArray(child) ? "[…]" : "{…}") : scalar(child).text;
    const part = array ? shown : `${/^[A-Za-z_$][\w$]*$/.test(String(key)) ? String(key) : JSON.stringify(key)}: ${shown}`;
    if (length + part.length + 2 > max) {
      parts.push("…");
      break;
    }
    parts.push(part);
    length += part.length + 2;
  }
  const inner = parts.join(", ");
  return array ? `[${inner}]` : `{${inner}}`;
}

/**
 * The containers to open at first: breadth first from the root, as long as the rows they
 * reveal stay within `budget`, so a small document opens completely and a big one shows its
 * top levels without drawing thousands of rows.
 */
export function initialExpansion(root: unknown, budget = 300): Set<string> {
  const open = new Set<string>();
  if (!isContainer(root)) return open;
  let rows = 1;
  const queue: [string, unknown][] = [["", root]];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const [path, value] = next;
    const count = Math.min(childCount(value), CHILD_PAGE);
    if (rows + count > budget && path !== "") continue;
    open.add(path);
    rows += count;
    for (const [key, child] of children(value, CHILD_PAGE)) {
      if (isContainer(child) && childCount(child) > 0) queue.push([childPath(path, key), child]);
    }
  }
  return open;
}

/** The rows "expand all" may draw: past them the deepest levels stay closed. */
export const EXPAND_ALL_ROWS = 5_000;

/** "Expand all": every container, breadth first, within `EXPAND_ALL_ROWS` rows. */
export function expandAll(root: unknown, budget = EXPAND_ALL_ROWS): Set<string> {
  return initialExpansion(root, budget);
}
