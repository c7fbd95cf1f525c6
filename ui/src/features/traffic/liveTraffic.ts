// The Traffic page's model, outside React: the rows held (a RowStore), the first page and older
// pages from the list, new exchanges from the live stream applied once per frame, pause and
// resume, and what the user should know (missed events, capture drops, rows let go for the
// cap). The page reads `snapshot()` through useSyncExternalStore and rows through `store`.
import type { RequestPage, Summary, TrafficQuery, TrafficStreamHandlers } from "../../api/traffic";
import { FrameBatcher, type Scheduler } from "./batcher";
import { queryKey } from "./filters";
import { MAX_ROWS, RowStore } from "./rowStore";

/** The first page's size, and an older page's. */
export const PAGE_SIZE = 200;
/** How many of the newest a catch-up load reads (the API's most). */
export const CATCH_UP_SIZE = 500;
/** How long to wait before subscribing again after the API refused the stream. */
export const RETRY_MS = 3_000;
/** Live events this long after a clear are checked against it. */
const CLEAR_GRACE_MS = 2_000;
/** At most this many hosts are offered as filters. */
const MAX_HOSTS = 200;

export type StreamState = "connecting" | "live" | "reconnecting" | "offline";

export interface TrafficSnapshot {
  /** Changes whenever the rows do. */
  version: number;
  /** Rows held. */
  size: number;
  stream: StreamState;
  /** The first page is loading. */
  loading: boolean;
  /** The first page has arrived (or failed) for the current filters. */
  loaded: boolean;
  loadingOlder: boolean;
  /** The list has older exchanges than the oldest held. */
  hasOlder: boolean;
  /** The last load's failure, for the user. */
  error: string | undefined;
  paused: boolean;
  /** New exchanges waiting while paused. */
  waiting: number;
  /** Live events this tab missed by reading too slowly (since the filters last changed). */
  skipped: number;
  /** Exchanges the engine's capture dropped since it started (from the stream). */
  captureDropped: number | undefined;
  /** Rows let go because the cap was reached. */
  trimmed: number;
  /** The cap on rows held. */
  cap: number;
  /** Hosts seen, sorted (for the host filter). */
  hosts: readonly string[];
}

export interface LiveTrafficDeps {
  list: (query: TrafficQuery, signal: AbortSignal) => Promise<RequestPage>;
  subscribe: (query: TrafficQuery, handlers: TrafficStreamHandlers) => () => void;
  schedule: Scheduler;
  /** Runs `callback` after `ms`; returns a canceller. */
  after?: (ms: number, callback: () => void) => () => void;
  cap?: number;
  /** The clock (Unix ms). */
  now?: () => number;
}

