// The route editor end to end: a real `portico serve`, real upstreams (Node HTTP servers in
// folders of their own), Debian's headless Chromium. Routes are added, changed and deleted
// through the editor and then checked through the proxy itself; a dev server that comes back
// on another port is followed with the "upstream moved" hint. Every wait is bounded.
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { screenshot, startPortico, startUpstream, stop, type Stack } from "./harness.ts";

test.describe.configure({ mode: "serial" });

let stack: Stack;
const upstreams: Awaited<ReturnType<typeof startUpstream>>[] = [];

/** A server answering `body` to everything, printing `listening PORT`. */
function serverSource(body: string): string {
  return `const http = require("node:http");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "x-powered-by": "node" });
  res.end(${JSON.stringify(body)});
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`;
}

async function upstream(name: string, body: string) {
  const started = await startUpstream(path.join(stack.tmp, name), name, serverSource(body));
  upstreams.push(started);
  return started;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET `pathAndQuery` from the proxy with `Host: host` (and `headers`), without following redirects. */
function viaProxy(host: string, pathAndQuery = "/", headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: "127.0.0.1",
        port: stack.httpPort,
        path: pathAndQuery,
        headers: { ...headers, host: `${host}:${stack.httpPort}` },
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("proxy request timed out")));
    req.on("error", reject);
  });
}

let loginUsed = false;

/** Log this test's browser in (the printed link works once, so later tests ask for a new one). */
async function openRoutes(page: Page): Promise<void> {
  const url = loginUsed ? (await stack.api<{ url: string }>("POST", "/api/v1/login-codes")).url : stack.loginUrl;
  loginUsed = true;
  await page.goto(url);
  await expect(page).toHaveURL(/\/$/);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Routes" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "Routes" })).toBeVisible();
}

function editor(page: Page) {
  return page.getByRole("dialog");
}

async function openAddRoute(page: Page) {
  await page.getByRole("button", { name: "Add route", exact: true }).click();
  const dialog = editor(page);
  await expect(dialog.getByRole("heading", { name: "Add route" })).toBeVisible();
  return dialog;
}

test.beforeAll(async () => {
  stack = await startPortico();
});

test.afterAll(async () => {
  for (const started of upstreams) await stop(started.child);
  await stack.stop();
});

test.afterEach(async ({ page }, info) => {
  info.annotations.push({ type: "portico stderr", description: stack.log() });
  await screenshot(page, `route-editor-${info.title.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`);
});

test("a route added in the editor from a discovered dev server is proxied, with its header rule", async ({ page }) => {
  const notes = await upstream("notes", "hello from notes");
  await openRoutes(page);
  await expect(page.getByText("No routes yet.")).toBeVisible();
  const dialog = await openAddRoute(page);

  // Discovered dev servers come first; picking one fills the host and the upstream.
  const service = dialog.getByRole("button", { name: new RegExp(`^:${notes.port}\\b`) });
  await expect(service).toBeVisible({ timeout: 15_000 });
  await service.click();
  await expect(service).toHaveAttribute("aria-pressed", "true");
  await expect(dialog.getByLabel("Host", { exact: true })).toHaveValue("notes.localhost");
  await expect(dialog.getByLabel("Upstream", { exact: true })).toHaveValue(String(notes.port));
  await expect(dialog.getByText(`→ http://localhost:${notes.port}`)).toBeVisible();

  // A response header rule, typed as one line into the name.
  await dialog.getByRole("button", { name: "Add response header rule" }).click();
  await dialog.getByLabel("Response headers rule 1: header name").fill("X-Route-Editor: created");
  await expect(dialog.getByLabel("Response headers rule 1: header name")).toHaveValue("X-Route-Editor");
  await expect(dialog.getByLabel("Response headers rule 1: value")).toHaveValue("created");
  await dialog.getByRole("switch", { name: /Hide backend headers/ }).check();
  await page.setViewportSize({ width: 1280, height: 1000 });
  await dialog.locator(".re-body").evaluate((body) => body.scrollTo(0, 0));
  await screenshot(page, "route-editor");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "route-editor-dark");
  await page.emulateMedia({ colorScheme: "light" });

  await dialog.getByRole("button", { name: "Add route", exact: true }).click();
  await expect(dialog).toBeHidden();

  const row = page.locator('tr[data-host="notes.localhost"]');
  await expect(row).toContainText(`localhost:${notes.port}`);
  await expect(row.locator('[data-health="up"]')).toBeVisible({ timeout: 10_000 });
  const reply = await viaProxy("notes.localhost");
  expect(reply.status).toBe(200);
  expect(reply.body).toBe("hello from notes");
  expect(reply.headers["x-route-editor"]).toBe("created");
  expect(reply.headers["x-powered-by"]).toBeUndefined();
});

