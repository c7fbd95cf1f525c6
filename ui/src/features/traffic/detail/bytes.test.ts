import { describe, expect, it } from "vitest";
import { base64Length, base64ToBytes, hexDump, textToBase64, utf8 } from "./bytes";

describe("hexDump", () => {
  it("writes hexdump -C lines with an ASCII column", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x21]);
    expect(hexDump(png)).toEqual([
      "00000000  89 50 4e 47 0d 0a 1a 0a  00 00 00 0d 49 48 44 52  |.PNG........IHDR|",
      "00000010  21                                                |!|",
    ]);
  });

  it("starts at an offset and writes nothing for no bytes", () => {
    expect(hexDump(new Uint8Array([0x7e, 0x7f, 0x20]), 0x100)).toEqual([
      "00000100  7e 7f 20                                          |~. |",
    ]);
    expect(hexDump(new Uint8Array())).toEqual([]);
  });
});

describe("base64", () => {
  it("decodes, bounded, and measures without decoding", () => {
    expect([...base64ToBytes("AAECAwQF")]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...base64ToBytes("AAECAwQF", 4)]).toEqual([0, 1, 2, 3]);
    expect(base64ToBytes("not base64!").length).toBe(0);
    expect(base64Length("AAECAwQF")).toBe(6);
    expect(base64Length("AAECAw==")).toBe(4);
    expect(base64Length("")).toBe(0);
  });

  it("round-trips text through UTF-8", () => {
    const text = "ünïcødé ✓ 😀";
    expect(utf8(base64ToBytes(textToBase64(text)))).toBe(text);
    expect(utf8(new Uint8Array([0xff]))).toBeNull();
  });
});

