import { describe, expect, it } from "vitest";
import type { DecodedBody } from "../../../api/exchange";
import { classifyBody, clip, completeness, sniffImage, viewsFor } from "./body";
import { base64ToBytes, textToBase64 } from "./bytes";

// A 1×1 transparent PNG.
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

function body(fields: Partial<DecodedBody>): DecodedBody {
  return { size: 0, captured: 0, truncated: false, decoded: true, complete: true, binary: false, ...fields };
}

const text = (t: string, mime: string | null = null) =>
  body({ text: t, mime, size: t.length, captured: t.length, charset: "utf-8" });
const bytes = (base64: string, mime: string | null = null) =>
  body({ base64, mime, binary: true, size: base64ToBytes(base64).length, captured: base64ToBytes(base64).length });

describe("classifyBody", () => {
  it("draws JSON as a tree, by type or by content", () => {
    expect(classifyBody(text('{"a":1}', "application/json"))).toMatchObject({ kind: "json", value: { a: 1 } });
    expect(classifyBody(text("[1,2]", "application/problem+json"))).toMatchObject({ kind: "json", value: [1, 2] });
    expect(classifyBody(text(' {"a":[true]}', "text/plain"))).toMatchObject({ kind: "json", value: { a: [true] } });
    expect(classifyBody(text('{"a":1}'))).toMatchObject({ kind: "json" });
  });

  it("shows JSON that does not parse as text, saying why", () => {
    const cut = body({ text: '{"a":', mime: "application/json", truncated: true, complete: false, size: 900, captured: 5 });
    expect(classifyBody(cut)).toEqual({ kind: "text", text: '{"a":', note: "The captured JSON is incomplete, so it is shown as text." });
    expect(classifyBody(text("{nope", "application/json"))).toMatchObject({ kind: "text", note: expect.stringContaining("does not parse") as string });
    expect(classifyBody(text("{nope"))).toEqual({ kind: "text", text: "{nope", note: null });
  });

  it("formats markup and code by type or by their first characters", () => {
    expect(classifyBody(text("<p>hi</p>", "text/html"))).toMatchObject({ kind: "source", language: "html" });
    expect(classifyBody(text("<a/>", "application/atom+xml"))).toMatchObject({ kind: "source", language: "xml" });
    expect(classifyBody(text("<a/>", "text/xml"))).toMatchObject({ kind: "source", language: "xml" });
    expect(classifyBody(text("a{b:c}", "text/css"))).toMatchObject({ kind: "source", language: "css" });
    expect(classifyBody(text("let a=1", "text/javascript"))).toMatchObject({ kind: "source", language: "javascript" });
    expect(classifyBody(text("let a=1", "application/javascript"))).toMatchObject({ kind: "source", language: "javascript" });
    expect(classifyBody(text("\n<!DOCTYPE html><html></html>"))).toMatchObject({ kind: "source", language: "html" });
    expect(classifyBody(text('<?xml version="1.0"?><a/>', "text/plain"))).toMatchObject({ kind: "source", language: "xml" });
  });

  it("shows images from their bytes, whatever the declared type", () => {
    expect(classifyBody(bytes(PNG, "image/png"))).toEqual({ kind: "image", mime: "image/png", src: `data:image/png;base64,${PNG}`, text: null });
    expect(classifyBody(bytes(PNG, "application/octet-stream"))).toMatchObject({ kind: "image", mime: "image/png" });
    expect(classifyBody(bytes(PNG))).toMatchObject({ kind: "image", mime: "image/png" });
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"/>';
    expect(classifyBody(text(svg, "image/svg+xml"))).toEqual({
      kind: "image",
      mime: "image/svg+xml",
      src: `data:image/svg+xml;base64,${textToBase64(svg)}`,
      text: svg,
    });
  });

  it("dumps other bytes as hex", () => {
    expect(classifyBody(bytes("AAECAw==", "application/octet-stream"))).toEqual({ kind: "binary", base64: "AAECAw==" });
    // Declared as an image but neither recognised nor decoded: bytes, not a broken image.
    expect(classifyBody(body({ base64: "AAECAw==", mime: "image/png", decoded: false }))).toMatchObject({ kind: "binary" });
  });

  it("lists form fields", () => {
    expect(classifyBody(text("a=1&b=x+y&c=%C3%BC", "application/x-www-form-urlencoded"))).toEqual({
      kind: "form",
      text: "a=1&b=x+y&c=%C3%BC",
      fields: [["a", "1"], ["b", "x y"], ["c", "ü"]],
    });
  });

  it("shows other text as text, and nothing as nothing", () => {
    expect(classifyBody(text("hello", "text/plain"))).toEqual({ kind: "text", text: "hello", note: null });
    expect(classifyBody(text("a,b\n1,2", "text/csv"))).toMatchObject({ kind: "text" });
    expect(classifyBody(body({}))).toEqual({ kind: "none" });
    expect(classifyBody(body({ text: "" }))).toEqual({ kind: "none" });
    expect(classifyBody(body({ base64: "" }))).toEqual({ kind: "none" });
  });
});