test("editing a header rule changes the proxied response", async ({ page }) => {
  await openRoutes(page);
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  const dialog = editor(page);
  await expect(dialog.getByRole("heading", { name: "Edit notes.localhost" })).toBeVisible();
  const value = dialog.getByLabel("Response headers rule 1: value");
  await expect(value).toHaveValue("created");
  await value.fill("edited");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();

  await expect.poll(async () => (await viaProxy("notes.localhost")).headers["x-route-editor"], { timeout: 5_000 }).toBe("edited");
  const stored = await stack.api<{ host: string; response_headers: { set: { name: string; value: string }[] } }[]>("GET", "/api/v1/routes");
  expect(stored.find((r) => r.host === "notes.localhost")?.response_headers.set).toEqual([{ name: "X-Route-Editor", value: "edited" }]);
});

test("address lists refuse a client with 403 (a bad entry shown at its field), and a rate limit answers 429", async ({ page }) => {
  await openRoutes(page);
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  const dialog = editor(page);
  const deny = dialog.getByLabel("Denied addresses");
  await expect(deny).toHaveValue("");

  // A bad entry: the engine's 422 names the field; the editor stays open with the text kept.
  await deny.fill("127.0.0.999");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog.getByRole("alert").filter({ hasText: "deny_ips" })).toContainText("127.0.0.999");
  await expect(deny).toHaveValue("127.0.0.999");

  // This browser's requests come from 127.0.0.1: deny it.
  await deny.fill("127.0.0.0/8");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();
  await expect.poll(async () => (await viaProxy("notes.localhost")).status, { timeout: 5_000 }).toBe(403);
  const refused = await viaProxy("notes.localhost");
  expect(refused.headers["x-portico-error"]).toBe("ip-denied");
  expect(refused.body).toContain("127.0.0.1 is in the denied addresses of route notes.localhost/");
  await expect(page.locator('tr[data-host="notes.localhost"]')).toContainText("deny list");

  // Cleared: served again.
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  await expect(dialog.getByLabel("Denied addresses")).toHaveValue("127.0.0.0/8");
  await dialog.getByLabel("Denied addresses").fill("");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();
  await expect.poll(async () => (await viaProxy("notes.localhost")).status, { timeout: 5_000 }).toBe(200);
  const stored = await stack.api<{ host: string; deny_ips: string[] }[]>("GET", "/api/v1/routes");
  expect(stored.find((r) => r.host === "notes.localhost")?.deny_ips).toEqual([]);

  // A rate limit of 1 a second: the second request in a row is 429 with Retry-After.
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  await dialog.getByLabel("Requests a second per client (empty: no limit)").fill("1");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('tr[data-host="notes.localhost"]')).toContainText("1/s per client");
  let limited: Reply | undefined;
  await expect
    .poll(
      async () => {
        await viaProxy("notes.localhost");
        limited = await viaProxy("notes.localhost");
        return limited.status;
      },
      { timeout: 5_000 },
    )
    .toBe(429);
  expect(limited?.headers["retry-after"]).toBe("1");
  expect(limited?.headers["x-portico-error"]).toBe("rate-limited");
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  await dialog.getByLabel("Requests a second per client (empty: no limit)").fill("");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();
  const after = await stack.api<{ host: string; rate_limit_per_sec: number | null }[]>("GET", "/api/v1/routes");
  expect(after.find((r) => r.host === "notes.localhost")?.rate_limit_per_sec).toBeNull();
});

