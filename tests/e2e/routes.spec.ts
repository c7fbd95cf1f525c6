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
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
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
test("a discovered dev server is mapped in one click, proxied, and its switches persist", async ({ page }) => {
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
  await expect(row.getByRole("link", { name: "shop.localhost" })).toHaveAttribute(
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
});
