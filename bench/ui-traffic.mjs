// The browser half of the web UI benchmark (bench/ui.sh starts nginx and Portico, then runs
// this). Logs headless Chromium in with the one-time link, opens the Traffic page, installs a
// long-task observer and a frame timer, feeds RATE exchanges a second through the proxy for
// SECONDS_PER_RUN seconds, samples the page's JS heap, DOM nodes and rows held every
// SAMPLE_SECONDS (Chrome DevTools Protocol), then forces a garbage collection for a last
// sample. Prints the figures, PASS/MISS against the goal and a one-line JSON summary.
//
// The page's table is found by `[data-row-count]` (the number of rows it holds); without one
// (the page is not built yet) the measurements are still reported, with no verdict.
import http from "node:http";
import { chromium } from "@playwright/test";

const RATE = Number(process.env.RATE ?? 2000);
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 30);
const SAMPLE_SECONDS = Number(process.env.SAMPLE_SECONDS ?? 2);
const TICK_MS = 10;
/** Requests in flight at most; beyond this the feed falls behind rather than queueing. */
const MAX_IN_FLIGHT = 256;
const LONG_TASK_MS = 50;
/**
 * Memory is flat when the heap and DOM nodes after a GC at the end are at most 10% (or 1 MiB,
 * 100 nodes, whichever is more) above those after a GC when the table reached its cap.
 */
const FLAT_TOLERANCE = 1.1;
const HEAP_SLACK = 1048576;
const NODES_SLACK = 100;

function required(name) {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set (bench/ui.sh sets it)`);
  return value;
}
const PROXY_PORT = Number(required("PROXY_PORT"));
const ROUTE_HOST = required("ROUTE_HOST");
const ROUTE_PATH = required("ROUTE_PATH");
const ADMIN = required("ADMIN_URL");
const LOGIN_URL = required("LOGIN_URL");
const TOKEN = required("ADMIN_TOKEN");
const TABLE = "[data-row-count]";

for (const [name, value] of [["RATE", RATE], ["SECONDS_PER_RUN", SECONDS], ["SAMPLE_SECONDS", SAMPLE_SECONDS]]) {
  if (!(value > 0)) throw new Error(`${name} must be a positive number`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or `fallback` when it has not settled within `ms` (the page may be too busy). */
async function within(ms, promise, fallback) {
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  try {
    return await Promise.race([promise.catch(() => fallback), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function api(path) {
  const response = await fetch(`${ADMIN}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(5_000),
  });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
/** The newest captured exchange's id (ids only grow, so the difference counts captures). */
const newestId = async () => (await api("/api/v1/requests?limit=1")).items[0]?.id ?? 0;
const droppedTotal = async () => (await api("/api/v1/status")).capture.dropped;

/**
 * GET ROUTE_PATH through the proxy `rate` times a second for `seconds`, on keep-alive
 * connections, paced per 10 ms tick from the start time (a late tick catches up). Bounded in
 * count (rate × seconds) and in time (nothing is sent after `seconds`; in-flight requests get
 * 5 s to finish).
 */
async function feed(rate, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round(rate * seconds);
  const stats = { sent: 0, ok: 0, failed: 0, inFlight: 0, firstError: "" };
  const start = performance.now();
  let lastDone = start;
  const send = () => {
    stats.sent++;
    stats.inFlight++;
    const req = http.get(
      { agent, host: "127.0.0.1", port: PROXY_PORT, path: ROUTE_PATH, headers: { host: ROUTE_HOST }, timeout: 5_000 },
      (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) stats.ok++;
          else {
            stats.failed++;
            stats.firstError ||= `status ${res.statusCode}`;
          }
          stats.inFlight--;
          lastDone = performance.now();
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error) => {
      stats.failed++;
      stats.firstError ||= error.message;
      stats.inFlight--;
      lastDone = performance.now();
    });
  };
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.min(total, Math.floor((elapsed * rate) / 1000));
      while (stats.sent < due && stats.inFlight < MAX_IN_FLIGHT) send();
      if (stats.sent >= total || elapsed >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const sendEnd = performance.now();
  for (let waited = 0; stats.inFlight > 0 && waited < 5_000; waited += 20) await sleep(20);
  agent.destroy();
  return { ...stats, total, ms: Math.max(lastDone, sendEnd) - start };
}