test("a second upstream is balanced round robin, then fails over in order, and the row shows both", async ({ page }) => {
  const spare = await upstream("spare", "hello from spare");
  await openRoutes(page);
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  const dialog = editor(page);
  await dialog.getByRole("button", { name: "Add upstream" }).click();
  await dialog.getByLabel("Upstream 2", { exact: true }).fill(`127.0.0.1:${spare.port}`);
  await expect(dialog.getByText(`→ http://127.0.0.1:${spare.port}`)).toBeVisible();
  // Two upstreams: the policy appears, round robin first.
  await expect(dialog.getByLabel("Which upstream takes a request")).toHaveValue("round_robin");
  await dialog.getByLabel("Health-check path (empty: a TCP connect every 2 s)").fill("health");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog.getByRole("alert").filter({ hasText: "starting with /" })).toBeVisible();
  await dialog.getByLabel("Health-check path (empty: a TCP connect every 2 s)").fill("");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();

  const bodies = new Set<string>();
  for (let i = 0; i < 4; i++) bodies.add((await viaProxy("notes.localhost")).body);
  expect([...bodies].sort()).toEqual(["hello from notes", "hello from spare"]);
  const row = page.locator('tr[data-host="notes.localhost"]');
  await expect(row).toContainText("round robin");
  await expect(row.locator(".health-text")).toHaveText("2 of 2 up", { timeout: 10_000 });

  // Failover: everything goes to the first while it is up.
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  await dialog.getByLabel("Which upstream takes a request").selectOption("first");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText("failover");
  for (let i = 0; i < 4; i++) expect((await viaProxy("notes.localhost")).body).toBe("hello from notes");
  const stored = await stack.api<{ host: string; upstreams: string[]; balancing: { policy: string } }[]>("GET", "/api/v1/routes");
  const notes = stored.find((r) => r.host === "notes.localhost");
  expect(notes?.upstreams).toHaveLength(2);
  expect(notes?.balancing.policy).toBe("first");

  // Back to one upstream for the tests after this one.
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  await dialog.getByRole("button", { name: "Remove upstream 2" }).click();
  await expect(dialog.getByLabel("Which upstream takes a request")).toBeHidden();
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();
  await expect(row).not.toContainText("failover");
});

test("a basic auth user added in the editor: 401 without credentials, 200 with them", async ({ page }) => {
  await openRoutes(page);
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  const dialog = editor(page);
  await dialog.getByRole("button", { name: "Add user" }).click();
  await dialog.getByLabel("User 1 name").fill("alice");
  await dialog.getByLabel("User 1 password").fill("wonder-land-9");
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('tr[data-host="notes.localhost"]')).toContainText("auth");
  const credentials = { authorization: `Basic ${Buffer.from("alice:wonder-land-9").toString("base64")}` };
  await expect.poll(async () => (await viaProxy("notes.localhost")).status, { timeout: 5_000 }).toBe(401);
  const refused = await viaProxy("notes.localhost");
  expect(refused.headers["x-portico-error"]).toBe("auth-required");
  expect(refused.headers["www-authenticate"]).toBe('Basic realm="notes.localhost", charset="UTF-8"');
  expect((await viaProxy("notes.localhost", "/", credentials)).status).toBe(200);
  const stored = await stack.api<{ host: string; basic_auth: string[] }[]>("GET", "/api/v1/routes");
  expect(stored.find((r) => r.host === "notes.localhost")?.basic_auth).toEqual(["alice"]);
  expect(JSON.stringify(stored)).not.toContain("wonder-land-9");

  // The stored password is never shown; removing the user opens the route again.
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  await expect(dialog.getByLabel("User 1 password")).toHaveValue("");
  await dialog.getByRole("button", { name: "Remove user alice" }).click();
  await dialog.getByRole("button", { name: "Save changes" }).click();
  await expect(dialog).toBeHidden();
  await expect.poll(async () => (await viaProxy("notes.localhost")).status, { timeout: 5_000 }).toBe(200);
});

test("a static-folder route serves the folder's index.html", async ({ page }) => {
  const site = path.join(stack.tmp, "site");
  fs.mkdirSync(site, { recursive: true });
  fs.writeFileSync(path.join(site, "index.html"), "<!doctype html><h1>static site from a folder</h1>\n");

  await openRoutes(page);
  const dialog = await openAddRoute(page);
  await dialog.getByLabel("Host", { exact: true }).fill("site.localhost");
  await dialog.getByRole("radio", { name: /Folder/ }).check();
  await dialog.getByLabel("Folder (absolute path)").fill(site);
  await dialog.getByRole("switch", { name: /Single-page app/ }).check();
  await dialog.getByRole("button", { name: "Add route", exact: true }).click();
  await expect(dialog).toBeHidden();

  await expect(page.locator('tr[data-host="site.localhost"]')).toContainText(`folder ${site}`);
  const reply = await viaProxy("site.localhost");
  expect(reply.status).toBe(200);
  expect(reply.body).toContain("static site from a folder");
  // SPA fallback: an unknown page answers with index.html too.
  expect((await viaProxy("site.localhost", "/some/page")).body).toContain("static site from a folder");
});

