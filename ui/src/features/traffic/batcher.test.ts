import { afterEach, describe, expect, it, vi } from "vitest";
import { FrameBatcher, nextFrame, type Scheduler } from "./batcher";

/** A scheduler the test runs by hand: `tick()` is one animation frame. */
function manualScheduler() {
  let queued: (() => void)[] = [];
  const schedule: Scheduler = (callback) => {
    queued.push(callback);
    return () => {
      queued = queued.filter((c) => c !== callback);
    };
  };
  return {
    schedule,
    get scheduled() {
      return queued.length;
    },
    tick() {
      const run = queued;
      queued = [];
      for (const callback of run) callback();
    },
  };
}

describe("FrameBatcher", () => {
  it("hands over everything pushed in a frame at once, once per frame", () => {
    const frames = manualScheduler();
    const flushed: number[][] = [];
    const batcher = new FrameBatcher<number>((items) => flushed.push(items), frames.schedule);
    batcher.push(1);
    batcher.push(2);
    batcher.push(3);
    expect(frames.scheduled).toBe(1);
    expect(batcher.pending).toBe(3);
    expect(flushed).toEqual([]);
    frames.tick();
    expect(flushed).toEqual([[1, 2, 3]]);
    expect(batcher.pending).toBe(0);
    frames.tick(); // nothing new: no empty flush
    expect(flushed).toHaveLength(1);
    batcher.push(4);
    frames.tick();
    expect(flushed).toEqual([[1, 2, 3], [4]]);
  });

  it("keeps at most maxPending, dropping the oldest", () => {
    const frames = manualScheduler();
    const flushed: number[][] = [];
    const batcher = new FrameBatcher<number>((items) => flushed.push(items), frames.schedule, 3);
    for (let i = 1; i <= 5; i += 1) batcher.push(i);
    expect(batcher.pending).toBe(3);
    expect(batcher.overflowed).toBe(2);
    frames.tick();
    expect(flushed).toEqual([[3, 4, 5]]);
  });

  it("flushes now or forgets on demand", () => {
    const frames = manualScheduler();
    const flushed: number[][] = [];
    const batcher = new FrameBatcher<number>((items) => flushed.push(items), frames.schedule);
    batcher.push(1);
    batcher.flushNow();
    expect(flushed).toEqual([[1]]);
    expect(frames.scheduled).toBe(0);
    batcher.push(2);
    batcher.discard();
    frames.tick();
    expect(flushed).toEqual([[1]]);
    batcher.push(3);
    expect(frames.scheduled).toBe(1);
    frames.tick();
    expect(flushed).toEqual([[1], [3]]);
  });

  it("a push from inside a flush waits for the next frame", () => {
    const frames = manualScheduler();
    const flushed: number[][] = [];
    const batcher: FrameBatcher<number> = new FrameBatcher<number>((items) => {
      flushed.push(items);
      if (items[0] === 1) batcher.push(2);
    }, frames.schedule);
    batcher.push(1);
    frames.tick();
    expect(flushed).toEqual([[1]]);
    frames.tick();
    expect(flushed).toEqual([[1], [2]]);
  });
});

describe("nextFrame", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("runs on the next animation frame, or after the fallback when frames stop", () => {
    vi.useFakeTimers();
    const frames: FrameRequestCallback[] = [];
    vi.stubGlobal("requestAnimationFrame", (callback: FrameRequestCallback) => frames.push(callback));
    vi.stubGlobal("cancelAnimationFrame", () => undefined);
    const schedule = nextFrame(250);

    let runs = 0;
    schedule(() => (runs += 1));
    frames[0]?.(0);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1_000); // the fallback does not run it again
    expect(runs).toBe(1);

    schedule(() => (runs += 1)); // a hidden tab: no frame comes
    vi.advanceTimersByTime(249);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    frames[1]?.(0); // a late frame does not run it twice
    expect(runs).toBe(2);

    const cancel = schedule(() => (runs += 1));
    cancel();
    frames[2]?.(0);
    vi.advanceTimersByTime(1_000);
    expect(runs).toBe(2);
  });
});
