// What a captured body is, so it can be shown the way a person reads it: JSON as a tree,
// markup and code as formatted source, images as images, other bytes as a hex dump.
// Decided from the `Content-Type` first, then from the content itself (many dev servers send
// JSON as text/plain, or nothing at all).
import type { DecodedBody } from "../../../api/exchange";
import { base64ToBytes, textToBase64 } from "./bytes";

export type SourceLanguage = "html" | "xml" | "css" | "javascript";

export type BodyKind =
  /** Nothing captured (and nothing sent, or nothing kept). */
  | { kind: "none" }
  | { kind: "json"; text: string; value: unknown }
  | { kind: "source"; language: SourceLanguage; text: string }
  /** `src` is a data: URL; `text` is the SVG source, for SVG. */
  | { kind: "image"; mime: string; src: string; text: string | null }
  | { kind: "binary"; base64: string }
  /** An HTML form's fields (`application/x-www-form-urlencoded`), decoded. */
  | { kind: "form"; text: string; fields: [string, string][] }
  | { kind: "text"; text: string; note: string | null };

/** Image types every browser shows in an `<img>`. */
const IMAGE_MIMES = new Set([
  "image/png",
  "image/jpeg",
  "image/jpg",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/bmp",
  "image/x-icon",
  "image/vnd.microsoft.icon",
  "image/svg+xml",
]);

const JS_MIMES = new Set([
  "application/javascript",
  "text/javascript",
  "application/x-javascript",
  "application/ecmascript",
  "text/ecmascript",
  "text/jsx",
]);

/** The largest text parsed as JSON to draw a tree (bigger bodies are shown as text). */
export const JSON_TREE_MAX = 8 << 20;

function isJsonMime(mime: string): boolean {
  return (
    mime === "application/json" ||
    mime === "text/json" ||
    mime === "application/x-json" ||
    mime.endsWith("+json")
  );
}

function isXmlMime(mime: string): boolean {
  return mime === "application/xml" || mime === "text/xml" || mime.endsWith("+xml");
}

/** The image type `bytes` start with (magic numbers), if any. */
export function sniffImage(bytes: Uint8Array): string | null {
  const at = (i: number) => bytes[i] ?? -1;
  const ascii = (start: number, text: string) => {
    for (let i = 0; i < text.length; i++) if (at(start + i) !== text.charCodeAt(i)) return false;
    return true;
  };
  if (at(0) === 0x89 && ascii(1, "PNG\r\n\x1a\n")) return "image/png";
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return "image/jpeg";
  if (ascii(0, "GIF87a") || ascii(0, "GIF89a")) return "image/gif";
  if (ascii(0, "RIFF") && ascii(8, "WEBP")) return "image/webp";
  if (ascii(4, "ftypavif")) return "image/avif";
  if (at(0) === 0 && at(1) === 0 && at(2) === 1 && at(3) === 0) return "image/x-icon";
  if (ascii(0, "BM") && bytes.length > 26) return "image/bmp";
  return null;
}

/** The markup or code language `text` looks like, when it has no telling type. */
function sniffText(text: string): "json" | SourceLanguage | null {
  const start = text.trimStart().slice(0, 64).toLowerCase();
  if (start.startsWith("{") || start.startsWith("[")) return "json";
  if (start.startsWith("<!doctype html") || start.startsWith("<html")) return "html";
  if (start.startsWith("<?xml") || start.startsWith("<svg")) return "xml";
  return null;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.length > JSON_TREE_MAX) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** How to show `body`. */
