// The Traffic page end to end: a real `portico serve`, a real upstream (JSON on /api/*, plain
// text elsewhere, 404 on /missing, a slow /slow, a dropped connection on /crash), and Debian's
// headless Chromium. Requests go through the proxy and must show up in the live table within a
// second of their response. Every wait is bounded.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { expect, test, type Browser, type Locator, type Page } from "@playwright/test";
import { screenshot, startPortico, startUpstream, stop, type Stack } from "./harness.ts";

/** How long after its response an exchange may take to appear in the table. */
const LIVE_WITHIN_MS = 1_000;
/** How long the upstream's /slow takes. */
const SLOW_MS = 1_200;

const UPSTREAM = `const http = require("node:http");
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    const url = new URL(req.url, "http://upstream");
    if (url.pathname === "/slow") {
      setTimeout(() => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("slow answer");
      }, ${SLOW_MS});
      return;
    }
    if (url.pathname === "/crash") {
      req.socket.destroy();
      return;
    }
    if (url.pathname === "/missing") {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not here");
      return;
    }
    if (url.pathname.startsWith("/api/")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ path: url.pathname, method: req.method, received: body }));
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.end("plain text for " + url.pathname);
  });
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`;

const HOST = "shop.localhost";

let stack: Stack;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let page: Page;

