// The Doctor page end to end: a real Vite dev server behind a route with a custom TLD refuses
// the host; the page explains it with the `server.allowedHosts` fix, and its button (the
// route's `upstream_host`) makes the upstream check pass. An upstream on a closed port is
// explained too. A route's "Check" link opens the page for that host.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { freePort, screenshot, startPortico, stop, type Stack } from "./harness.ts";

const VITE = path.join(import.meta.dirname, "../../node_modules/vite/bin/vite.js");

interface Route {
  id: number;
  host: string;
  upstream_host: boolean;
}

/** Resolves once something accepts connections on 127.0.0.1:`port`, within `ms`. */
async function listening(port: number, ms: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`vite exited (${child.exitCode}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => {
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`vite did not listen on ${port} within ${ms} ms`);
}

let stack: Stack;
let vite: ChildProcess;
let viteRoot: string;
let vitePort: number;

test.beforeAll(async () => {
  expect(fs.existsSync(VITE), `${VITE} is missing (npm ci)`).toBe(true);
  viteRoot = fs.mkdtempSync(path.join(os.tmpdir(), "portico-e2e-vite-"));
  fs.writeFileSync(path.join(viteRoot, "index.html"), "<!doctype html><title>vite app</title><p>hello</p>\n");
  vitePort = await freePort();
  vite = spawn(
    process.execPath,
    [VITE, "--host", "127.0.0.1", "--port", String(vitePort), "--strictPort", "--clearScreen", "false", "--logLevel", "error"],
    { cwd: viteRoot, stdio: ["ignore", "ignore", "inherit"] },
  );
  await listening(vitePort, 60_000, vite);
  stack = await startPortico();
});

test.afterAll(async () => {
  await stack.stop();
  await stop(vite);
  fs.rmSync(viteRoot, { recursive: true, force: true });
});

test("explains Vite's host check and fixes it with the upstream-host action", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  const route = await stack.api<Route>("POST", "/api/v1/routes", { host: "app.test", upstreams: [String(vitePort)] });
  const closed = await freePort();
  await stack.api<Route>("POST", "/api/v1/routes", { host: "down.localhost", upstreams: [`127.0.0.1:${closed}`] });

  await page.goto(stack.loginUrl);
  await page.getByRole("link", { name: "Routes", exact: true }).click();
  await page.getByRole("link", { name: "Check app.test" }).click();
  await expect(page).toHaveURL(/#\/doctor\/app\.test$/);
  await expect(page.getByRole("heading", { name: "Doctor", level: 1 })).toBeVisible();
  await expect(page.getByText("Checking app.test.")).toBeVisible();

  const rejected = page.locator('li[data-check="upstream.host_rejected"]');
  await expect(rejected).toBeVisible({ timeout: 20_000 });
  await expect(rejected).toHaveAttribute("data-status", "error");
  await expect(rejected).toContainText(`Vite at localhost:${vitePort} refuses requests for the host "app.test"`);
  await expect(rejected.locator("pre")).toContainText("server.allowedHosts");
  await expect(rejected.locator("pre")).toContainText("allowedHosts: ['app.test']");
  await expect(page.getByTestId("doctor-summary")).toContainText("error");
  await screenshot(page, "doctor-vite-rejected");

  await rejected.getByRole("button", { name: "Send the upstream's own address as Host" }).click();
  await expect(page.getByRole("status").filter({ hasText: "app.test now sends its upstream's own address" })).toBeVisible();
  await expect(rejected).toHaveCount(0, { timeout: 20_000 });
  const stored = await stack.api<Route>("GET", `/api/v1/routes/${route.id}`);
  expect(stored.upstream_host).toBe(true);

  await page.getByText(/^Working \(\d+\)$/).click();
  const reach = page.locator('li[data-check="upstream.reach"][data-status="ok"]');
  await expect(reach).toBeVisible();
  await expect(reach).toContainText(`localhost:${vitePort}`);
  await expect(reach).toContainText("with 200 OK in");

  // Every route: the closed port is explained with how to start the dev server.
  await page.getByRole("link", { name: "Check every route" }).click();
  await expect(page).toHaveURL(/#\/doctor$/);
  const down = page.locator('li[data-check="upstream.reach"][data-status="error"]');
  await expect(down).toBeVisible({ timeout: 20_000 });
  await expect(down).toContainText(`Nothing answers at 127.0.0.1:${closed}`);
  await expect(down.locator("pre")).toContainText(`Start the dev server on port ${closed}`);
  await screenshot(page, "doctor-every-route");
});
