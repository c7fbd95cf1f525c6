// Lists typed as text (addresses, ranges): entries separated by commas, spaces or lines.

/** The entries of `text`, in order, without empty ones. */
export function splitEntries(text: string): string[] {
  return text.split(/[\s,]+/).filter((entry) => entry !== "");
}
