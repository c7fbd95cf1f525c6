// The Routes page end to end: a real `portico serve`, a real upstream (a Node HTTP server in a
// folder whose package.json is named `shop`), and Debian's headless Chromium logged in with
// the one-time link `serve` prints. Every wait is bounded.
import path from "node:path";
import { expect, test } from "@playwright/test";
import { getThroughProxy, screenshot, startPortico, startUpstream, stop, type Stack } from "./harness.ts";

const UPSTREAM_BODY = "hello from the shop upstream";

let stack: Stack;
let upstream: Awaited<ReturnType<typeof startUpstream>>;

test.beforeAll(async () => {
  stack = await startPortico();
  upstream = await startUpstream(
    path.join(stack.tmp, "shop"),
    "shop",
    `const http = require("node:http");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "max-age=60" });
  res.end(${JSON.stringify(UPSTREAM_BODY)});
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`,
  );
});

test.afterAll(async () => {
  await stop(upstream.child);
  await stack.stop();
});
test("a discovered dev server is mapped in one click, proxied, cached, and its failure shows", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  await page.goto(stack.loginUrl);
  await expect(page).toHaveURL(/\/$/);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Routes" }).click();
  await expect(page).toHaveURL(/#\/routes$/);

  // Discovered services (polled every 3 s) finds the shop by its package.json name.
  const service = page.locator(`li.service[data-port="${upstream.port}"]`);
  await expect(service).toBeVisible({ timeout: 15_000 });
  await expect(service).toContainText("shop");
  await expect(page.getByRole("heading", { level: 2, name: "Routes" })).toBeVisible();
  await expect(page.getByText("No routes yet.")).toBeVisible();

  await service.getByRole("button", { name: `Map port ${upstream.port} to shop.localhost` }).click();

  // The route appears, links to its URL on the proxy, and its upstream is up (probed every 2 s).
  const row = page.locator('tr[data-host="shop.localhost"]');
  await expect(row).toBeVisible();
  await expect(row.getByRole("link", { name: "shop.localhost", exact: true })).toHaveAttribute(
    "href",
    `http://shop.localhost:${stack.httpPort}/`,
  );
  await expect(row).toContainText(`localhost:${upstream.port}`);
  await expect(row.locator('[data-health="up"]')).toBeVisible({ timeout: 10_000 });
  // Mapped services leave the discovered list.
  await expect(service).toBeHidden({ timeout: 10_000 });

  // Through the proxy, the name reaches the upstream.
  const reply = await getThroughProxy(stack.httpPort, "shop.localhost");
  expect(reply.status).toBe(200);
  expect(reply.body).toBe(UPSTREAM_BODY);

  // Cache on, and it is still on after a reload (it was stored, not just drawn).
  const cache = row.getByRole("switch", { name: "Cache for shop.localhost" });
  await expect(cache).not.toBeChecked();
  await cache.check();
  await expect(cache).toBeChecked();
  await expect(cache).toBeEnabled();
  await page.reload();
  await expect(page.locator('tr[data-host="shop.localhost"]').getByRole("switch", { name: "Cache for shop.localhost" })).toBeChecked();
  await expect(page.locator('tr[data-host="shop.localhost"] [data-health="up"]')).toBeVisible({ timeout: 10_000 });
  await screenshot(page, "routes");

  // With the cache on, the second GET of a cacheable answer is a hit, on the wire and in the
  // Traffic table.
  const first = await getThroughProxy(stack.httpPort, "shop.localhost", "/cached");
  expect(first.status).toBe(200);
  const second = await getThroughProxy(stack.httpPort, "shop.localhost", "/cached");
  expect(second.status).toBe(200);
  expect(second.body).toBe(UPSTREAM_BODY);
  expect(String(second.headers["cache-status"])).toMatch(/^Portico; hit/);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Traffic" }).click();
  const hitRow = page.locator('[data-testid="traffic-row"]', { hasText: "/cached" }).first();
  await expect(hitRow).toContainText("hit", { timeout: 5_000 });

  // The dev server stops: its dot turns red on the Routes page and the next request is a 502
  // that Portico answered, marked as an error in the Traffic table.
  await stop(upstream.child);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Routes" }).click();
  await expect(page.locator('tr[data-host="shop.localhost"] [data-health="down"]')).toBeVisible({ timeout: 10_000 });
  const broken = await getThroughProxy(stack.httpPort, "shop.localhost", "/after-stop");
  expect(broken.status).toBe(502);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Traffic" }).click();
  const brokenRow = page.locator('[data-testid="traffic-row"]', { hasText: "/after-stop" });
  await expect(brokenRow).toHaveAttribute("data-status", "502", { timeout: 5_000 });
  await expect(brokenRow).toHaveAttribute("data-error", "upstream");
  await screenshot(page, "routes-broken-traffic");
});
