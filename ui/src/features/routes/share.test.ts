import { describe, expect, it } from "vitest";
import { expiryFor, KEEP_EXPIRY, svgSource, timeLeft } from "./share";

describe("share durations", () => {
  it("turn a choice into an expiry from now, or none", () => {
    expect(expiryFor("3600", 1_000)).toBe(3_601_000);
    expect(expiryFor("", 1_000)).toBeNull();
    expect(expiryFor(KEEP_EXPIRY, 1_000)).toBeNull();
  });

  it("say the time left in words", () => {
    const now = 1_000_000;
    expect(timeLeft(now + 3_900_000, now)).toBe("1 h 05 min");
    expect(timeLeft(now + 250_000, now)).toBe("4 min 10 s");
    expect(timeLeft(now + 9_000, now)).toBe("9 s");
    expect(timeLeft(now + 90_000_000, now)).toBe("1 d 1 h");
    expect(timeLeft(now - 5, now)).toBe("ended");
  });

  it("draw the API's SVG as an image", () => {
    expect(svgSource("<svg/>")).toBe("data:image/svg+xml;charset=utf-8,%3Csvg%2F%3E");
  });
});
