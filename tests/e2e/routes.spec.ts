// The Routes page end to end: a real `portico serve` (the debug binary from the shared build
// cache) on free loopback ports with its own data dir, a real upstream (a Node HTTP server in
// a folder whose package.json is named `shop`), and Debian's headless Chromium logged in with
// the one-time link `serve` prints. Every wait is bounded.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { expect, test } from "@playwright/test";

const TARGET_DIR = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), ".cache/portico/target");
const PORTICO = path.join(TARGET_DIR, "debug/portico");
const UPSTREAM_BODY = "hello from the shop upstream";

/** A port nothing listens on right now (bound, then released). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

/** The first stdout line of `child` matching `pattern`, within `ms`. */
async function lineMatching(child: ChildProcess, pattern: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
  if (!child.stdout) throw new Error(`${what}: no stdout`);
  const lines = readline.createInterface({ input: child.stdout });
  const seen: string[] = [];
  try {
    return await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${what}: no line matching ${pattern} within ${ms} ms; saw:\n${seen.join("\n")}`));
      }, ms);
      lines.on("line", (line) => {
        seen.push(line);
        const match = pattern.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(match);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${what} exited (${code}) before printing ${pattern}; saw:\n${seen.join("\n")}`));
      });
    });
  } finally {
    lines.removeAllListeners("line");
  }
}

/** GET `/` from 127.0.0.1:`port` with `Host: host`, bounded. */
async function getThroughProxy(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port, path: "/", headers: { host: `${host}:${port}` }, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("proxy request timed out")));
    req.on("error", reject);
  });
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

let tmp: string;
let upstream: ChildProcess | undefined;
let portico: ChildProcess | undefined;
let upstreamPort: number;
let httpPort: number;
let loginUrl: string;
let porticoLog = "";

test.beforeAll(async () => {
  expect(fs.existsSync(PORTICO), `${PORTICO} is missing: run \`cargo build -p portico\` (make test does)`).toBe(true);
  expect(fs.existsSync("/usr/bin/chromium"), "Debian's chromium package is missing (make deps installs it)").toBe(true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "portico-e2e-"));

  const shop = path.join(tmp, "shop");
  fs.mkdirSync(shop);
  fs.writeFileSync(path.join(shop, "package.json"), JSON.stringify({ name: "shop", private: true }));
  fs.writeFileSync(
    path.join(shop, "server.js"),
    `const http = require("node:http");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  res.end(${JSON.stringify(UPSTREAM_BODY)});
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`,
  );
  upstream = spawn(process.execPath, ["server.js"], { cwd: shop, stdio: ["ignore", "pipe", "inherit"] });
  const listening = await lineMatching(upstream, /^listening (\d+)$/, 10_000, "the upstream");
  upstreamPort = Number(listening[1]);

  httpPort = await freePort();
  const adminPort = await freePort();
  portico = spawn(
    PORTICO,
    [
      "serve",
      "--data-dir",
      path.join(tmp, "data"),
      "--http",
      `127.0.0.1:${httpPort}`,
      "--no-https",
      "--admin",
      `127.0.0.1:${adminPort}`,
    ],
    { cwd: tmp, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORTICO_LOG: "warn" } },
  );
  portico.stderr?.on("data", (chunk: Buffer) => (porticoLog += chunk.toString()));
  const ui = await lineMatching(portico, /^UI: (http:\/\/\S+\/login\?code=\S+)/, 30_000, "portico serve");
  loginUrl = ui[1] ?? "";
  expect(loginUrl).toContain(`127.0.0.1:${adminPort}`);
});

test.afterAll(async () => {
  await stop(portico);
  await stop(upstream);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test("a discovered dev server is mapped in one click, proxied, and its switches persist", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: porticoLog });
  await page.goto(loginUrl);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1, name: "Portico" })).toBeVisible();

  // Discovered services (polled every 3 s) finds the shop by its package.json name.
  const service = page.locator(`li.service[data-port="${upstreamPort}"]`);
  await expect(service).toBeVisible({ timeout: 15_000 });
  await expect(service).toContainText("shop");
  await expect(page.getByRole("heading", { name: "Routes" })).toBeVisible();
  await expect(page.getByText("No routes yet.")).toBeVisible();

  await service.getByRole("button", { name: `Map port ${upstreamPort} to shop.localhost` }).click();

  // The route appears, links to its URL on the proxy, and its upstream is up (probed every 2 s).
  const row = page.locator('tr[data-host="shop.localhost"]');
  await expect(row).toBeVisible();
  await expect(row.getByRole("link", { name: "shop.localhost" })).toHaveAttribute(
    "href",
    `http://shop.localhost:${httpPort}/`,
  );
  await expect(row).toContainText(`localhost:${upstreamPort}`);
  await expect(row.locator('[data-health="up"]')).toBeVisible({ timeout: 10_000 });
  // Mapped services leave the discovered list.
  await expect(service).toBeHidden({ timeout: 10_000 });

  // Through the proxy, the name reaches the upstream.
  const reply = await getThroughProxy(httpPort, "shop.localhost");
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

  fs.mkdirSync(path.join(import.meta.dirname, "screenshots"), { recursive: true });
  await page.screenshot({ path: path.join(import.meta.dirname, "screenshots/routes.png"), fullPage: true });
});