export function classifyBody(body: DecodedBody): BodyKind {
  const mime = body.mime ?? "";
  const text = body.text ?? null;
  const base64 = body.base64 ?? null;

  if (text === null) {
    if (base64 === null || base64 === "") return { kind: "none" };
    const declared = IMAGE_MIMES.has(mime) ? mime : null;
    // Sniff even a declared type: a server sending a JPEG as image/png still gets it shown.
    const sniffed = sniffImage(base64ToBytes(base64, 16));
    const image = sniffed ?? (declared !== null && body.decoded ? declared : null);
    if (image !== null) return { kind: "image", mime: image, src: `data:${image};base64,${base64}`, text: null };
    return { kind: "binary", base64 };
  }
  if (text === "") return { kind: "none" };

  if (mime === "image/svg+xml") {
    return { kind: "image", mime, src: `data:${mime};base64,${textToBase64(text)}`, text };
  }
  if (isJsonMime(mime)) {
    const parsed = parseJson(text);
    if (parsed.ok) return { kind: "json", text, value: parsed.value };
    return { kind: "text", text, note: jsonNote(body, text) };
  }
  if (mime === "application/x-www-form-urlencoded") {
    return { kind: "form", text, fields: [...new URLSearchParams(text)] };
  }
  if (mime === "text/html" || mime === "application/xhtml+xml") return { kind: "source", language: "html", text };
  if (isXmlMime(mime)) return { kind: "source", language: "xml", text };
  if (mime === "text/css") return { kind: "source", language: "css", text };
  if (JS_MIMES.has(mime)) return { kind: "source", language: "javascript", text };

  // No telling type (none, text/plain, octet-stream…): look at the content.
  const sniffed = sniffText(text);
  if (sniffed === "json") {
    const parsed = parseJson(text);
    if (parsed.ok) return { kind: "json", text, value: parsed.value };
  } else if (sniffed !== null) {
    return { kind: "source", language: sniffed, text };
  }
  return { kind: "text", text, note: null };
}

function jsonNote(body: DecodedBody, text: string): string {
  if (text.length > JSON_TREE_MAX) return "Too large to draw as a tree: shown as text.";
  if (!body.complete) return "The captured JSON is incomplete, so it is shown as text.";
  return "Declared as JSON but does not parse: shown as text.";
}

/** What a person should know about how complete `body` is; `null` when it is all there. */
export function completeness(body: DecodedBody): { level: "info" | "warning"; text: string } | null {
  if (body.error !== null && body.error !== undefined && body.error !== "") {
    const what = body.decoded ? "" : " The bytes are shown as they were sent.";
    return { level: "warning", text: `${capitalise(body.error)}.${what}` };
  }
  if (body.truncated) {
    return {
      level: "info",
      text: `Preview: the first ${body.captured.toLocaleString("en")} of ${body.size.toLocaleString("en")} bytes were captured.`,
    };
  }
  if (!body.complete) return { level: "info", text: "Only part of the body could be decoded." };
  return null;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The largest text drawn at once; "show all" draws the rest on request. */
export const RENDER_CHARS = 100_000;

/** `text` cut for drawing: the first `limit` characters (not splitting a surrogate pair). */
export function clip(text: string, limit: number): { shown: string; hidden: number } {
  if (text.length <= limit) return { shown: text, hidden: 0 };
  let end = limit;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return { shown: text.slice(0, end), hidden: text.length - end };
}

export type BodyViewName = "tree" | "formatted" | "raw" | "image" | "hex" | "text" | "fields";

export const VIEW_LABEL: Record<BodyViewName, string> = {
  tree: "Tree",
  formatted: "Formatted",
  raw: "Raw",
  image: "Image",
  hex: "Hex",
  text: "Text",
  fields: "Fields",
};

/** The ways a body of this kind can be shown, the default first. */
export function viewsFor(body: BodyKind): BodyViewName[] {
  switch (body.kind) {
    case "none":
      return [];
    case "json":
      return ["tree", "raw"];
    case "source":
      return ["formatted", "raw"];
    case "image":
      return body.text === null ? ["image", "hex"] : ["image", "raw"];
    case "binary":
      return ["hex"];
    case "form":
      return ["fields", "raw"];
    case "text":
      return ["text"];
  }
}