/** Installed in the page: buffered long tasks and a requestAnimationFrame timer. */
function installObservers() {
  const bench = { longTasks: [], gaps: [], from: 0, last: 0, running: false };
  window.__bench = bench;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) bench.longTasks.push({ start: entry.startTime, ms: entry.duration });
  }).observe({ type: "longtask", buffered: true });
  const frame = (now) => {
    if (!bench.running) return;
    if (bench.last > 0) bench.gaps.push({ at: now, ms: now - bench.last });
    bench.last = now;
    requestAnimationFrame(frame);
  };
  bench.start = () => {
    bench.from = performance.now();
    bench.running = true;
    requestAnimationFrame(frame);
  };
  bench.stop = () => {
    bench.running = false;
    return { from: bench.from, to: performance.now(), longTasks: bench.longTasks, gaps: bench.gaps };
  };
}

const mib = (bytes) => (bytes === null ? null : bytes / 1048576);
const fmt = (value, digits = 1) => (value === null || value === undefined ? "n/a" : value.toFixed(digits));
const int = (value) => (value === null || value === undefined ? "n/a" : Math.round(value).toLocaleString("en-US"));
const round = (value, digits = 1) => (value === null ? null : Number(value.toFixed(digits)));

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, timeout: 30_000 });
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(15_000);

  await page.goto(LOGIN_URL);
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  await page.goto(`${ADMIN}/#/traffic`);
  await page.waitForLoadState("load");
  const hasTable = await page
    .waitForSelector(TABLE, { state: "attached", timeout: 10_000 })
    .then(() => true)
    .catch(() => false);
  if (!hasTable) {
    console.log(
      `NOTE: #/traffic shows no live table (no ${TABLE} element within 10 s; is the Traffic page built?).\n` +
        "      The figures below measure the page as it is, without rows; they say nothing about the goal.",
    );
  }

  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  await page.evaluate(installObservers);
  // The page's clock, to place the forced garbage collection among its long tasks and frames.
  const timeOrigin = await page.evaluate(() => performance.timeOrigin);
  const pageNow = () => Date.now() - timeOrigin;

  const rows = () =>
    within(
      2_000,
      page.evaluate((selector) => {
        const value = document.querySelector(selector)?.getAttribute("data-row-count");
        return value === null || value === undefined ? null : Number(value);
      }, TABLE),
      null,
    );
  const sample = async (t) => {
    const metrics = await within(5_000, cdp.send("Performance.getMetrics"), { metrics: [] });
    const metric = (name) => metrics.metrics.find((m) => m.name === name)?.value ?? null;
    return { t, heap: metric("JSHeapUsedSize"), nodes: metric("Nodes"), rows: hasTable ? await rows() : null };
  };
  const gcWindows = [];
  /** A sample after a full garbage collection: what the page retains. */
  const retained = async (t) => {
    const from = pageNow();
    await within(15_000, cdp.send("HeapProfiler.collectGarbage"), null);
    gcWindows.push({ from, to: pageNow() });
    return sample(t);
  };

  const idBefore = await newestId();
  const droppedBefore = await droppedTotal();
  await page.evaluate(() => window.__bench.start());

  // Samples at 0, SAMPLE_SECONDS, … up to SECONDS, alongside the feed. The first time the row
  // count stops growing (the table reached its cap), one more sample after a garbage
  // collection: the baseline the end is held to. Its long tasks and frames are set apart.
  const samples = [];
  let atCap = null;
  const origin = performance.now();
  const sampling = (async () => {
    for (let t = 0; t <= SECONDS + 1e-9; t += SAMPLE_SECONDS) {
      await sleep(Math.max(0, origin + t * 1000 - performance.now()));
      const now = await sample(t);
      const before = samples.at(-1);
      samples.push(now);
      if (atCap === null && before?.rows != null && now.rows !== null && now.rows > 0 && now.rows <= before.rows) {
        atCap = await retained(t);
      }
    }
  })();
  const fed = await feed(RATE, SECONDS);
  await sampling;

  // Let the stream and the table catch up (rows stop changing), at most 5 s.
  let finalRows = hasTable ? await rows() : null;
  for (let waited = 0; hasTable && waited < 5_000; waited += 500) {
    await sleep(500);
    const now = await rows();
    if (now === finalRows) break;
    finalRows = now;
  }
  const observed = await within(10_000, page.evaluate(() => window.__bench.stop()), null);
  if (observed === null) throw new Error("the page did not answer within 10 s after the feed");

  await sleep(1_000); // the recorder's last batch
  const captured = (await newestId()) - idBefore;
  const dropped = (await droppedTotal()) - droppedBefore;

  const end = await sample(SECONDS);
  const afterGc = await retained(SECONDS);

  // Long tasks and frames while the feed ran (and the table settled): not those of the page
  // load, nor those overlapping the forced garbage collection at the cap.
  const inGc = (from, to) => gcWindows.some((w) => from < w.to + 5 && to > w.from - 5);
  const fromFeed = observed.longTasks.filter((task) => task.start + task.ms >= observed.from);
  const during = fromFeed.filter((task) => !inGc(task.start, task.start + task.ms));
  const atGc = fromFeed.length - during.length;
  const atLoad = observed.longTasks.length - fromFeed.length;
  const over = during.filter((task) => task.ms > LONG_TASK_MS);
  const maxTask = during.reduce((max, task) => Math.max(max, task.ms), 0);
  const blocking = during.reduce((sum, task) => sum + Math.max(0, task.ms - LONG_TASK_MS), 0);
  const gaps = observed.gaps.filter((gap) => !inGc(gap.at - gap.ms, gap.at)).map((gap) => gap.ms);
  const slowFrames = gaps.filter((gap) => gap > LONG_TASK_MS).length;
  const maxGap = gaps.reduce((max, gap) => Math.max(max, gap), 0);
  const seconds = (observed.to - observed.from) / 1000;

  const flat = (last, cap, slack) => last !== null && cap !== null && last <= Math.max(cap * FLAT_TOLERANCE, cap + slack);
  const heapFlat = atCap !== null && flat(afterGc.heap, atCap.heap, HEAP_SLACK);
  const nodesFlat = atCap !== null && flat(afterGc.nodes, atCap.nodes, NODES_SLACK);
  const noLongTasks = over.length === 0;
  const verdict = !hasTable ? "n/a" : noLongTasks && heapFlat && nodesFlat ? "PASS" : "MISS";

  const at = (t) => samples.find((s) => Math.abs(s.t - t) < 1e-9) ?? null;
  // The goal's marks, then the last sample (SECONDS itself only when it is a multiple of
  // SAMPLE_SECONDS: 64 s for the default 65).
  const marks = [0, 10, 20, 30].filter((t) => t <= SECONDS);
  const last = samples.at(-1)?.t;
  if (last !== undefined && !marks.includes(last)) marks.push(last);
  const rate = Math.round(fed.ok / (fed.ms / 1000));

  const lines = [
    `\nWeb UI benchmark: #/traffic under ${int(RATE)} exchanges/s for ${SECONDS} s ` +
      `(Chromium ${browser.version()} headless, samples every ${SAMPLE_SECONDS} s)`,
    `feed: ${int(fed.sent)} sent of ${int(fed.total)}, ${int(fed.ok)} answered 200, ${int(fed.failed)} failed` +
      `${fed.firstError ? ` (first: ${fed.firstError})` : ""}; achieved ${int(rate)} exchanges/s`,
    `capture: ${int(captured)} exchanges captured, ${int(dropped)} dropped (queue full)`,
    !hasTable
      ? "table: none on the page"
      : `table: ${int(finalRows)} rows held at the end; ` +
        (atCap !== null
          ? `the count stopped growing at ${atCap.t} s (${int(atCap.rows)} rows)`
          : "the count was still growing at the end (no cap reached; try a longer SECONDS_PER_RUN)"),
    `long tasks during the feed: ${during.length} (${over.length} over ${LONG_TASK_MS} ms), max ${fmt(maxTask)} ms, ` +
      `blocking time ${fmt(blocking, 0)} ms; set apart: ${atLoad} during the page load, ${atGc} during the forced GC at the cap`,
    `frames: ${int(slowFrames)} of ${int(gaps.length)} took over ${LONG_TASK_MS} ms (${fmt(gaps.length / seconds)} frames/s), ` +
      `longest ${fmt(maxGap)} ms`,
    "",
    `${"t (s)".padStart(10)} ${"JS heap MiB".padStart(12)} ${"DOM nodes".padStart(10)} ${"rows".padStart(8)}`,
    ...[
      ...samples.map((s) => ({ ...s, label: String(s.t) })),
      ...(atCap === null ? [] : [{ ...atCap, label: `${atCap.t} GC` }]),
      { ...end, label: "end" },
      { ...afterGc, label: "end GC" },
    ]
      .sort((a, b) => a.t - b.t)
      .map(
        (s) =>
          `${s.label.padStart(10)} ${fmt(mib(s.heap)).padStart(12)} ${int(s.nodes).padStart(10)} ${int(s.rows).padStart(8)}`,
      ),
    "",
    `JS heap: ${marks.map((t) => `${fmt(mib(at(t)?.heap ?? null))} MiB at ${t} s`).join(", ")}, ` +
      `${fmt(mib(afterGc.heap))} MiB after GC; DOM nodes ${int(samples[0]?.nodes)} at start, ${int(end.nodes)} at the end, ` +
      `${int(afterGc.nodes)} after GC`,
    `goal, no long task over ${LONG_TASK_MS} ms: ${!hasTable ? "n/a" : noLongTasks ? "PASS" : "MISS"} (${over.length})`,
    `goal, memory flat after the cap (after a GC, heap and DOM nodes at the end within 10% or 1 MiB / 100 nodes ` +
      `of the cap): ${
        !hasTable
          ? "n/a"
          : atCap === null
            ? "MISS (no cap reached)"
            : `${heapFlat && nodesFlat ? "PASS" : "MISS"} (heap ${fmt(mib(atCap.heap))} -> ${fmt(mib(afterGc.heap))} MiB, ` +
              `nodes ${int(atCap.nodes)} -> ${int(afterGc.nodes)})`
      }`,
    `verdict: ${verdict}`,
    "summary " +
      JSON.stringify({
        bench: "ui",
        table: hasTable,
        rate_target: RATE,
        seconds: SECONDS,
        rate_achieved: rate,
        sent: fed.sent,
        ok: fed.ok,
        failed: fed.failed,
        captured,
        dropped,
        rows: finalRows,
        cap_at_s: atCap?.t ?? null,
        long_tasks: during.length,
        long_tasks_over_50ms: over.length,
        long_task_max_ms: round(maxTask),
        frames: gaps.length,
        frames_over_50ms: slowFrames,
        heap_mib: Object.fromEntries(marks.map((t) => [`${t}s`, round(mib(at(t)?.heap ?? null))])),
        heap_at_cap_gc_mib: atCap === null ? null : round(mib(atCap.heap)),
        heap_end_gc_mib: round(mib(afterGc.heap)),
        nodes_start: samples[0]?.nodes ?? null,
        nodes_end: end.nodes,
        nodes_at_cap_gc: atCap?.nodes ?? null,
        nodes_end_gc: afterGc.nodes,
        verdict,
      }),
  ];
  console.log(lines.join("\n"));
} catch (error) {
  console.error(`web UI benchmark failed: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  await within(10_000, browser.close(), null);
}
process.exit(exitCode);