test("a redirect route answers 307 with the Location", async ({ page }) => {
  await openRoutes(page);
  const dialog = await openAddRoute(page);
  await dialog.getByLabel("Host", { exact: true }).fill("old.localhost");
  await dialog.getByRole("radio", { name: /Redirect/ }).check();
  await dialog.getByLabel("Redirect to (URL)").fill("http://new.localhost:9999/base");
  await expect(dialog.getByLabel("Status")).toHaveValue("307");
  await dialog.getByRole("button", { name: "Add route", exact: true }).click();
  await expect(dialog).toBeHidden();

  await expect(page.locator('tr[data-host="old.localhost"]')).toContainText("redirect http://new.localhost:9999/base (307)");
  const reply = await viaProxy("old.localhost", "/docs/page?q=1");
  expect(reply.status).toBe(307);
  expect(reply.headers.location).toBe("http://new.localhost:9999/base/docs/page?q=1");
});

test("an invalid host shows the API's message next to the host and keeps every input", async ({ page }) => {
  await openRoutes(page);
  // Opened from the keyboard; Escape closes it again and focus returns to the button.
  const add = page.getByRole("button", { name: "Add route", exact: true });
  await add.focus();
  await page.keyboard.press("Enter");
  const dialog = editor(page);
  await expect(dialog.getByRole("heading", { name: "Add route" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(add).toBeFocused();

  await page.keyboard.press("Enter");
  await expect(dialog).toBeVisible();
  const host = dialog.getByLabel("Host", { exact: true });
  await host.fill("bad host");
  await dialog.getByLabel("Path prefix", { exact: true }).fill("/api");
  await dialog.getByLabel("Upstream", { exact: true }).fill("5999");
  await dialog.getByLabel("Timeout (seconds)").fill("12");
  await dialog.getByRole("button", { name: "Add request header rule" }).click();
  await dialog.getByLabel("Request headers rule 1: header name").fill("X-Keep");
  await dialog.getByLabel("Request headers rule 1: value").fill("me");
  await dialog.getByRole("button", { name: "Add route", exact: true }).click();

  const error = dialog.locator("#re-host-error");
  await expect(error).toContainText('invalid host "bad host"');
  await expect(host).toHaveAttribute("aria-invalid", "true");
  await expect(host).toHaveAttribute("aria-describedby", /re-host-error/);
  await expect(host).toBeFocused();
  await expect(host).toHaveValue("bad host");
  await expect(dialog.getByLabel("Path prefix", { exact: true })).toHaveValue("/api");
  await expect(dialog.getByLabel("Upstream", { exact: true })).toHaveValue("5999");
  await expect(dialog.getByLabel("Timeout (seconds)")).toHaveValue("12");
  await expect(dialog.getByLabel("Request headers rule 1: header name")).toHaveValue("X-Keep");
  await expect(dialog.getByLabel("Request headers rule 1: value")).toHaveValue("me");
  await screenshot(page, "route-editor-invalid-host");

  // Fixing the host clears its message; Tab keeps focus inside the editor.
  await host.fill("api.good.localhost");
  await expect(error).toBeHidden();
  for (let i = 0; i < 60; i++) await page.keyboard.press("Tab");
  await expect(dialog.locator(":focus")).toHaveCount(1);
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  const stored = await stack.api<{ host: string }[]>("GET", "/api/v1/routes");
  expect(stored.map((r) => r.host)).not.toContain("bad host");
});

test("a route is deleted after a confirmation", async ({ page }) => {
  await openRoutes(page);
  const row = page.locator('tr[data-host="site.localhost"]');
  await expect(row).toBeVisible();
  await row.getByRole("button", { name: "Delete site.localhost" }).click();
  const confirm = page.getByRole("alertdialog", { name: "Delete site.localhost?" });
  await expect(confirm).toBeVisible();
  // "Keep it" is the safe default.
  await expect(confirm.getByRole("button", { name: "Keep it" })).toBeFocused();
  await confirm.getByRole("button", { name: "Delete route" }).click();
  await expect(confirm).toBeHidden();
  await expect(row).toBeHidden();
  await expect(page.getByRole("button", { name: "Add route", exact: true })).toBeFocused();
  await expect.poll(async () => (await viaProxy("site.localhost")).status, { timeout: 5_000 }).toBe(404);
  const stored = await stack.api<{ host: string }[]>("GET", "/api/v1/routes");
  expect(stored.map((r) => r.host)).not.toContain("site.localhost");
});

test("a dev server back on another port is followed from the moved hint", async ({ page }) => {
  const first = await upstream("shop", "shop on the first port");
  await openRoutes(page);
  const service = page.locator(`li.service[data-port="${first.port}"]`);
  await expect(service).toBeVisible({ timeout: 15_000 });
  await service.getByRole("button", { name: `Map port ${first.port} to shop.localhost` }).click();
  const row = page.locator('tr[data-host="shop.localhost"]');
  await expect(row.locator('[data-health="up"]')).toBeVisible({ timeout: 10_000 });
  expect((await viaProxy("shop.localhost")).body).toBe("shop on the first port");

  // The dev server stops, and a new one for the same folder starts on another port.
  await stop(first.child);
  await expect(row.locator('[data-health="down"]')).toBeVisible({ timeout: 10_000 });
  const second = await upstream("shop", "shop on the second port");
  expect(second.port).not.toBe(first.port);

  const hint = page.locator(`tr[data-moved-route]`).filter({ hasText: `shop.localhost → :${first.port} is down` });
  await expect(hint).toBeVisible({ timeout: 15_000 });
  const use = hint.getByRole("button", { name: `Use :${second.port}` });
  await expect(use).toBeVisible({ timeout: 15_000 });
  await expect(hint).toContainText(/is listening on :\d+/);
  await screenshot(page, "routes-moved");

  await use.click();
  await expect(row.locator('[data-health="up"]')).toBeVisible({ timeout: 10_000 });
  await expect(row).toContainText(`localhost:${second.port}`);
  await expect(hint).toBeHidden();
  const reply = await viaProxy("shop.localhost");
  expect(reply.status).toBe(200);
  expect(reply.body).toBe("shop on the second port");
});

/** GET `url` over HTTPS trusting only Portico's root (the certificate must name the IP). */
function viaLan(url: string): Promise<Reply> {
  const ca = fs.readFileSync(path.join(stack.tmp, "data/ca/root.pem"), "utf8");
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error("LAN request timed out")));
    req.on("error", reject);
  });
}

