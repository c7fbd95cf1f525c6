// The rows the Traffic page holds: newest first (by exchange id, as the API orders them),
// each id once, at most `cap` of them (the oldest go first). No React: the page reads rows by
// index and re-renders only what is on screen, using `version` to know something changed.

export interface Keyed {
  readonly id: number;
}

/** The most rows the page holds by default (older ones are dropped, with a note). */
export const MAX_ROWS = 100_000;

export class RowStore<T extends Keyed> {
  /** Oldest first, so the usual case (a newer exchange) is a push. */
  private asc: T[] = [];
  private readonly ids = new Set<number>();
  /** Rows dropped for the cap since the last `clear`. */
  private trimmedCount = 0;
  private versionCount = 0;

  constructor(readonly cap: number = MAX_ROWS) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`cap must be a positive integer, not ${cap}`);
  }

  get size(): number {
    return this.asc.length;
  }

  /** Bumped by every change (for memoising views). */
  get version(): number {
    return this.versionCount;
  }

  /** Rows dropped because the cap was reached, since the last `clear`. */
  get trimmed(): number {
    return this.trimmedCount;
  }

  /** The row at `index`, newest first (0 is the newest). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.asc.length) return undefined;
    return this.asc[this.asc.length - 1 - index];
  }

  has(id: number): boolean {
    return this.ids.has(id);
  }

  /** The newest-first index of the row with `id`, or -1. */
  indexOf(id: number): number {
    if (!this.ids.has(id)) return -1;
    const position = this.lowerBound(id);
    return this.asc.length - 1 - position;
  }

  /** How many held rows are newer than (have an id above) `id`, held or not. */
  countNewerThan(id: number): number {
    return this.asc.length - this.lowerBound(id + 1);
  }

  newest(): T | undefined {
    return this.asc[this.asc.length - 1];
  }

  oldest(): T | undefined {
    return this.asc[0];
  }

  /**
   * Add rows in any order; ids already held (or repeated in `rows`) are skipped. Returns how
   * many were added (before the cap dropped any).
   */
  add(rows: readonly T[]): number {
    const fresh: T[] = [];
    for (const row of rows) {
      if (this.ids.has(row.id)) continue;
      this.ids.add(row.id);
      fresh.push(row);
    }
    if (fresh.length === 0) return 0;
    fresh.sort((a, b) => a.id - b.id);
    const first = fresh[0] as T;
    const last = fresh[fresh.length - 1] as T;
    const newest = this.newest();
    const oldest = this.oldest();
    if (newest === undefined || first.id > newest.id) {
      for (const row of fresh) this.asc.push(row);
    } else if (oldest !== undefined && last.id < oldest.id) {
      this.asc = fresh.concat(this.asc);
    } else {
      this.asc = mergeById(this.asc, fresh);
    }
    const excess = this.asc.length - this.cap;
    if (excess > 0) {
      for (const row of this.asc.splice(0, excess)) this.ids.delete(row.id);
      this.trimmedCount += excess;
    }
    this.versionCount += 1;
    return fresh.length;
  }

  /** Remove the row with `id`; whether it was held. */
  remove(id: number): boolean {
    if (!this.ids.has(id)) return false;
    this.asc.splice(this.lowerBound(id), 1);
    this.ids.delete(id);
    this.versionCount += 1;
    return true;
  }

  clear(): void {
    this.asc = [];
    this.ids.clear();
    this.trimmedCount = 0;
    this.versionCount += 1;
  }

  /** Every row, newest first (a copy; for tests and small sets). */
  toArray(): T[] {
    return this.asc.slice().reverse();
  }

  /** The first position in `asc` whose id is at least `id`. */
  private lowerBound(id: number): number {
    let lo = 0;
    let hi = this.asc.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.asc[mid] as T).id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Two id-ascending lists (no id in both) as one. */
function mergeById<T extends Keyed>(a: readonly T[], b: readonly T[]): T[] {
  const out: T[] = new Array<T>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as T;
    const y = b[j] as T;
    if (x.id < y.id) {
      out[k++] = x;
      i++;
    } else {
      out[k++] = y;
      j++;
    }
  }
  while (i < a.length) out[k++] = a[i++] as T;
  while (j < b.length) out[k++] = b[j++] as T;
  return out;
}
