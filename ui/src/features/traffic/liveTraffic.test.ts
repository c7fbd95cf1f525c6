import { describe, expect, it } from "vitest";
import type { RequestPage, Summary, TrafficQuery, TrafficStreamHandlers } from "../../api/traffic";
import type { Scheduler } from "./batcher";
import { LiveTraffic, RETRY_MS } from "./liveTraffic";

function summary(id: number, patch: Partial<Summary> = {}): Summary {
  return {
    id,
    started_at: 1_000 + id,
    method: "GET",
    scheme: "http",
    host: "shop.localhost",
    path: `/item/${id}`,
    query: null,
    status: 200,
    duration_ms: 5,
    bytes_out: 10,
    websocket: false,
    ...patch,
  };
}

/** A fake engine: a table of exchanges behind `list`, a stream the test drives, frames by hand. */
function fakeEngine(initial: Summary[] = []) {
  const db = [...initial];
  const lists: TrafficQuery[] = [];
  const streams: { query: TrafficQuery; handlers: TrafficStreamHandlers; closed: boolean }[] = [];
  let frames: (() => void)[] = [];
  let timers: { at: number; run: () => void }[] = [];
  let now = 10_000;
  const schedule: Scheduler = (callback) => {
    frames.push(callback);
    return () => {
      frames = frames.filter((f) => f !== callback);
    };
  };
  const list = (query: TrafficQuery): Promise<RequestPage> => {
    lists.push(query);
    const limit = query.limit ?? 100;
    const items = db
      .filter((s) => query.before === undefined || s.id < query.before)
      .filter((s) => query.since === undefined || s.started_at >= query.since)
      .filter((s) => query.q === undefined || s.path.includes(query.q))
      .filter((s) => query.method === undefined || s.method === query.method)
      .sort((a, b) => b.id - a.id)
      .slice(0, limit);
    const last = items[items.length - 1];
    return Promise.resolve({ items, next_before: items.length === limit && last ? last.id : null });
  };
  const subscribe = (query: TrafficQuery, handlers: TrafficStreamHandlers) => {
    const stream = { query, handlers, closed: false };
    streams.push(stream);
    return () => {
      stream.closed = true;
    };
  };
  const live = new LiveTraffic({
    list,
    subscribe,
    schedule,
    cap: 1_000,
    now: () => now,
    after: (ms, run) => {
      const timer = { at: now + ms, run };
      timers.push(timer);
      return () => {
        timers = timers.filter((t) => t !== timer);
      };
    },
  });
  return {
    db,
    live,
    lists,
    streams,
    get stream() {
      const open = streams.filter((s) => !s.closed);
      const last = open[open.length - 1];
      if (last === undefined) throw new Error("no open stream");
      return last.handlers;
    },
    frame() {
      const run = frames;
      frames = [];
      for (const f of run) f();
    },
    /** Record an exchange and send it on the stream, as the engine does. */
    record(s: Summary) {
      db.push(s);
      this.stream.onExchange(s);
    },
    advance(ms: number) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.run();
    },
    get now() {
      return now;
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const ids = (live: LiveTraffic) => live.store.toArray().map((s) => s.id);

describe("LiveTraffic", () => {
  it("subscribes first and lists once the stream is open", async () => {
    const engine = fakeEngine([summary(1), summary(2), summary(3)]);
    engine.live.start({});
    expect(engine.streams).toHaveLength(1);
    expect(engine.lists).toHaveLength(0);
    expect(engine.live.snapshot()).toMatchObject({ stream: "connecting", loaded: false });
    engine.stream.onOpen();
    await settle();
    expect(engine.lists).toEqual([{ limit: 200 }]);
    expect(ids(engine.live)).toEqual([3, 2, 1]);
    expect(engine.live.snapshot()).toMatchObject({ stream: "live", loaded: true, size: 3, hasOlder: false });
  });

  it("applies live exchanges once per frame, each once", async () => {
    const engine = fakeEngine([summary(1)]);
    engine.live.start({});
    engine.stream.onOpen();
    await settle();
    let renders = 0;
    engine.live.subscribe(() => (renders += 1));
    engine.record(summary(2));
    engine.record(summary(3));
    engine.stream.onExchange(summary(3));
    expect(engine.live.store.size).toBe(1);
    expect(renders).toBe(0);
    engine.frame();
    expect(ids(engine.live)).toEqual([3, 2, 1]);
    expect(renders).toBe(1);
    expect(engine.live.snapshot().hosts).toEqual(["shop.localhost"]);
  });

  it("holds new exchanges while paused and shows them on resume", async () => {
    const engine = fakeEngine([summary(1)]);
    engine.live.start({});
    engine.stream.onOpen();
    await settle();
    engine.live.pause();
    engine.record(summary(2));
    engine.frame();
    engine.record(summary(3));
    engine.frame();
    expect(ids(engine.live)).toEqual([1]);
    expect(engine.live.snapshot()).toMatchObject({ paused: true, waiting: 2 });
    engine.live.resume();
    expect(ids(engine.live)).toEqual([3, 2, 1]);
    expect(engine.live.snapshot()).toMatchObject({ paused: false, waiting: 0 });
  });

  it("shows the first page for new filters even while paused", async () => {
    const engine = fakeEngine([summary(1), summary(2, { method: "POST" })]);
    engine.live.start({});
    engine.stream.onOpen();
    await settle();
    engine.live.pause();
    engine.live.start({ method: "POST" });
    engine.stream.onOpen();
    await settle();
    expect(ids(engine.live)).toEqual([2]);
    engine.record(summary(3, { method: "POST" }));
    engine.frame();
    expect(ids(engine.live)).toEqual([2]);
    expect(engine.live.snapshot()).toMatchObject({ paused: true, waiting: 1 });
  });

  it("passes free text to the stream, which applies it", async () => {
    const engine = fakeEngine([summary(1, { path: "/api/users" })]);
    engine.live.start({ q: "users" });
    engine.stream.onOpen();
    await settle();
    expect(engine.streams.at(-1)?.query).toMatchObject({ q: "users" });
    engine.record(summary(2, { path: "/api/users/7" }));
    await settle();
    engine.frame();
    expect(ids(engine.live)).toEqual([2, 1]);
  });

  it("counts skipped events and catches up with the newest", async () => {
    const engine = fakeEngine([summary(1)]);
    engine.live.start({});
    engine.stream.onOpen();
    await settle();
    engine.db.push(summary(2), summary(3)); // recorded, but this tab missed their events
    engine.stream.onSkipped(2);
    await settle();
    expect(engine.live.snapshot().skipped).toBe(2);
    expect(ids(engine.live)).toEqual([3, 2, 1]);
    engine.stream.onDropped(17);
    expect(engine.live.snapshot().captureDropped).toBe(17);
  });

  it("starts over for new filters and ignores answers for the old ones", async () => {
    const engine = fakeEngine([summary(1), summary(2, { method: "POST" })]);
    engine.live.start({});
    const old = engine.stream;
    engine.live.start({ method: "POST" });
    expect(engine.streams[0]?.closed).toBe(true);
    old.onOpen();
    old.onExchange(summary(9));
    engine.frame();
    await settle();
    expect(engine.live.store.size).toBe(0);
    engine.stream.onOpen();
    await settle();
    expect(ids(engine.live)).toEqual([2]);
    // The same filters again (a remount) keep the rows and only catch up.
    engine.live.start({ method: "POST" });
    expect(ids(engine.live)).toEqual([2]);
  });

  it("loads older pages with the oldest held id as the cursor", async () => {
    const engine = fakeEngine(Array.from({ length: 450 }, (_, i) => summary(i + 1)));
    engine.live.start({});
    engine.stream.onOpen();
    await settle();
    expect(engine.live.snapshot()).toMatchObject({ size: 200, hasOlder: true });
    await engine.live.loadOlder();
    expect(engine.lists[1]).toEqual({ before: 251, limit: 200 });
    await engine.live.loadOlder();
    expect(engine.live.snapshot()).toMatchObject({ size: 450, hasOlder: false });
    expect(engine.live.store.oldest()?.id).toBe(1);
  });

  it("after a clear, ignores late events for deleted exchanges but not new ones", async () => {
    const engine = fakeEngine([summary(1)]);
    engine.live.start({});
    engine.stream.onOpen();
    await settle();
    const clearedAt = engine.now;
    engine.live.clearRows(clearedAt);
    expect(engine.live.store.size).toBe(0);
    engine.stream.onExchange(summary(2, { started_at: clearedAt - 100, duration_ms: 10 })); // deleted
    engine.stream.onExchange(summary(3, { started_at: clearedAt - 100, duration_ms: 500 })); // finished after
    engine.frame();
    expect(ids(engine.live)).toEqual([3]);
  });

  it("lists anyway when the stream is refused, and subscribes again later", async () => {
    const engine = fakeEngine([summary(1)]);
    engine.live.start({});
    engine.stream.onError(true);
    await settle();
    expect(ids(engine.live)).toEqual([1]);
    expect(engine.live.snapshot().stream).toBe("offline");
    expect(engine.streams.filter((s) => !s.closed)).toHaveLength(0);
    engine.advance(RETRY_MS);
    expect(engine.streams).toHaveLength(2);
    engine.db.push(summary(2));
    engine.stream.onOpen();
    await settle();
    expect(ids(engine.live)).toEqual([2, 1]);
    expect(engine.live.snapshot().stream).toBe("live");
  });

  it("drops the oldest rows past its cap and says so", async () => {
    const engine = fakeEngine();
    engine.live.start({});
    engine.stream.onOpen();
    await settle();
    for (let id = 1; id <= 1_200; id += 1) engine.record(summary(id));
    engine.frame();
    expect(engine.live.snapshot()).toMatchObject({ size: 1_000, trimmed: 200, cap: 1_000 });
    expect(engine.live.store.newest()?.id).toBe(1_200);
  });
});