/** Send a request through the proxy; resolves when the whole response has arrived. */
function send(method: string, target: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: stack.httpPort,
        method,
        path: target,
        headers: {
          host: `${HOST}:${stack.httpPort}`,
          "x-e2e": "traffic",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        timeout: 10_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("proxy request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

const table = () => page.getByTestId("traffic-table");
const rows = () => page.getByTestId("traffic-row");
/** Rows whose path cell shows exactly `target` (path and query). */
const rowFor = (target: string): Locator =>
  rows().filter({ has: page.locator(".c-path .path-text", { hasText: new RegExp(`^${target.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) }) });

async function rowCount(): Promise<number> {
  return Number(await table().getAttribute("data-row-count"));
}

/** Send, then expect the exchange's row within LIVE_WITHIN_MS of the response. */
async function sendAndSee(method: string, target: string, body?: string): Promise<Locator> {
  const matching = rowFor(target).filter({ has: page.locator(".c-method", { hasText: method }) });
  const before = await matching.count();
  const reply = await send(method, target, body);
  await expect(matching).toHaveCount(before + 1, { timeout: LIVE_WITHIN_MS });
  return matching.first().and(page.locator(`[data-status="${reply.status}"]`));
}

/** Send a request the filters hide; give it the same time to (wrongly) appear. */
async function sendAndNotSee(method: string, target: string): Promise<void> {
  const before = await rowCount();
  await send(method, target);
  await page.waitForTimeout(LIVE_WITHIN_MS);
  await expect(rowFor(target)).toHaveCount(0);
  expect(await rowCount()).toBe(before);
}

async function setFilter(label: string, value: string): Promise<void> {
  await page.getByRole("search", { name: "Filter traffic" }).getByLabel(label, { exact: true }).selectOption(value);
}

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ browser }: { browser: Browser }) => {
  stack = await startPortico();
  upstream = await startUpstream(path.join(stack.tmp, "shop"), "shop", UPSTREAM);
  await stack.api("POST", "/api/v1/routes", { host: HOST, upstreams: [String(upstream.port)] });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(stack.loginUrl);
  await expect(page).toHaveURL(/\/$/);
});

test.afterAll(async () => {
  await page.close();
  await stop(upstream.child);
  await stack.stop();
});

test("a new request appears live within a second, and newcomers are told how to make some", async () => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Traffic" }).click();
  await expect(page).toHaveURL(/#\/traffic$/);
  await expect(page.getByRole("heading", { level: 1, name: "Traffic" })).toBeVisible();
  const empty = page.getByTestId("traffic-empty");
  await expect(empty).toContainText("No traffic yet");
  await expect(empty.getByRole("link", { name: `http://${HOST}:${stack.httpPort}/` })).toBeVisible();
  await expect(empty.getByRole("link", { name: "Routes" })).toHaveAttribute("href", "#/routes");
  await expect(page.locator(".traffic-state")).toContainText("Live", { timeout: 10_000 });
  await expect(table()).toHaveAttribute("data-row-count", "0");

  const row = await sendAndSee("GET", "/api/users?page=1");
  await expect(row).toBeVisible();
  await expect(row.locator(".c-host")).toHaveText(HOST);
  await expect(row.locator(".c-status")).toHaveText("200");
  await expect(table()).toHaveAttribute("data-row-count", "1");
  await expect(table()).toHaveAttribute("aria-rowcount", "2");

  // More, newest first.
  await sendAndSee("POST", "/api/orders", JSON.stringify({ item: 1 }));
  await sendAndSee("GET", "/missing");
  await sendAndSee("GET", "/about");
  const crash = await sendAndSee("GET", "/crash");
  await expect(crash).toHaveAttribute("data-status", "502");
  await expect(crash).toHaveAttribute("data-error", "upstream");
  const slow = await sendAndSee("GET", "/slow");
  await expect(slow.locator(".c-duration")).toHaveClass(/slow/);
  await expect(rows().first()).toContainText("/slow");
  await expect(rows().nth(1)).toContainText("/crash");
  await expect(rows().nth(2)).toContainText("/about");
  expect(await rowCount()).toBe(6);
  await expect(rowFor("/missing").locator(".status")).toHaveClass(/s-4xx/);
});

test("filters narrow the table and the live stream", async () => {
  const search = page.getByRole("searchbox");

  await setFilter("Method", "POST");
  await expect(rows()).toHaveCount(1);
  await expect(rows().first()).toContainText("/api/orders");
  await sendAndSee("POST", "/api/orders/2", "{}");
  await sendAndNotSee("GET", "/api/hidden-by-method");
  await setFilter("Method", "");

  await search.fill("users");
  await expect(rows()).toHaveCount(1);
  await expect(rows().first()).toContainText("/api/users?page=1");
  // Free text still follows live: a match streams in, a miss does not.
  await sendAndSee("GET", "/api/users/7");
  await sendAndNotSee("GET", "/api/orders/3");
  await search.fill("");
  await expect.poll(rowCount).toBeGreaterThan(5);

  await setFilter("Status", "4xx");
  await expect(rows()).toHaveCount(1);
  await expect(rows().first()).toContainText("/missing");
  await sendAndSee("GET", "/missing");
  await sendAndNotSee("GET", "/found");
  await setFilter("Status", "");

  await page.getByLabel("Exact status").fill("404");
  await expect(rows()).toHaveCount(2);
  await page.getByLabel("Exact status").fill("502");
  await expect(rows()).toHaveCount(1);
  await page.getByLabel("Exact status").fill("");

  await page.getByRole("checkbox", { name: "Slow only" }).check();
  await expect(rows()).toHaveCount(1);
  await expect(rows().first()).toContainText("/slow");
  await page.getByRole("checkbox", { name: "Slow only" }).uncheck();

  const routeId = (await stack.api<{ id: number; host: string }[]>("GET", "/api/v1/routes")).find((r) => r.host === HOST)?.id;
  const total = (await stack.api<{ items: unknown[] }>("GET", "/api/v1/requests?limit=500")).items.length;
  expect(total).toBe(12);
  await setFilter("Host or route", `route:${routeId}`);
  await expect(page.locator(".traffic-state")).toContainText(`${total} exchanges matching the filters`);
  await page.getByRole("button", { name: "Reset filters" }).first().click();
  await expect(page.locator(".traffic-state")).toContainText(`Live · ${total} exchanges`);
  await expect(page.locator(".traffic-state")).not.toContainText("matching");
  expect(await rowCount()).toBe(total);

  // A varied table with one exchange open: the page's screenshot.
  await rowFor("/api/orders").click();
  await expect(page.getByTestId("traffic-detail")).toBeVisible();
  await screenshot(page, "traffic");
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("traffic-detail")).toBeHidden();
});

test("pause holds new rows back and resume catches up", async () => {
  const pause = page.getByRole("button", { name: "Pause" });
  await pause.click();
  await expect(page.getByRole("button", { name: "Resume" })).toHaveAttribute("aria-pressed", "true");
  const before = await rowCount();
  await send("GET", "/api/while-paused");
  await expect(page.locator(".traffic-state")).toContainText("1 new waiting", { timeout: LIVE_WITHIN_MS });
  await expect(rowFor("/api/while-paused")).toHaveCount(0);
  expect(await rowCount()).toBe(before);
  await page.getByRole("button", { name: "Resume" }).click();
  await expect(rowFor("/api/while-paused")).toBeVisible();
  expect(await rowCount()).toBe(before + 1);
});

test("scrolled away, new rows do not move the view and a button jumps back", async () => {
  const many = Array.from({ length: 60 }, (_, i) => `/api/bulk/${i}`);
  for (const target of many) await send("GET", target);
  await expect(rowFor("/api/bulk/59")).toBeVisible({ timeout: LIVE_WITHIN_MS });
  const body = page.locator(".traffic-body");
  await body.evaluate((element) => {
    element.scrollTop = 30 * 20;
  });
  await page.waitForTimeout(200);
  const firstVisible = async () =>
    page.evaluate(() => {
      const scroller = document.querySelector(".traffic-body");
      if (!scroller) return null;
      const top = scroller.getBoundingClientRect().top;
      const visible = [...document.querySelectorAll<HTMLElement>("[data-testid=traffic-row]")]
        .filter((row) => row.getBoundingClientRect().top >= top - 1)
        .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
      return visible[0]?.dataset.id ?? null;
    });
  const anchored = await firstVisible();
  expect(anchored).not.toBeNull();
  for (let i = 0; i < 3; i += 1) await send("GET", `/api/after-scroll/${i}`);
  const jump = page.getByTestId("traffic-jump-newest");
  await expect(jump).toHaveText("3 new — jump to newest", { timeout: LIVE_WITHIN_MS });
  expect(await firstVisible()).toBe(anchored);
  await jump.click();
  await expect(jump).toBeHidden();
  await expect(rows().first()).toContainText("/api/after-scroll/2");
  expect(await body.evaluate((element) => element.scrollTop)).toBe(0);
});

test("selecting a row opens its detail; the keyboard moves, opens and searches", async () => {
  const row = rowFor("/api/after-scroll/1");
  const id = await row.getAttribute("data-id");
  await row.click();
  await expect(page).toHaveURL(new RegExp(`#/traffic/${id}$`));
  await expect(page.getByTestId("traffic-detail")).toBeVisible();
  await expect(row).toHaveAttribute("aria-selected", "true");

  await page.keyboard.press("Escape");
  await expect(page).toHaveURL(/#\/traffic$/);
  await expect(page.getByTestId("traffic-detail")).toBeHidden();
  await expect(table()).toBeFocused();

  // ↓ selects the next (older) row, ↑ goes back, Enter opens.
  await page.keyboard.press("ArrowDown");
  const next = rows().and(page.locator('[aria-selected="true"]'));
  const nextId = Number(await next.getAttribute("data-id"));
  expect(nextId).toBeLessThan(Number(id));
  await expect(table()).toHaveAttribute("aria-activedescendant", `traffic-row-${nextId}`);
  await page.keyboard.press("ArrowUp");
  await expect(rows().and(page.locator('[aria-selected="true"]'))).toHaveAttribute("data-id", String(id));
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`#/traffic/${nextId}$`));
  await expect(page.getByTestId("traffic-detail")).toBeVisible();
  // With the detail open, ↑ moves it along.
  await table().focus();
  await page.keyboard.press("ArrowUp");
  await expect(page).toHaveURL(new RegExp(`#/traffic/${id}$`));
  await page.keyboard.press("Escape");
  await expect(page).toHaveURL(/#\/traffic$/);

  // Home and End keep the selection in view in a long list.
  await page.keyboard.press("End");
  const last = rows().and(page.locator('[aria-selected="true"]'));
  await expect(last).toBeInViewport();
  await page.keyboard.press("Home");
  await expect(rows().first()).toHaveAttribute("aria-selected", "true");
  await expect(rows().first()).toBeInViewport();

  await page.keyboard.press("/");
  await expect(page.getByRole("searchbox")).toBeFocused();
  await page.keyboard.type("orders");
  await expect(rows()).toHaveCount(3);
  await page.getByRole("searchbox").fill("");
});

test("export saves the filtered set as HAR", async () => {
  await setFilter("Method", "POST");
  await expect(rows()).toHaveCount(2);
  const shown = (await rows().locator(".c-path .path-text").allTextContents()).sort();
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 10_000 }),
    page.getByRole("button", { name: "Export HAR" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^portico-\d{8}-\d{6}\.har$/);
  const file = path.join(stack.tmp, "export.har");
  await download.saveAs(file);
  const har = JSON.parse(fs.readFileSync(file, "utf8")) as {
    log: { version: string; entries: { request: { method: string; url: string } }[] };
  };
  expect(har.log.version).toBe("1.2");
  expect(har.log.entries).toHaveLength(2);
  for (const entry of har.log.entries) expect(entry.request.method).toBe("POST");
  const exported = har.log.entries.map((entry) => new URL(entry.request.url).pathname).sort();
  expect(exported).toEqual(shown);
  await expect(page.getByTestId("traffic-notice")).toContainText("Exported the filtered exchanges");
  await setFilter("Method", "");
});

test("import shows a HAR file's entries, or what is wrong with it", async () => {
  const har = {
    log: {
      version: "1.2",
      creator: { name: "e2e", version: "1" },
      entries: ["/imported/one", "/imported/two"].map((p, i) => ({
        startedDateTime: new Date(Date.UTC(2024, 0, 1, 12, 0, i)).toISOString(),
        time: 12,
        request: { method: "GET", url: `https://imported.example${p}`, httpVersion: "HTTP/1.1", headers: [], queryString: [], cookies: [], headersSize: -1, bodySize: 0 },
        response: {
          status: 201,
          statusText: "Created",
          httpVersion: "HTTP/1.1",
          headers: [{ name: "content-type", value: "text/plain" }],
          cookies: [],
          content: { size: 2, mimeType: "text/plain", text: "ok" },
          redirectURL: "",
          headersSize: -1,
          bodySize: 2,
        },
        cache: {},
        timings: { send: 0, wait: 12, receive: 0 },
      })),
    },
  };
  const input = page.getByTestId("traffic-import-file");
  await input.setInputFiles({ name: "sample.har", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(har)) });
  await expect(page.getByTestId("traffic-notice")).toContainText("Imported 2 exchanges from sample.har");
  await expect(rowFor("/imported/one")).toBeVisible();
  await expect(rowFor("/imported/two")).toBeVisible();
  await expect(rowFor("/imported/one").locator(".c-host")).toHaveText("imported.example");
  await expect(rowFor("/imported/one").locator(".c-status")).toHaveText("201");

  await input.setInputFiles({ name: "broken.har", mimeType: "application/json", buffer: Buffer.from('{"log": {}}') });
  const alert = page.getByRole("alert").filter({ hasText: "broken.har" });
  await expect(alert).toContainText("Could not import broken.har");
  await expect(alert).toContainText("log.entries");
});

test("capture paused in the engine is shown, and nothing new is recorded meanwhile", async () => {
  await stack.api("PATCH", "/api/v1/settings", { capture_paused: true });
  // The shell polls the status every 5 s.
  await expect(page.getByTestId("capture-paused")).toBeVisible({ timeout: 10_000 });
  await expect(page.getByTestId("capture-paused").getByRole("link", { name: "Settings" })).toHaveAttribute("href", "#/settings");
  await sendAndNotSee("GET", "/api/not-captured");
  await stack.api("PATCH", "/api/v1/settings", { capture_paused: false });
  await expect(page.getByTestId("capture-paused")).toBeHidden({ timeout: 10_000 });
  await sendAndSee("GET", "/api/captured-again");
});

test("a request to a stopped upstream shows as Portico's 502, marked as an error", async () => {
  await stop(upstream.child);
  const reply = await send("GET", "/api/after-stop");
  expect(reply.status).toBe(502);
  const row = rowFor("/api/after-stop");
  await expect(row).toBeVisible({ timeout: LIVE_WITHIN_MS });
  await expect(row).toHaveAttribute("data-status", "502");
  await expect(row).toHaveAttribute("data-error", "upstream");
  await expect(row).toHaveClass(/is-error/);
  await expect(row.locator(".c-status")).toContainText("502");
  await expect(row.locator(".error-mark")).toContainText("Portico");

  await page.getByRole("checkbox", { name: "Errors only" }).check();
  await expect(rows()).toHaveCount(2);
  await expect(rows().nth(0)).toContainText("/api/after-stop");
  await expect(rows().nth(1)).toContainText("/crash");
  await page.getByRole("checkbox", { name: "Errors only" }).uncheck();
});

test("clear asks first, then empties the table", async () => {
  await expect.poll(rowCount).toBeGreaterThan(10);
  await page.getByRole("button", { name: "Clear…" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete all captured traffic?" });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  expect(await rowCount()).toBeGreaterThan(10);

  await page.getByRole("button", { name: "Clear…" }).click();
  await dialog.getByRole("button", { name: "Delete all" }).click();
  await expect(table()).toHaveAttribute("data-row-count", "0");
  await expect(rows()).toHaveCount(0);
  await expect(page.getByTestId("traffic-notice")).toContainText(/Deleted \d+ captured exchanges/);
  await expect(page.getByTestId("traffic-empty")).toContainText("No traffic yet");
  const left = await stack.api<{ items: unknown[] }>("GET", "/api/v1/requests");
  expect(left.items).toHaveLength(0);
  // It stays empty after a reload (it was deleted, not just hidden).
  await page.reload();
  await expect(page.getByTestId("traffic-empty")).toContainText("No traffic yet");
});
