import { describe, expect, it } from "vitest";
import { explainFailure, headersAsText, headerValue, queryParams, statusClass, statusText } from "./facts";

const ok = { status: 200, error: null, error_side: null, error_code: null, upstream: "http://localhost:5173", route: "app.localhost/" };

describe("status", () => {
  it("has a class and a phrase", () => {
    expect([101, 204, 304, 404, 502, null].map(statusClass)).toEqual([
      "info",
      "success",
      "redirect",
      "client-error",
      "server-error",
      "none",
    ]);
    expect(statusText(200)).toBe("200 OK");
    expect(statusText(418)).toBe("418");
    expect(statusText(null)).toBe("No response");
  });
});

describe("explainFailure", () => {
  it("is nothing for a success", () => {
    expect(explainFailure(ok)).toBeNull();
    expect(explainFailure({ ...ok, status: 404 })).toBeNull();
  });

  it("asks whether the dev server runs when the upstream refused", () => {
    const failure = explainFailure({
      ...ok,
      status: 502,
      error: "http://localhost:5173 refused the connection",
      error_side: "upstream",
      error_code: "upstream-refused",
    });
    expect(failure?.side).toBe("upstream");
    expect(failure?.title).toBe("The upstream refused the connection");
    expect(failure?.hint).toContain("Is the dev server running?");
    expect(failure?.hint).toContain("http://localhost:5173");
    expect(failure?.message).toBe("http://localhost:5173 refused the connection");
  });

  it("blames the right side for Portico's own answers", () => {
    expect(explainFailure({ ...ok, status: 404, error_code: "no-route", error: "no route" })?.side).toBe("client");
    expect(explainFailure({ ...ok, status: 508, error_code: "loop", error: "loop" })?.side).toBe("portico");
    expect(explainFailure({ ...ok, status: 504, error_code: "upstream-timeout", error: "late" })?.hint).toContain("timeout");
  });

  it("reads errors without a code from their side and message", () => {
    const gone = explainFailure({
      ...ok,
      error: "the client closed the connection before the response ended",
      error_side: "client",
    });
    expect(gone?.title).toBe("The client went away");
    expect(gone?.side).toBe("client");
    const broke = explainFailure({ ...ok, error: "the response body failed: reset", error_side: "upstream" });
    expect(broke?.title).toBe("The response broke off");
    expect(explainFailure({ ...ok, error: "odd", error_side: "martian" })?.side).toBeNull();
  });

  it("counts an upstream's own 5xx", () => {
    const failure = explainFailure({ ...ok, status: 500 });
    expect(failure?.title).toBe("The upstream answered 500 Internal Server Error");
    expect(failure?.side).toBe("upstream");
  });
});

describe("headers and query", () => {
  it("find values in any case and copy as lines", () => {
    const headers = [["Content-Type", "text/html"], ["x-a", ""]];
    expect(headerValue(headers, "content-type")).toBe("text/html");
    expect(headerValue(headers, "missing")).toBeUndefined();
    expect(headersAsText(headers)).toBe("Content-Type: text/html\nx-a: ");
  });

  it("decodes query parameters in order", () => {
    expect(queryParams("a=1&b=x%20y&a=2&c=d+e&flag")).toEqual([["a", "1"], ["b", "x y"], ["a", "2"], ["c", "d e"], ["flag", ""]]);
    expect(queryParams(null)).toEqual([]);
  });
});
