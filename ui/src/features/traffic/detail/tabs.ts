// Keyboard movement in a tab list (WAI-ARIA tabs pattern, automatic activation): arrows move
// and wrap, Home and End jump to the ends.

/** The tab `key` moves to from `index` among `count`, or `null` when the key is not a move. */
export function tabKeyTarget(key: string, index: number, count: number): number | null {
  if (count <= 0) return null;
  switch (key) {
    case "ArrowRight":
    case "ArrowDown":
      return (index + 1) % count;
    case "ArrowLeft":
    case "ArrowUp":
      return (index - 1 + count) % count;
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}
