// The Settings page end to end, against a real `portico serve`: a change is saved as a PATCH
// of only that field and survives a reload; a value the engine refuses shows its message next
// to the field, and the other edits stay in the form until they are saved.
import fs from "node:fs";
import path from "node:path";
import { expect, test, type Page, type Request } from "@playwright/test";
import { getThroughProxy, screenshot, startPortico, type Stack } from "./harness.ts";

interface Settings {
  http_listen: string | null;
  capture_retention_days: number;
  capture_retention_count: number;
  default_cache: boolean;
}

let stack: Stack;

/** Scroll to the end, so the sticky save bar sits in its place in a full-page screenshot. */
async function atBottom(page: Page): Promise<void> {
  await page.evaluate(() => {
    window.scrollTo(0, document.body.scrollHeight);
  });
}

test.beforeAll(async () => {
  stack = await startPortico();
});

test.afterAll(async () => {
  await stack.stop();
});

test("a change is saved alone, persists, and a refused value keeps the other edits", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  const patches: unknown[] = [];
  page.on("request", (request: Request) => {
    if (request.method() === "PATCH" && request.url().endsWith("/api/v1/settings")) patches.push(request.postDataJSON());
  });

  await page.goto(stack.loginUrl);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Settings" }).click();
  await expect(page).toHaveURL(/#\/settings$/);
  await expect(page.getByRole("heading", { level: 1, name: "Settings" })).toBeVisible();

  const days = page.getByLabel("Retention days");
  await expect(days).toHaveValue("7");
  const save = page.getByRole("button", { name: "Save", exact: true });
  const revert = page.getByRole("button", { name: "Revert" });
  await expect(save).toBeDisabled();

  // The form's own check: out of bounds, with the bounds in the message; Save stays off.
  await days.fill("400");
  await expect(page.getByText("Must be between 1 and 365 days.")).toBeVisible();
  await expect(save).toBeDisabled();

  // Revert puts the stored value back.
  await revert.click();
  await expect(days).toHaveValue("7");
  await expect(save).toBeDisabled();

  // A valid change: one PATCH with that field only, a confirmation, the stored value.
  await days.fill("30");
  await expect(page.getByText("1 unsaved change")).toBeVisible();
  await save.click();
  await expect(page.getByRole("status").filter({ hasText: "Saved Retention days" })).toBeVisible();
  expect(patches).toEqual([{ capture_retention_days: 30 }]);
  expect((await stack.api<Settings>("GET", "/api/v1/settings")).capture_retention_days).toBe(30);
  await expect(save).toBeDisabled();

  await page.reload();
  await expect(page.getByLabel("Retention days")).toHaveValue("30");

  // A refused value: the engine's message next to the field, nothing saved, edits kept.
  const count = page.getByLabel("Retention count");
  const address = page.getByLabel("HTTP listen address");
  await count.fill("5000");
  await page.getByRole("switch", { name: "Cache new routes" }).check();
  await address.fill("localhost:8080");
  await save.click();
  const refusal = page.locator(".field", { has: address }).locator(".field-error");
  await expect(refusal).toContainText('"localhost:8080" is not IP:PORT, e.g. 127.0.0.1:8080');
  await expect(address).toHaveAttribute("aria-invalid", "true");
  await expect(address).toBeFocused();
  await expect(page.getByTestId("save-error")).toContainText("Not saved (HTTP listen address)");
  expect(patches[1]).toEqual({ http_listen: "localhost:8080", default_cache: true, capture_retention_count: 5000 });
  await expect(count).toHaveValue("5000");
  await expect(page.getByRole("switch", { name: "Cache new routes" })).toBeChecked();
  await expect(address).toHaveValue("localhost:8080");
  const unchanged = await stack.api<Settings>("GET", "/api/v1/settings");
  expect(unchanged).toMatchObject({ http_listen: null, capture_retention_count: 100_000, default_cache: false });
  await atBottom(page);
  await screenshot(page, "settings-refused");

  // Fixing the field clears its error; saving stores the rest.
  await address.fill("0.0.0.0:8080");
  await expect(refusal).toHaveCount(0);
  await save.click();
  await expect(page.getByRole("status").filter({ hasText: "apply when portico serve starts again" })).toBeVisible();
  const stored = await stack.api<Settings>("GET", "/api/v1/settings");
  expect(stored).toMatchObject({ http_listen: "0.0.0.0:8080", capture_retention_count: 5000, default_cache: true });
  await page.reload();
  await expect(page.getByLabel("HTTP listen address")).toHaveValue("0.0.0.0:8080");
  await expect(page.getByLabel("Retention count")).toHaveValue("5000");

  // Clearing an address sends null: back to the default.
  await page.getByLabel("HTTP listen address").fill("");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved HTTP listen address" })).toBeVisible();
  expect(patches.at(-1)).toEqual({ http_listen: null });
  expect((await stack.api<Settings>("GET", "/api/v1/settings")).http_listen).toBeNull();

  // Local suffixes: added in the form, saved as the whole list.
  await page.getByLabel("Add a suffix").fill("Dev.Internal");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.getByRole("list", { name: "Local suffixes" })).toContainText("dev.internal");
  await page.getByLabel("Add a suffix").fill("bad_name");
  await page.getByLabel("Add a suffix").press("Enter");
  await expect(page.getByText('"bad_name" is not a DNS name')).toBeVisible();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved Local suffixes" })).toBeVisible();
  expect(patches.at(-1)).toEqual({ local_suffixes: ["dev.internal"] });

  await atBottom(page);
  await screenshot(page, "settings");
});

