// The Overview page end to end: a real `portico serve`, a real upstream that fails every fourth
// request with a 500, and Debian's headless Chromium. First the empty states (no routes, then
// a route without traffic), then a bounded burst through the proxy shows up as the route's
// requests, error rate and latency. Every wait is bounded.
import path from "node:path";
import { expect, test } from "@playwright/test";
import { getThroughProxy, screenshot, startPortico, startUpstream, stop, type Stack } from "./harness.ts";

const HOST = "shop.localhost";
const BURST = 40;
const FAILING = BURST / 4;

let stack: Stack;
let upstream: Awaited<ReturnType<typeof startUpstream>>;

test.beforeAll(async () => {
  stack = await startPortico();
  upstream = await startUpstream(
    path.join(stack.tmp, "shop"),
    "shop",
    `const http = require("node:http");
let served = 0;
const server = http.createServer((req, res) => {
  served += 1;
  const fail = served % 4 === 0;
  res.writeHead(fail ? 500 : 200, { "content-type": "text/plain; charset=utf-8" });
  res.end(fail ? "boom" : "hello from the shop");
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`,
  );
});

test.afterAll(async () => {
  await stop(upstream.child);
  await stack.stop();
});

test("the overview guides a newcomer, then charts a route's requests, errors and latency", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  await page.goto(stack.loginUrl);
  await expect(page).toHaveURL(/\/(#\/)?$/);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeAttached();

  // No routes: the first step, linking to the Routes page and naming the CLI command.
  const firstRoute = page.locator('[data-empty="no-routes"]');
  await expect(firstRoute.getByRole("heading", { name: "Map your first dev server" })).toBeVisible();
  await expect(firstRoute.getByRole("link", { name: "Map a dev server" })).toHaveAttribute("href", "#/routes");
  await expect(firstRoute).toContainText("portico route add app.localhost 5173");
  const summary = page.getByRole("region", { name: "Summary" });
  await expect(summary.locator('[data-tile="capture"]')).toContainText("Recording");
  await expect(summary.locator('[data-tile="listeners"]')).toContainText(`127.0.0.1:${stack.httpPort}`);
  await screenshot(page, "overview-empty");

  // A route without traffic: where to open it.
  await stack.api("POST", "/api/v1/routes", { host: HOST, upstreams: [String(upstream.port)] });
  const routeUrl = `http://${HOST}:${stack.httpPort}/`;
  const noTraffic = page.locator('[data-empty="no-traffic"]');
  await expect(noTraffic).toBeVisible({ timeout: 10_000 });
  await expect(noTraffic.getByRole("link", { name: routeUrl })).toHaveAttribute("href", routeUrl);
  await expect(noTraffic).toContainText("to see traffic here");
  await expect(firstRoute).toBeHidden();
  // The upstream is probed every couple of seconds.
  await expect(summary.locator('[data-tile="routes"]')).toContainText("1 up", { timeout: 10_000 });

  // A bounded burst through the proxy: every fourth answer is the upstream's 500, and one
  // request names a host no route serves.
  const statuses: number[] = [];
  for (let i = 0; i < BURST; i++) statuses.push((await getThroughProxy(stack.httpPort, HOST)).status);
  expect(statuses.filter((status) => status === 500)).toHaveLength(FAILING);
  expect(statuses.filter((status) => status === 200)).toHaveLength(BURST - FAILING);
  expect((await getThroughProxy(stack.httpPort, "nobody.localhost")).status).toBe(404);

  // The route's row appears with the burst (metrics are polled every 5 s).
  const row = page.locator(`article.ov-route[data-name="${HOST}"]`);
  await expect(row).toBeVisible({ timeout: 15_000 });
  await expect(noTraffic).toBeHidden();
  await expect(row.getByRole("heading", { name: HOST })).toBeVisible();
  await expect(row.getByRole("link", { name: HOST, exact: true })).toHaveAttribute("href", routeUrl);
  await expect(row.getByRole("link", { name: `Traffic of ${HOST}` })).toHaveAttribute("href", "#/traffic");
  await expect(row).toContainText(`${BURST} requests · ${FAILING} errors in 15 min`, { timeout: 10_000 });
  await expect(row.locator('[data-metric="errors"]')).toHaveText("25%");
  await expect(row.locator('[data-metric="rps"]')).not.toHaveText(/^0\s*\/s$/);
  await expect(row.locator('[data-metric="p95"]')).toHaveText(/ms|s$/);
  // Each chart says what it shows.
  await expect(row.getByRole("img", { name: new RegExp(`^Requests per second to ${HOST.replace(".", "\\.")} over the last 15 min`) })).toBeAttached();
  await expect(row.getByRole("img", { name: new RegExp(`${FAILING} failed or 5xx exchanges of ${BURST} requests`) })).toBeAttached();
  await expect(row.getByRole("img", { name: /^Latency of shop\.localhost/ })).toBeAttached();

  // Requests for unknown hosts get a row of their own.
  await expect(page.locator('article.ov-route[data-route-key="unmatched"]')).toContainText("No route matched");

  // The summary adds everything up: 10 errors of 41 requests.
  await expect(summary.locator('[data-tile="errors"]')).toContainText("24%");
  await expect(summary.locator('[data-tile="requests"]')).toContainText(`${BURST + 1} in 15 min`);
  await expect(summary.locator('[data-tile="cache"]')).toContainText("caching is off on every route");

  // Hovering a chart reads out the newest bucket.
  const chart = row.locator(".ov-chart").first();
  const box = await chart.boundingBox();
  expect(box).not.toBeNull();
  if (box) await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
  await expect(row.locator(".ov-chart-tip")).toContainText("(now)");

  await screenshot(page, "overview");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "overview-dark");
});
