import { describe, expect, it } from "vitest";
import { filtersOnly, trafficSearch } from "../../api/traffic";
import {
  DEFAULT_FILTERS,
  DEFAULT_SLOW_MS,
  filtersToQuery,
  isFiltered,
  parseFilters,
  parseMinDuration,
  parseStatus,
  queryKey,
  type Filters,
} from "./filters";

const with_ = (patch: Partial<Filters>): Filters => ({ ...DEFAULT_FILTERS, ...patch });

describe("filtersToQuery", () => {
  it("asks for everything by default", () => {
    expect(filtersToQuery(DEFAULT_FILTERS)).toEqual({});
    expect(isFiltered(DEFAULT_FILTERS)).toBe(false);
    // A slow threshold alone narrows nothing until "slow only" is on.
    expect(isFiltered(with_({ minDurationMs: "50" }))).toBe(false);
  });

  it("maps every filter to its parameter", () => {
    expect(
      filtersToQuery({
        target: "host:Shop.localhost",
        method: "post",
        statusClass: "4xx",
        status: "404",
        text: "  user   id ",
        errorsOnly: true,
        slowOnly: true,
        minDurationMs: "250",
      }),
    ).toEqual({
      host: "shop.localhost",
      method: "POST",
      status_class: "4xx",
      status: 404,
      q: "user id",
      errors: true,
      min_duration_ms: 250,
    });
    expect(filtersToQuery(with_({ target: "route:7" }))).toEqual({ route_id: 7 });
  });

  it("leaves out what is not valid", () => {
    expect(filtersToQuery(with_({ target: "route:x" }))).toEqual({});
    expect(filtersToQuery(with_({ target: "host:  " }))).toEqual({});
    expect(filtersToQuery(with_({ status: "42" }))).toEqual({});
    expect(filtersToQuery(with_({ status: "999" }))).toEqual({});
    expect(filtersToQuery(with_({ text: "   " }))).toEqual({});
    expect(filtersToQuery(with_({ statusClass: "7xx" as "2xx" }))).toEqual({});
  });

  it("uses the default slow threshold when none is typed", () => {
    expect(filtersToQuery(with_({ slowOnly: true, minDurationMs: "" }))).toEqual({ min_duration_ms: DEFAULT_SLOW_MS });
    expect(filtersToQuery(with_({ slowOnly: true, minDurationMs: "-5" }))).toEqual({ min_duration_ms: DEFAULT_SLOW_MS });
    expect(filtersToQuery(with_({ slowOnly: true, minDurationMs: "0" }))).toEqual({ min_duration_ms: 0 });
  });
});

describe("parsing typed values", () => {
  it("reads an exact status", () => {
    expect(parseStatus("200")).toBe(200);
    expect(parseStatus(" 503 ")).toBe(503);
    expect(parseStatus("099")).toBeNull();
    expect(parseStatus("600")).toBeNull();
    expect(parseStatus("20")).toBeNull();
    expect(parseStatus("2000")).toBeNull();
    expect(parseStatus("")).toBeNull();
  });

  it("reads a slow threshold", () => {
    expect(parseMinDuration("1500")).toBe(1500);
    expect(parseMinDuration("2.5")).toBe(2.5);
    expect(parseMinDuration("")).toBe(DEFAULT_SLOW_MS);
    expect(parseMinDuration("abc")).toBe(DEFAULT_SLOW_MS);
  });

  it("reads stored filters, defaulting what is missing or wrong", () => {
    expect(parseFilters(null)).toEqual(DEFAULT_FILTERS);
    expect(parseFilters("x")).toEqual(DEFAULT_FILTERS);
    expect(parseFilters({ method: "GET", statusClass: "9xx", errorsOnly: "yes", text: 5 })).toEqual(with_({ method: "GET" }));
    const all = with_({ target: "route:1", statusClass: "5xx", errorsOnly: true, slowOnly: true, minDurationMs: "10" });
    expect(parseFilters(JSON.parse(JSON.stringify(all)))).toEqual(all);
  });
});

describe("query parameters", () => {
  it("writes a query as URL parameters, leaving out empty ones", () => {
    expect(trafficSearch({})).toBe("");
    expect(trafficSearch({ host: "a.localhost", status: 404, errors: true, q: "a b&c", min_duration_ms: 1000 })).toBe(
      "host=a.localhost&status=404&errors=true&q=a+b%26c&min_duration_ms=1000",
    );
    expect(trafficSearch({ q: "" })).toBe("");
  });

  it("drops the cursor and page size for the stream and the export", () => {
    expect(filtersOnly({ method: "GET", before: 10, limit: 50 })).toEqual({ method: "GET" });
  });

  it("keys a query whatever the order of its fields", () => {
    expect(queryKey({ method: "GET", status: 200 })).toBe(queryKey({ status: 200, method: "GET" }));
    expect(queryKey({ method: "GET" })).not.toBe(queryKey({ method: "POST" }));
  });
});
