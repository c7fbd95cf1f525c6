// Bytes as the API sends them (base64) and as people read them: a hex dump, a size.

/** The bytes of a base64 string (standard alphabet, padding optional); empty when malformed. */
export function base64ToBytes(base64: string, maxBytes = Number.POSITIVE_INFINITY): Uint8Array {
  // Decode only the blocks needed for `maxBytes`: a preview never needs all 16 MiB.
  const chars = Number.isFinite(maxBytes) ? Math.ceil(maxBytes / 3) * 4 : base64.length;
  let binary: string;
  try {
    binary = atob(base64.slice(0, chars));
  } catch {
    return new Uint8Array(0);
  }
  const length = Math.min(binary.length, maxBytes);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** How many bytes a base64 string holds, without decoding it. */
export function base64Length(base64: string): number {
  const trimmed = base64.replace(/=+$/, "");
  return Math.floor((trimmed.length * 3) / 4);
}

/** `bytes` as UTF-8 text, or `null` when they are not valid UTF-8. */
export function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** Text as base64 of its UTF-8 bytes. */
export function textToBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const hex2 = (byte: number) => byte.toString(16).padStart(2, "0");

/**
 * `hexdump -C` lines: offset, sixteen bytes in two groups of eight, and the printable ASCII
 * (anything else as `.`). The last line is padded so the ASCII column stays aligned.
 */
export function hexDump(bytes: Uint8Array, offset = 0): string[] {
  const lines: string[] = [];
  for (let start = 0; start < bytes.length; start += 16) {
    const row = bytes.subarray(start, start + 16);
    let hex = "";
    let ascii = "";
    for (let i = 0; i < 16; i++) {
      const byte = row[i];
      if (i === 8) hex += " ";
      hex += byte === undefined ? "   " : `${hex2(byte)} `;
      if (byte !== undefined) ascii += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".";
    }
    lines.push(`${(offset + start).toString(16).padStart(8, "0")}  ${hex} |${ascii}|`);
  }
  return lines;
}

