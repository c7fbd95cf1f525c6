// The exchange detail pane end to end: a real `portico serve`, a real upstream (JSON, a PNG,
// and an echo of the request), requests through the proxy, and Debian's headless Chromium on
// `#/traffic/<id>`. Every wait is bounded.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { freePort, screenshot, startPortico, startUpstream, stop, type Stack } from "./harness.ts";

// A 3×2 PNG (red, green, blue columns).
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAE0lEQVR4nGP4z8DAsACI/zPAWQA0bAU9h+E3LgAAAABJRU5ErkJggg==";
const HOST = "api.localhost";

let stack: Stack;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
/** Exchange ids of the requests sent in `beforeAll`, by what they asked for. */
const ids = { json: 0, png: 0, echo: 0, refused: 0 };

interface Summary {
  id: number;
  method: string;
  path: string;
  replay_of?: number | null;
}

interface Detail {
  exchange: { id: number; replay_of?: number | null; status?: number | null };
  response_body: { text?: string | null };
}

/** Send a request through the proxy to `HOST`, bounded. */
function send(
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: string,
  host = HOST,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: stack.httpPort,
        method,
        path: target,
        headers: { host: `${host}:${stack.httpPort}`, ...headers },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("proxy request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** The id of the newest captured exchange for `method path` (capture is recorded asynchronously). */
async function exchangeId(method: string, requestPath: string): Promise<number> {
  let found: Summary | undefined;
  await expect
    .poll(
      async () => {
        const page = await stack.api<{ items: Summary[] }>("GET", "/api/v1/requests");
        found = page.items.find((s) => s.method === method && s.path === requestPath && s.replay_of == null);
        return found !== undefined;
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  return found?.id ?? 0;
}

/** Exchange `id` once it is stored (the recorder writes shortly after the response ends). */
async function captured(id: number): Promise<Detail> {
  let detail: Detail | undefined;
  await expect
    .poll(
      async () => {
        detail = await stack.api<Detail>("GET", `/api/v1/requests/${id}`).catch(() => undefined);
        return detail !== undefined;
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  if (detail === undefined) throw new Error(`exchange ${id} was never stored`);
  return detail;
}

/** The engine's own curl command for exchange `id`. */
async function apiCurl(id: number): Promise<string> {
  const token = fs.readFileSync(path.join(stack.tmp, "data", "admin-token"), "utf8").trim();
  const response = await fetch(`http://127.0.0.1:${stack.adminPort}/api/v1/requests/${id}/curl`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  expect(response.status).toBe(200);
  return response.text();
}

/** Log the browser in with a fresh one-time link (each test has its own browser context). */
async function logIn(page: Page) {
  const link = await stack.api<{ url: string }>("POST", "/api/v1/login-codes");
  await page.goto(link.url);
  await expect(page).toHaveURL(/\/$/);
}

async function open(page: Page, id: number) {
  await logIn(page);
  await page.evaluate((hash) => {
    window.location.hash = hash;
  }, `#/traffic/${id}`);
  const pane = page.locator(`aside.xd[data-exchange="${id}"]`);
  await expect(pane.getByRole("heading", { level: 2 })).toContainText(`.localhost:${stack.httpPort}/`);
  return pane;
}

test.beforeAll(async () => {
  stack = await startPortico();
  upstream = await startUpstream(
    path.join(stack.tmp, "api"),
    "api",
    `const http = require("node:http");
const png = Buffer.from(${JSON.stringify(PNG)}, "base64");
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const pathname = new URL(req.url, "http://upstream").pathname;
    if (pathname === "/api/user") {
      res.writeHead(200, { "content-type": "application/json", "x-served-by": "api" });
      res.end(JSON.stringify({ user: { name: "Ada", roles: ["admin"] } }));
    } else if (pathname === "/pixel.png") {
      res.writeHead(200, { "content-type": "image/png" });
      res.end(png);
    } else {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") }));
    }
  });
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`,
  );
  await stack.api("POST", "/api/v1/routes", { host: HOST, upstreams: [String(upstream.port)] });

  expect(await send("GET", "/api/user?view=full", { "x-trace": "e2e 'quoted'", accept: "application/json" })).toBe(200);
  expect(await send("GET", "/pixel.png")).toBe(200);
  expect(
    await send("POST", "/echo", { "content-type": "application/json", "x-demo": "before" }, '{"hello":"world"}'),
  ).toBe(200);
  // A route whose dev server is not running.
  await stack.api("POST", "/api/v1/routes", { host: "down.localhost", upstreams: [String(await freePort())] });
  expect(await send("GET", "/down", {}, undefined, "down.localhost")).toBe(502);
  ids.json = await exchangeId("GET", "/api/user");
  ids.refused = await exchangeId("GET", "/down");
  ids.png = await exchangeId("GET", "/pixel.png");
  ids.echo = await exchangeId("POST", "/echo");
});

test.afterAll(async () => {
  await stop(upstream.child);
  await stack.stop();
});

test("a JSON exchange: tree, headers, waterfall, copy as curl", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  const origin = `http://127.0.0.1:${stack.adminPort}`;
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const pane = await open(page, ids.json);

  await expect(pane.getByRole("heading", { level: 2 })).toContainText(`GET http://${HOST}:${stack.httpPort}/api/user?view=full`);
  await expect(pane.locator(".xd-facts")).toContainText("200 OK");
  await expect(pane.locator(".xd-facts")).toContainText(`${HOST}/`);

  // The response tab is open: headers, then the body as a tree, open at first.
  await expect(pane.getByRole("tab", { name: /Response/ })).toHaveAttribute("aria-selected", "true");
  const responseHeaders = pane.getByRole("table", { name: "Response headers" });
  await expect(responseHeaders.getByRole("row", { name: /x-served-by/ })).toContainText("api");
  await expect(responseHeaders.getByRole("row", { name: /content-type/ })).toContainText("application/json");

  const tree = pane.getByRole("tabpanel", { name: /Response/ }).locator(".jt");
  const user = tree.getByRole("button", { name: "user", exact: true });
  await expect(user).toHaveAttribute("aria-expanded", "true");
  const nameRow = tree.locator(".jt-leaf", { hasText: "name" });
  await expect(nameRow).toHaveText('name: "Ada"');
  await expect(tree.getByRole("button", { name: "roles", exact: true })).toBeVisible();
  await user.click();
  await expect(user).toHaveAttribute("aria-expanded", "false");
  await expect(nameRow).toBeHidden();
  await expect(tree).toContainText('{name: "Ada", roles: […]}');
  await user.click();
  await expect(nameRow).toBeVisible();

  // Raw shows the same JSON indented; Tree comes back.
  const views = pane.getByRole("group", { name: "Response body view" });
  await views.getByRole("button", { name: "Raw" }).click();
  await expect(pane.locator(".xd-pre")).toContainText('"name": "Ada"');
  await views.getByRole("button", { name: "Tree" }).click();
  await expect(nameRow).toBeVisible();

  // The waterfall: time to response headers, then the body, within the total.
  const timing = pane.getByRole("region", { name: "Timing" });
  await expect(timing.locator('.wf-row[data-phase="wait"]')).toContainText("Waiting for response headers");
  await expect(timing.locator('.wf-row[data-phase="body"]')).toBeVisible();
  await expect(timing.locator('.wf-row[data-phase="total"]')).toContainText(/\d ms|\d s/);
  await screenshot(page, "detail");

  // Tabs follow the arrow keys; the request's headers and query are there.
  await pane.getByRole("tab", { name: /Response/ }).focus();
  await page.keyboard.press("ArrowRight");
  const requestTab = pane.getByRole("tab", { name: /Request/ });
  await expect(requestTab).toHaveAttribute("aria-selected", "true");
  await expect(requestTab).toBeFocused();
  await expect(pane.getByRole("table", { name: "Request headers" }).getByRole("row", { name: /x-trace/ })).toContainText(
    "e2e 'quoted'",
  );
  await expect(pane.getByRole("table", { name: "Query parameters" })).toContainText("view");
  await expect(pane.getByRole("region", { name: "Request body" })).toContainText("No request body.");

  // Copy as curl: the clipboard holds what the engine's curl endpoint answers.
  await pane.getByRole("button", { name: "Copy as curl" }).click();
  await expect(pane.getByRole("status").filter({ hasText: "Copied curl command" })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const expected = await apiCurl(ids.json);
  expect(copied.trimEnd()).toBe(expected.trimEnd());
  expect(copied).toContain(`'x-trace: e2e '\\''quoted'\\'''`);

  // Escape closes the pane.
  await page.keyboard.press("Escape");
  await expect(page).toHaveURL(/#\/traffic$/);
  await expect(pane).toBeHidden();
});

test("a PNG response is drawn as an image", async ({ page }) => {
  const pane = await open(page, ids.png);
  const image = pane.getByRole("img", { name: "Response body: image/png image" });
  await expect(image).toBeVisible();
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(3);
  await expect(pane.locator(".xd-image figcaption")).toContainText("3 × 2 px");
  await screenshot(page, "detail-image");
  await pane.getByRole("group", { name: "Response body view" }).getByRole("button", { name: "Hex" }).click();
  await expect(pane.locator(".xd-hex")).toContainText("00000000  89 50 4e 47 0d 0a 1a 0a");
  await expect(pane.locator(".xd-hex")).toContainText("|.PNG");
});

test("replay as captured creates a new exchange linked to the original", async ({ page }) => {
  const pane = await open(page, ids.echo);
  await pane.getByRole("button", { name: "Replay", exact: true }).click();
  const link = pane.locator(".xd-replay").getByRole("link", { name: /open exchange #\d+/ });
  await expect(link).toBeVisible();
  await expect(pane.locator(".xd-replay")).toContainText("200 OK");
  const href = (await link.getAttribute("href")) ?? "";
  const newId = Number(/#\/traffic\/(\d+)$/.exec(href)?.[1]);
  expect(newId).toBeGreaterThan(ids.echo);
  const replayed = await captured(newId);
  expect(replayed.exchange.replay_of).toBe(ids.echo);
  expect(JSON.parse(replayed.response_body.text ?? "{}")).toMatchObject({
    method: "POST",
    body: '{"hello":"world"}',
    headers: { "x-demo": "before" },
  });

  // The link opens the new exchange, which points back at the original.
  await link.click();
  const next = page.locator(`aside.xd[data-exchange="${newId}"]`);
  await expect(next.locator(".xd-facts")).toContainText(`replay of #${ids.echo}`);
  await screenshot(page, "detail-replay");
});

test("edit and replay sends the edits; a bad header name is refused next to the field", async ({ page }) => {
  const pane = await open(page, ids.echo);
  await pane.getByRole("button", { name: "Edit and replay" }).click();
  const form = pane.getByRole("region", { name: "Edit and replay" });
  await expect(form.getByLabel("Method")).toHaveValue("POST");
  await expect(form.getByLabel("Path and query")).toHaveValue("/echo");
  await expect(form.getByLabel("Body")).toHaveValue('{"hello":"world"}');

  const headers = form.getByRole("group", { name: "Headers" });
  const names = await headers
    .getByRole("textbox", { name: /Header \d+ name/ })
    .evaluateAll((inputs) => inputs.map((input) => (input as HTMLInputElement).value));
  const demo = names.indexOf("x-demo");
  expect(demo).toBeGreaterThanOrEqual(0);
  const demoValue = headers.getByRole("textbox", { name: `Header ${demo + 1} value`, exact: true });
  await expect(demoValue).toHaveValue("before");
  await demoValue.fill("after");
  await form.getByLabel("Path and query").fill("/echo?edited=1");
  await form.getByLabel("Body").fill('{"hello":"edited"}');
  await form.getByRole("button", { name: "Send" }).click();

  const link = form.getByRole("link", { name: /open exchange #\d+/ });
  await expect(link).toBeVisible();
  const newId = Number(/#\/traffic\/(\d+)$/.exec((await link.getAttribute("href")) ?? "")?.[1]);
  const replayed = await captured(newId);
  expect(replayed.exchange.replay_of).toBe(ids.echo);
  expect(JSON.parse(replayed.response_body.text ?? "{}")).toMatchObject({
    method: "POST",
    url: "/echo?edited=1",
    body: '{"hello":"edited"}',
    headers: { "x-demo": "after" },
  });

  // A header name with a space: the API's message appears in the Headers group.
  await headers.getByRole("button", { name: "Add header" }).click();
  await headers.getByRole("textbox", { name: /Header \d+ name/ }).last().fill("bad header");
  await headers.getByRole("textbox", { name: /Header \d+ value/ }).last().fill("x");
  await form.getByRole("button", { name: "Send" }).click();
  const refusal = headers.getByRole("alert");
  await expect(refusal).toContainText('"bad header" is not a header name');
  await expect(headers.getByRole("textbox", { name: /Header \d+ name/ }).last()).toHaveAttribute("aria-invalid", "true");
  await screenshot(page, "detail-edit");

  // Escape leaves the form, not the pane, and gives focus back to its button.
  await headers.getByRole("textbox", { name: /Header \d+ value/ }).last().press("Escape");
  await expect(form).toBeHidden();
  await expect(pane.getByRole("button", { name: "Edit and replay" })).toBeFocused();
  await expect(page).toHaveURL(new RegExp(`#/traffic/${ids.echo}$`));

  // The new exchange shows the echoed edits in its own tree.
  await page.evaluate((hash) => {
    window.location.hash = hash;
  }, `#/traffic/${newId}`);
  const next = page.locator(`aside.xd[data-exchange="${newId}"]`);
  const response = next.getByRole("tabpanel", { name: /Response/ });
  await expect(response.locator(".jt")).toContainText('x-demo: "after"');
  await expect(response.locator(".jt")).toContainText('body: "{\\"hello\\":\\"edited\\"}"');
});

test("an exchange that no longer exists says so", async ({ page }) => {
  await logIn(page);
  await page.evaluate(() => {
    window.location.hash = "#/traffic/999999";
  });
  const pane = page.locator('aside.xd[data-exchange="999999"]');
  await expect(pane.getByRole("alert")).toContainText("This exchange is gone");
  await expect(pane.getByRole("alert")).toContainText("trimmed by retention");
  await pane.getByRole("button", { name: "Close exchange details" }).click();
  await expect(page).toHaveURL(/#\/traffic$/);
  await screenshot(page, "detail-gone");
});

test("a refused upstream is explained: who caused it and what to do", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "dark" });
  const pane = await open(page, ids.refused);
  await expect(pane.locator(".xd-facts")).toContainText("502 Bad Gateway");
  const failure = pane.getByRole("region", { name: /The upstream refused the connection/ });
  await expect(failure).toContainText("Caused by the upstream");
  await expect(failure).toContainText("Is the dev server running?");
  await expect(failure).toContainText("refused the connection");
  await screenshot(page, "detail-failure-dark");
});
