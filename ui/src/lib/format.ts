// Numbers for people, shared by every page so the same quantity reads the same everywhere.

const UNITS = ["KiB", "MiB", "GiB", "TiB"];

/** `0 B`, `812 B`, `1.5 KiB`, `12 KiB`, `3.4 MiB` (powers of 1024, named as such). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "–";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = "B";
  for (const next of UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  // One decimal below 10 (1.5 KiB), none above (12 KiB); 1023.96 KiB rounds up a unit.
  const rounded = value < 9.95 ? value.toFixed(1) : String(Math.round(value));
  if (rounded === "1024" && unit !== "TiB") return `1.0 ${UNITS[UNITS.indexOf(unit) + 1] ?? unit}`;
  return `${rounded} ${unit}`;
}

/** A count with thousands separators: 1234567 → "1,234,567". */
export function formatCount(value: number): string {
  const whole = String(Math.round(Math.abs(value))).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return value < 0 ? `-${whole}` : whole;
}
