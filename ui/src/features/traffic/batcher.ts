// Live events arrive one by one, sometimes thousands a second; the page applies them in one
// batch per animation frame so the table renders once per frame, not once per event.

/** Runs `callback` later; returns a function that cancels it. */
export type Scheduler = (callback: () => void) => () => void;

/**
 * The next animation frame, or `fallbackMs` later if no frame comes first (a hidden tab gets
 * no frames, and its events must still be applied and their memory bounded).
 */
export function nextFrame(fallbackMs = 250): Scheduler {
  return (callback) => {
    let done = false;
    const run = () => {
      if (done) return;
      done = true;
      cancelAnimationFrame(frame);
      clearTimeout(timer);
      callback();
    };
    const frame = requestAnimationFrame(run);
    const timer = setTimeout(run, fallbackMs);
    return () => {
      done = true;
      cancelAnimationFrame(frame);
      clearTimeout(timer);
    };
  };
}

/**
 * Collects items and hands them to `flush` all at once, at most once per scheduled tick.
 * At most `maxPending` wait: past that the oldest are dropped (and counted in `overflowed`),
 * since a view that holds at most that many rows would drop them anyway.
 */
export class FrameBatcher<T> {
  private items: T[] = [];
  private cancel: (() => void) | null = null;
  private overflowCount = 0;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly schedule: Scheduler,
    private readonly maxPending: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Items waiting for the next tick. */
  get pending(): number {
    return this.items.length;
  }

  /** Items dropped because too many waited. */
  get overflowed(): number {
    return this.overflowCount;
  }

  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.maxPending) {
      const excess = this.items.length - this.maxPending;
      this.items.splice(0, excess);
      this.overflowCount += excess;
    }
    this.cancel ??= this.schedule(() => {
      this.cancel = null;
      this.run();
    });
  }

  /** Hand over what waits now (e.g. before a reset), instead of at the next tick. */
  flushNow(): void {
    this.cancel?.();
    this.cancel = null;
    this.run();
  }

  /** Forget what waits and stop the pending tick. */
  discard(): void {
    this.cancel?.();
    this.cancel = null;
    this.items = [];
  }

  private run(): void {
    if (this.items.length === 0) return;
    const batch = this.items;
    this.items = [];
    this.flush(batch);
  }
}