function message(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

const defaultAfter = (ms: number, callback: () => void) => {
  const timer = setTimeout(callback, ms);
  return () => {
    clearTimeout(timer);
  };
};

export class LiveTraffic {
  readonly store: RowStore<Summary>;
  private readonly batcher: FrameBatcher<Summary>;
  private readonly after: (ms: number, callback: () => void) => () => void;
  private readonly now: () => number;
  private readonly listeners = new Set<() => void>();
  private current: TrafficSnapshot;

  private query: TrafficQuery | null = null;
  private key = "";
  /** Bumped by every restart: answers for an older generation are dropped. */
  private generation = 0;
  private unsubscribe: (() => void) | null = null;
  private cancelRetry: (() => void) | null = null;
  private readonly loads = new Set<AbortController>();

  private held: Summary[] = [];
  private catchUpRunning = false;
  private catchUpAgain = false;
  /** When the user last cleared (Unix ms): late live events for deleted exchanges are ignored. */
  private clearedAt: number | null = null;
  /** The batcher's overflow count when the rows last started over. */
  private overflowBase = 0;
  /** Held while paused, but let go for the cap. */
  private heldDropped = 0;
  private readonly hostSet = new Set<string>();
  private hostList: readonly string[] = [];

  private stream: StreamState = "connecting";
  private loading = false;
  private loaded = false;
  private loadingOlder = false;
  private hasOlder = false;
  private error: string | undefined = undefined;
  private paused = false;
  private skipped = 0;
  private captureDropped: number | undefined = undefined;

  constructor(private readonly deps: LiveTrafficDeps) {
    const cap = deps.cap ?? MAX_ROWS;
    this.store = new RowStore<Summary>(cap);
    this.batcher = new FrameBatcher<Summary>((batch) => { this.apply(batch); }, deps.schedule, cap);
    this.after = deps.after ?? defaultAfter;
    this.now = deps.now ?? Date.now;
    this.current = this.build();
  }

  // ---- React's side -------------------------------------------------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  snapshot = (): TrafficSnapshot => this.current;

  private build(): TrafficSnapshot {
    return {
      version: this.store.version,
      size: this.store.size,
      stream: this.stream,
      loading: this.loading,
      loaded: this.loaded,
      loadingOlder: this.loadingOlder,
      hasOlder: this.hasOlder,
      error: this.error,
      paused: this.paused,
      waiting: this.held.length + (this.paused ? this.batcher.pending : 0),
      skipped: this.skipped,
      captureDropped: this.captureDropped,
      trimmed: this.store.trimmed + this.batcher.overflowed - this.overflowBase + this.heldDropped,
      cap: this.store.cap,
      hosts: this.hostList,
    };
  }

  private emit(): void {
    this.current = this.build();
    for (const listener of this.listeners) listener();
  }

  // ---- Lifecycle ----------------------------------------------------------------------------

  /** Show the traffic matching `query`: the rows start over unless it is the same query. */
  start(query: TrafficQuery): void {
    const key = queryKey(query);
    const same = this.query !== null && key === this.key;
    this.stop();
    this.query = query;
    this.key = key;
    const generation = ++this.generation;
    if (!same) {
      this.store.clear();
      this.overflowBase = this.batcher.overflowed;
      this.heldDropped = 0;
      this.held = [];
      this.skipped = 0;
      this.hasOlder = false;
      this.loaded = false;
    }
    this.error = undefined;
    this.stream = "connecting";
    this.connect(generation);
    this.emit();
  }

  /** Stop listening and loading (the rows stay). */
  stop(): void {
    this.generation += 1;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.cancelRetry?.();
    this.cancelRetry = null;
    for (const load of this.loads) load.abort();
    this.loads.clear();
    this.batcher.flushNow();
    this.catchUpRunning = false;
    this.catchUpAgain = false;
    this.loading = false;
    this.loadingOlder = false;
  }

  private connect(generation: number): void {
    const query = this.query;
    if (query === null) return;
    this.unsubscribe = this.deps.subscribe(query, {
      onOpen: () => {
        if (generation !== this.generation) return;
        this.stream = "live";
        // Subscribed first, listed second: nothing recorded in between is missed.
        // (again, after a reconnect: read the newest to fill the gap).
        if (!this.loaded) {
          if (!this.loading) void this.loadFirst(generation);
        } else {
          this.catchUp();
        }
        this.emit();
      },
      onExchange: (summary) => {
        if (generation !== this.generation || this.deletedByClear(summary)) return;
        this.batcher.push(summary);
      },
      onSkipped: (missed) => {
        if (generation !== this.generation) return;
        this.skipped += missed;
        this.catchUp();
        this.emit();
      },
      onDropped: (total) => {
        if (generation !== this.generation) return;
        this.captureDropped = total;
        this.emit();
      },
      onError: (closed) => {
        if (generation !== this.generation) return;
        if (!this.loaded && !this.loading) void this.loadFirst(generation);
        if (closed) {
          this.stream = "offline";
          this.unsubscribe?.();
          this.unsubscribe = null;
          this.cancelRetry = this.after(RETRY_MS, () => {
            this.cancelRetry = null;
            if (generation === this.generation) this.connect(generation);
          });
        } else {
          this.stream = "reconnecting";
        }
        this.emit();
      },
    });
  }

  private async fetchPage(query: TrafficQuery, generation: number): Promise<RequestPage | null> {
    const controller = new AbortController();
    this.loads.add(controller);
    try {
      const page = await this.deps.list(query, controller.signal);
      return generation === this.generation ? page : null;
    } finally {
      this.loads.delete(controller);
    }
  }

  private async loadFirst(generation: number): Promise<void> {
    if (this.query === null) return;
    this.loading = true;
    this.emit();
    try {
      const page = await this.fetchPage({ ...this.query, limit: PAGE_SIZE }, generation);
      if (page === null) return;
      this.loaded = true;
      this.error = undefined;
      this.hasOlder = page.next_before !== undefined && page.next_before !== null;
      // The first page is shown even while paused: it is what the (new) filters select.
      this.addRows(page.items);
    } catch (caught) {
      if (generation !== this.generation) return;
      this.loaded = true;
      this.error = message(caught);
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.emit();
      }
    }
  }

  /** Load the next older page (when the user reached the end of the rows). */
  async loadOlder(): Promise<void> {
    const query = this.query;
    const oldest = this.store.oldest();
    if (query === null || this.loadingOlder || !this.hasOlder || oldest === undefined) return;
    // At the cap an older page would be let go at once.
    if (this.store.size >= this.store.cap) {
      this.hasOlder = false;
      this.emit();
      return;
    }
    const generation = this.generation;
    this.loadingOlder = true;
    this.emit();
    try {
      const page = await this.fetchPage({ ...query, before: oldest.id, limit: PAGE_SIZE }, generation);
      if (page === null) return;
      this.hasOlder = page.next_before !== undefined && page.next_before !== null;
      this.error = undefined;
      // Older rows go at the end, out of the way: they are added even while paused.
      this.addRows(page.items);
    } catch (caught) {
      if (generation === this.generation) this.error = message(caught);
    } finally {
      if (generation === this.generation) {
        this.loadingOlder = false;
        this.emit();
      }
    }
  }

  /** Read the newest page again and merge it (after a reconnect, missed events, an import). */
  catchUp(): void {
    const query = this.query;
    if (query === null) return;
    if (this.catchUpRunning) {
      this.catchUpAgain = true;
      return;
    }
    this.catchUpRunning = true;
    const generation = this.generation;
    void (async () => {
      try {
        do {
          this.catchUpAgain = false;
          const page = await this.fetchPage({ ...query, limit: CATCH_UP_SIZE }, generation);
          if (page === null) return;
          if (!this.loaded) {
            this.loaded = true;
            this.hasOlder = page.next_before !== undefined && page.next_before !== null;
            this.addRows(page.items);
            this.emit();
          } else {
            this.receive(page.items);
          }
        } while (this.askedAgain() && generation === this.generation);
      } catch (caught) {
        if (generation === this.generation) {
          this.error = message(caught);
          this.emit();
        }
      } finally {
        if (generation === this.generation) this.catchUpRunning = false;
      }
    })();
  }

  /** Whether another catch-up was asked for while one ran (read after an `await`). */
  private askedAgain(): boolean {
    return this.catchUpAgain;
  }

  // ---- Rows ---------------------------------------------------------------------------------

  /** Live rows, once per frame: held while paused, shown otherwise. */
  private apply(batch: Summary[]): void {
    if (this.paused) {
      this.hold(batch);
      this.emit();
      return;
    }
    this.addRows(batch);
    this.emit();
  }

  /** Rows from a page: like live ones (held while paused), without waiting for a frame. */
  private receive(items: readonly Summary[]): void {
    if (this.paused) this.hold(items);
    else this.addRows(items);
    this.emit();
  }

  private hold(items: readonly Summary[]): void {
    for (const item of items) this.held.push(item);
    const excess = this.held.length - this.store.cap;
    if (excess > 0) {
      this.held.splice(0, excess);
      this.heldDropped += excess;
    }
  }

  private addRows(items: readonly Summary[]): void {
    if (items.length === 0) return;
    this.store.add(items);
    let hostsChanged = false;
    for (const item of items) {
      if (this.hostSet.size >= MAX_HOSTS || this.hostSet.has(item.host)) continue;
      this.hostSet.add(item.host);
      hostsChanged = true;
    }
    if (hostsChanged) this.hostList = [...this.hostSet].sort();
  }

  // ---- User actions -------------------------------------------------------------------------

  /** Stop changing the table; new exchanges wait. */
  pause(): void {
    if (this.paused) return;
    this.batcher.flushNow();
    this.paused = true;
    this.emit();
  }

  /** Show what came in while paused, and follow again. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const waiting = this.held;
    this.held = [];
    this.addRows(waiting);
    this.batcher.flushNow();
    this.emit();
  }

  /**
   * A live event that was on its way when the user cleared: it finished before the clear was
   * asked for, so the API deleted it. (Pages are read after the clear and need no check.)
   */
  private deletedByClear(summary: Summary): boolean {
    if (this.clearedAt === null) return false;
    const now = this.now();
    if (now - this.clearedAt > CLEAR_GRACE_MS) {
      this.clearedAt = null;
      return false;
    }
    return summary.started_at + summary.duration_ms < this.clearedAt;
  }

  /** Forget every row: the API deleted them after `requestedAt` (Unix ms). */
  clearRows(requestedAt: number): void {
    this.batcher.discard();
    this.clearedAt = requestedAt;
    this.store.clear();
    this.overflowBase = this.batcher.overflowed;
    this.heldDropped = 0;
    this.held = [];
    this.hostSet.clear();
    this.hostList = [];
    this.hasOlder = false;
    this.skipped = 0;
    this.emit();
  }

  /** Stop for good (the page went away). */
  dispose(): void {
    this.stop();
    this.listeners.clear();
  }
}