test("pausing proxying shows on every page until Resume, and the proxy answers 503 meanwhile", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  await stack.api("POST", "/api/v1/routes", { host: "paused.localhost", upstreams: ["127.0.0.1:9"] });
  // The printed link went to the first test; a fresh one-time link.
  await page.goto((await stack.api<{ url: string }>("POST", "/api/v1/login-codes")).url);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Settings" }).click();
  const banner = page.getByRole("status").filter({ hasText: "Proxying is paused" });
  await expect(banner).toHaveCount(0);

  // Paused from the Settings page: saved, and the banner appears on this page and the others.
  await page.getByRole("switch", { name: "Pause proxying" }).check();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(banner).toBeVisible();
  const paused = await getThroughProxy(stack.httpPort, "paused.localhost");
  expect(paused.status).toBe(503);
  expect(paused.headers["x-portico-error"]).toBe("paused");
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Routes" }).click();
  await expect(banner).toBeVisible();
  await screenshot(page, "paused");

  // Resumed from the banner: gone, the route is proxied again (its upstream is down: 502).
  await banner.getByRole("button", { name: "Resume" }).click();
  await expect(banner).toHaveCount(0);
  expect((await getThroughProxy(stack.httpPort, "paused.localhost")).status).toBe(502);
  expect((await stack.api<{ proxy_paused: boolean }>("GET", "/api/v1/settings")).proxy_paused).toBe(false);

  // Paused elsewhere (the tray, the CLI: here the API): the open page shows it from the event.
  await stack.api("PATCH", "/api/v1/settings", { proxy_paused: true });
  await expect(banner).toBeVisible({ timeout: 3_000 });
  await stack.api("PATCH", "/api/v1/settings", { proxy_paused: false });
  await expect(banner).toHaveCount(0, { timeout: 3_000 });
});

test("DNS suffixes start the responder, whose state and resolver setup commands the page shows", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  await page.goto((await stack.api<{ url: string }>("POST", "/api/v1/login-codes")).url);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Settings" }).click();
  const panel = page.getByTestId("dns-panel");
  await expect(panel).toContainText("Off: add a suffix");

  await page.getByLabel("DNS suffixes").fill("Test, lan");
  await page.getByLabel("DNS responder address").fill("127.0.0.1:0");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved DNS suffixes, DNS responder address" })).toBeVisible();
  await expect(page.getByLabel("DNS suffixes")).toHaveValue("test, lan");
  await expect(panel).toContainText(/Answering on 127\.0\.0\.1:\d+ \(UDP and TCP\)/);
  await expect(panel.getByRole("list", { name: "Resolver per suffix" })).toContainText("*.lan");
  await expect(panel.getByRole("button", { name: "Copy the resolver setup commands" })).toBeVisible();
  const setup = await stack.api<{ plan: { setup_script: string } }>("GET", "/api/v1/dns");
  await expect(panel.locator("pre").first()).toHaveText(setup.plan.setup_script.trimEnd());

  // A refused suffix is shown at its field.
  await page.getByLabel("DNS suffixes").fill("localhost");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByTestId("save-error")).toContainText("needs no DNS responder");
  await page.getByRole("button", { name: "Revert" }).click();
  await page.getByLabel("DNS suffixes").fill("");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(panel).toContainText("Off: add a suffix");
});

test("a .test route's name goes into the hosts file's block, which the page shows and removes on request", async ({ page }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  // The engine keeps a hosts file of its own here (the harness's), with a line of the user's.
  const hostsFile = path.join(stack.tmp, "hosts");
  const foreign = "127.0.0.1\tlocalhost\n192.168.1.20 nas.home # mine\n";
  fs.writeFileSync(hostsFile, foreign);
  const route = await stack.api<{ id: number }>("POST", "/api/v1/routes", { host: "shop.test", upstreams: ["http://127.0.0.1:9"] });

  await page.goto((await stack.api<{ url: string }>("POST", "/api/v1/login-codes")).url);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Settings" }).click();
  const panel = page.getByTestId("hosts-sync");
  // (Earlier tests' routes may be there too: this machine may not resolve *.localhost itself.)
  await expect(panel.getByRole("status")).toContainText(/In sync: .*shop\.test resolves? to this machine/, { timeout: 10_000 });
  const synced = fs.readFileSync(hostsFile, "utf8");
  expect(synced.startsWith(foreign), "the user's lines stay first, untouched").toBe(true);
  expect(synced).toContain("# BEGIN Portico");
  expect(synced).toContain("127.0.0.1 shop.test");

  await panel.getByRole("button", { name: "Remove Portico's block" }).click();
  await page.getByRole("button", { name: "Remove it" }).click();
  await expect(panel.getByRole("status")).toContainText("Off: Portico does not change");
  expect(fs.readFileSync(hostsFile, "utf8"), "the file as the user left it, byte for byte").toBe(foreign);
  const settings = await stack.api<{ hosts_sync: boolean }>("GET", "/api/v1/settings");
  expect(settings.hosts_sync).toBe(false);
  await stack.api("DELETE", `/api/v1/routes/${route.id}`);
  await stack.api("PATCH", "/api/v1/settings", { hosts_sync: true });
});
