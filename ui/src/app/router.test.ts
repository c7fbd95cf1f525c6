import { describe, expect, it } from "vitest";
import { pageHash, parseHash } from "./router";

describe("parseHash", () => {
  it("names each page", () => {
    expect(parseHash("")).toEqual({ name: "overview" });
    expect(parseHash("#/")).toEqual({ name: "overview" });
    expect(parseHash("#/routes")).toEqual({ name: "routes" });
    expect(parseHash("#routes/")).toEqual({ name: "routes" });
    expect(parseHash("#/traffic")).toEqual({ name: "traffic", exchange: null });
    expect(parseHash("#/traffic/42")).toEqual({ name: "traffic", exchange: 42 });
    expect(parseHash("#/certificates")).toEqual({ name: "certificates" });
    expect(parseHash("#/settings")).toEqual({ name: "settings" });
    expect(parseHash("#/doctor")).toEqual({ name: "doctor", host: null });
    expect(parseHash("#/doctor/App.test")).toEqual({ name: "doctor", host: "app.test" });
    expect(parseHash("#/doctor/*.shop.test")).toEqual({ name: "doctor", host: "*.shop.test" });
  });

  it("treats anything else as the overview or no exchange", () => {
    expect(parseHash("#/nope")).toEqual({ name: "overview" });
    expect(parseHash("#/traffic/abc")).toEqual({ name: "traffic", exchange: null });
    expect(parseHash("#/traffic/-1")).toEqual({ name: "traffic", exchange: null });
    expect(parseHash("#/traffic/99999999999999999999")).toEqual({ name: "traffic", exchange: null });
    expect(parseHash("#/doctor/%E0%A4%A")).toEqual({ name: "doctor", host: null });
    expect(parseHash("#/doctor/a<b")).toEqual({ name: "doctor", host: null });
  });

  it("round-trips with pageHash", () => {
    for (const hash of ["#/", "#/routes", "#/traffic", "#/traffic/7", "#/certificates", "#/doctor", "#/doctor/app.test", "#/settings"]) {
      expect(pageHash(parseHash(hash))).toBe(hash);
    }
  });
});