test("sharing a route from the editor shows its LAN address and QR codes, and it answers there over HTTPS", async ({ page }) => {
  // 127.0.0.5 stands in for this machine's address on the network.
  await stack.api("PATCH", "/api/v1/settings", { lan_address: "127.0.0.5" });
  await openRoutes(page);
  await page.getByRole("button", { name: "Edit notes.localhost" }).click();
  const dialog = editor(page);
  await dialog.getByRole("switch", { name: /^Share on your network/ }).check();
  await dialog.getByLabel("For how long").selectOption({ label: "1 hour" });
  await dialog.getByRole("button", { name: "Save changes" }).click();

  const panel = page.getByRole("dialog", { name: "notes.localhost on your network" });
  await expect(panel).toBeVisible();
  const qr = panel.getByRole("img", { name: /^QR code of https:\/\/127\.0\.0\.5:\d+\/$/ });
  await expect(qr).toBeVisible({ timeout: 10_000 });
  const url = (await qr.getAttribute("data-url")) ?? "";
  await expect(panel.getByRole("link", { name: url })).toBeVisible();
  await expect(panel.getByRole("img", { name: /^QR code of http:\/\/127\.0\.0\.5:\d+\/ca$/ })).toBeVisible();
  await expect(panel.getByRole("timer")).toContainText(/Stops sharing in (59 min|1 h)/);
  await expect(panel.getByRole("button", { name: "Copy the shared address" })).toBeVisible();
  await screenshot(page, "share-panel");

  const reply = await viaLan(url);
  expect(reply.status).toBe(200);
  expect(reply.body).toBe("hello from notes");
  // Portico's own LAN listeners are not offered as dev servers to map.
  const sharePort = Number(new URL(url).port);
  const services = await stack.api<{ services: { port: number }[] }>("GET", "/api/v1/services");
  expect(services.services.map((s) => s.port)).not.toContain(sharePort);

  // The routes list marks it; its button opens the panel again, which stops it.
  await panel.getByRole("button", { name: "Close" }).click();
  const shared = page.getByRole("button", { name: "Shared on your network: show the links for notes.localhost" });
  await expect(shared).toBeVisible();
  await shared.click();
  await panel.getByRole("button", { name: "Stop sharing" }).click();
  await expect(panel).toBeHidden();
  await expect(shared).toBeHidden();
  await expect.poll(async () => viaLan(url).then(() => "answered", () => "closed"), { timeout: 5_000 }).toBe("closed");
});
