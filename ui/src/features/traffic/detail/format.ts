// Pretty-printing markup and code for reading. js-beautify is loaded on first use, so the
// page that never shows an HTML or JavaScript body never downloads it.
import type { SourceLanguage } from "./body";

/** The largest source formatted (formatting is synchronous; past this it would stall the page). */
export const FORMAT_MAX = 512 * 1024;

/** `text` laid out with two-space indents; it rejects when the formatter fails. */
export async function formatSource(text: string, language: SourceLanguage): Promise<string> {
  const { default: beautify } = await import("js-beautify");
  const options = { indent_size: 2, wrap_line_length: 0, max_preserve_newlines: 2, end_with_newline: false };
  switch (language) {
    case "javascript":
      return beautify.js(text, options);
    case "css":
      return beautify.css(text, options);
    case "html":
      return beautify.html(text, options);
    case "xml":
      // Every XML element is a block: HTML's inline list would keep <b>-like names on one line.
      return beautify.html(text, { ...options, inline: [], inline_custom_elements: false });
  }
}
