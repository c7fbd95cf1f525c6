import { describe, expect, it } from "vitest";
import type { DecodedBody, Exchange } from "../../../api/exchange";
import { draftFrom, editsFrom, fieldOf, nextRowId, refusedHeader, requestTarget } from "./replay";

const exchange = {
  id: 3,
  method: "POST",
  path: "/echo",
  query: "x=1",
  request_headers: [
    ["host", "echo.localhost:8080"],
    ["content-type", "application/json"],
    ["x-demo", "before"],
  ],
} as unknown as Exchange;

const textBody: DecodedBody = {
  size: 9,
  captured: 9,
  truncated: false,
  decoded: true,
  complete: true,
  binary: false,
  text: '{"a":"b"}',
};
const binaryBody: DecodedBody = { ...textBody, text: null, base64: "AAEC", binary: true };

describe("draftFrom", () => {
  it("starts from the captured request", () => {
    const draft = draftFrom(exchange, textBody);
    expect(draft.method).toBe("POST");
    expect(draft.target).toBe("/echo?x=1");
    expect(draft.headers.map((h) => [h.name, h.value])).toEqual(exchange.request_headers);
    expect(draft.body).toBe('{"a":"b"}');
    expect(draft.binaryBody).toBe(false);
    expect(draftFrom(exchange, binaryBody)).toMatchObject({ body: "", binaryBody: true });
  });

  it("writes an empty path as /", () => {
    expect(requestTarget({ path: "", query: null })).toBe("/");
  });
});

describe("editsFrom", () => {
  it("is empty when nothing changed", () => {
    expect(editsFrom(draftFrom(exchange, textBody), exchange, textBody)).toEqual({});
    expect(editsFrom(draftFrom(exchange, binaryBody), exchange, binaryBody)).toEqual({});
  });

  it("holds only what changed", () => {
    const draft = draftFrom(exchange, textBody);
    draft.method = "PUT";
    draft.target = "/echo?x=2";
    const row = draft.headers[2];
    if (row) row.value = "after";
    draft.headers.push({ id: nextRowId(draft.headers), name: "  x-new ", value: "1" });
    draft.headers.push({ id: nextRowId(draft.headers), name: "", value: "" });
    draft.body = '{"a":"c"}';
    expect(editsFrom(draft, exchange, textBody)).toEqual({
      method: "PUT",
      path: "/echo?x=2",
      headers: [
        ["host", "echo.localhost:8080"],
        ["content-type", "application/json"],
        ["x-demo", "after"],
        ["x-new", "1"],
      ],
      body: '{"a":"c"}',
    });
  });

  it("sends an invalid header name as typed, for the API to name", () => {
    const draft = draftFrom(exchange, textBody);
    draft.headers.push({ id: 9, name: "bad name", value: "v" });
    expect(editsFrom(draft, exchange, textBody).headers?.at(-1)).toEqual(["bad name", "v"]);
  });

  it("replaces a binary body only when something was typed", () => {
    const draft = draftFrom(exchange, binaryBody);
    draft.body = "text now";
    expect(editsFrom(draft, exchange, binaryBody)).toEqual({ body: "text now" });
  });
});

describe("fieldOf", () => {
  it("maps the API's field to the form's", () => {
    expect(fieldOf("headers")).toBe("headers");
    expect(fieldOf("body_base64")).toBe("body");
    expect(fieldOf(undefined)).toBeNull();
    expect(fieldOf("other")).toBeNull();
  });
});

describe("refusedHeader", () => {
  const rows = [
    { id: 0, name: "host", value: "a" },
    { id: 4, name: "bad header", value: "x" },
    { id: 7, name: "X-Token", value: "bad\u0001" },
    { id: 8, name: 'q"uote', value: "" },
  ];
  it("finds the row the API's message names", () => {
    expect(refusedHeader('"bad header" is not a header name', rows)).toEqual({ id: 4, part: "name" });
    expect(refusedHeader('"q\\"uote" is not a header name', rows)).toEqual({ id: 8, part: "name" });
    expect(refusedHeader("the value of x-token is not valid", rows)).toEqual({ id: 7, part: "value" });
  });

  it("is nothing for other messages or unknown rows", () => {
    expect(refusedHeader('"nope" is not a header name', rows)).toBeNull();
    expect(refusedHeader("something else", rows)).toBeNull();
  });
});