describe("sniffImage", () => {
  const of = (...values: number[]) => new Uint8Array(values);
  const ascii = (s: string) => new TextEncoder().encode(s);
  it("knows the common image signatures", () => {
    expect(sniffImage(base64ToBytes(PNG))).toBe("image/png");
    expect(sniffImage(of(0xff, 0xd8, 0xff, 0xe0))).toBe("image/jpeg");
    expect(sniffImage(ascii("GIF89a...."))).toBe("image/gif");
    expect(sniffImage(ascii("RIFF\0\0\0\0WEBPVP8 "))).toBe("image/webp");
    expect(sniffImage(ascii("hello"))).toBeNull();
    expect(sniffImage(of())).toBeNull();
  });
});

describe("completeness", () => {
  it("says when a preview is cut, or decoding failed", () => {
    expect(completeness(body({ size: 10, captured: 10 }))).toBeNull();
    expect(completeness(body({ size: 2_000_000, captured: 1_048_576, truncated: true, complete: false }))).toEqual({
      level: "info",
      text: "Preview: the first 1,048,576 of 2,000,000 bytes were captured.",
    });
    expect(completeness(body({ decoded: false, error: "cannot decode gzip: invalid header" }))).toEqual({
      level: "warning",
      text: "Cannot decode gzip: invalid header. The bytes are shown as they were sent.",
    });
  });
});

describe("clip", () => {
  it("cuts long text without splitting a character", () => {
    expect(clip("abc", 5)).toEqual({ shown: "abc", hidden: 0 });
    expect(clip("abcdef", 4)).toEqual({ shown: "abcd", hidden: 2 });
    expect(clip("a😀b", 2)).toEqual({ shown: "a", hidden: 3 });
  });
});

describe("viewsFor", () => {
  it("offers the views each kind has, the default first", () => {
    expect(viewsFor(classifyBody(text("{}", "application/json")))).toEqual(["tree", "raw"]);
    expect(viewsFor(classifyBody(text("<p/>", "text/html")))).toEqual(["formatted", "raw"]);
    expect(viewsFor(classifyBody(bytes(PNG, "image/png")))).toEqual(["image", "hex"]);
    expect(viewsFor(classifyBody(text("<svg/>", "image/svg+xml")))).toEqual(["image", "raw"]);
    expect(viewsFor(classifyBody(bytes("AAEC")))).toEqual(["hex"]);
    expect(viewsFor(classifyBody(text("hi")))).toEqual(["text"]);
    expect(viewsFor(classifyBody(text("a=1", "application/x-www-form-urlencoded")))).toEqual(["fields", "raw"]);
    expect(viewsFor({ kind: "none" })).toEqual([]);
  });
});
