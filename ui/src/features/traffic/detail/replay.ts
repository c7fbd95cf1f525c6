// "Edit and replay": the form's starting values from a captured exchange, and the `ReplayEdits`
// the API gets back, holding only what the person changed (so an untouched body, perhaps
// binary or compressed on the wire, is replayed byte for byte).
import type { DecodedBody, Exchange, ReplayEdits } from "../../../api/exchange";

export interface HeaderRow {
  /** Stable across edits, for React keys. */
  id: number;
  name: string;
  value: string;
}

export interface ReplayDraft {
  method: string;
  /** Path and query, as the request line had them. */
  target: string;
  headers: HeaderRow[];
  /** The body as text, when the captured one reads as text. */
  body: string;
  /** The captured body could not be shown as text: an empty `body` keeps it. */
  binaryBody: boolean;
}

/** The request line's target: `/path?query`. */
export function requestTarget(e: Pick<Exchange, "path" | "query">): string {
  const path = e.path === "" ? "/" : e.path;
  return e.query === null || e.query === undefined ? path : `${path}?${e.query}`;
}

export function draftFrom(e: Exchange, body: DecodedBody): ReplayDraft {
  const text = body.text ?? null;
  return {
    method: e.method,
    target: requestTarget(e),
    headers: e.request_headers.map(([name = "", value = ""], id) => ({ id, name, value })),
    body: text ?? "",
    binaryBody: text === null && (body.base64 ?? "") !== "",
  };
}

function sameHeaders(rows: [string, string][], captured: string[][]): boolean {
  if (rows.length !== captured.length) return false;
  return rows.every(([name, value], i) => {
    const [capturedName = "", capturedValue = ""] = captured[i] ?? [];
    return name === capturedName && value === capturedValue;
  });
}

/**
 * The edits that turn the captured request into `draft`; `{}` when nothing changed. Header
 * rows with neither a name nor a value are dropped; anything else goes to the API as typed,
 * so its validation message can point at the problem.
 */
export function editsFrom(draft: ReplayDraft, e: Exchange, body: DecodedBody): ReplayEdits {
  const edits: ReplayEdits = {};
  if (draft.method !== e.method) edits.method = draft.method;
  if (draft.target !== requestTarget(e)) edits.path = draft.target;
  const rows = draft.headers
    .filter((row) => row.name.trim() !== "" || row.value !== "")
    .map((row): [string, string] => [row.name.trim(), row.value]);
  if (!sameHeaders(rows, e.request_headers)) edits.headers = rows;
  if (draft.binaryBody) {
    if (draft.body !== "") edits.body = draft.body;
  } else if (draft.body !== (body.text ?? "")) {
    edits.body = draft.body;
  }
  return edits;
}

/** The next id for a new header row. */
export function nextRowId(rows: HeaderRow[]): number {
  return rows.reduce((max, row) => Math.max(max, row.id), -1) + 1;
}

/** Which form field an API validation error belongs to. */
export type ReplayField = "method" | "path" | "headers" | "body";

export function fieldOf(apiField: string | undefined): ReplayField | null {
  switch (apiField) {
    case "method":
    case "path":
    case "headers":
      return apiField;
    case "body":
    case "body_base64":
      return "body";
    default:
      return null;
  }
}

/**
 * The header row an API refusal names, so only that input is marked: the engine says
 * `"bad name" is not a header name` or `the value of x-token is not valid`.
 */
export function refusedHeader(
  message: string,
  rows: HeaderRow[],
): { id: number; part: "name" | "value" } | null {
  const name = /^("(?:[^"\\]|\\.)*") is not a header name$/.exec(message)?.[1];
  if (name !== undefined) {
    let refused: string;
    try {
      refused = JSON.parse(name) as string;
    } catch {
      return null;
    }
    const row = rows.find((r) => r.name.trim() === refused);
    return row ? { id: row.id, part: "name" } : null;
  }
  const valueOf = /^the value of (\S+) is not valid$/.exec(message)?.[1];
  if (valueOf !== undefined) {
    const row = rows.find((r) => r.name.trim().toLowerCase() === valueOf.toLowerCase());
    return row ? { id: row.id, part: "value" } : null;
  }
  return null;
}
