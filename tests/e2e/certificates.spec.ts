// The Certificates page end to end, against a real `portico serve` with HTTPS on. The trust
// stores it reports are this machine's real ones, so the test never trusts the CA for real:
// Trust and Remove trust are answered by the browser (Playwright routes) with what the engine
// says when it cannot change a store, to check the message and command the page shows.
// Rotation runs for real: it only moves trust when the old root was trusted somewhere, which
// a fresh CA is not (checked first).
import fs from "node:fs";
import http from "node:http";
import { expect, test } from "@playwright/test";
import { screenshot, startPortico, type Stack } from "./harness.ts";

interface CaReport {
  name: string;
  path: string;
  sha256: string;
  expires: number;
  suffixes: string[];
  stores: { store: { kind: string; profile?: string }; state: string; location: string; note: string | null }[];
}

interface Status {
  listeners: { http: string[]; https: string[] };
  /** Absent from engines built before the field existed. */
  network_addresses?: string[];
}

const colons = (hex: string) => (hex.match(/.{2}/g) ?? []).join(":");
const storeKey = (store: { kind: string; profile?: string }) =>
  store.kind === "firefox" ? `firefox:${store.profile ?? ""}` : store.kind;

/** GET `path` from the proxy on 127.0.0.1:`port` with `Host: host`; status, headers, body. */
function getFromProxy(port: number, host: string, path: string) {
  return new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, headers: { host }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body: Buffer.concat(chunks) });
      });
    });
    req.on("timeout", () => req.destroy(new Error("proxy request timed out")));
    req.on("error", reject);
  });
}

test.describe("with HTTPS on", () => {
  let stack: Stack;

  test.beforeAll(async () => {
    stack = await startPortico([], { https: true });
  });
  test.afterAll(async () => {
    await stack.stop();
  });

  test("shows the CA, its stores, the download and the phone QR; trust problems show the command to run", async ({ page }) => {
    test.info().annotations.push({ type: "portico stderr", description: stack.log() });
    const ca = await stack.api<CaReport>("GET", "/api/v1/ca");
    const status = await stack.api<Status>("GET", "/api/v1/status");

    await page.goto(stack.loginUrl);
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Certificates" }).click();
    await expect(page).toHaveURL(/#\/certificates$/);
    await expect(page.getByRole("heading", { level: 1, name: "Certificates" })).toBeVisible();
    await expect(page.getByTestId("https-off")).toHaveCount(0);

    // The CA: name, grouped fingerprint, expiry in days, suffixes, file.
    await expect(page.getByRole("heading", { level: 2, name: ca.name })).toBeVisible();
    const fingerprint = colons(ca.sha256);
    await expect(page.getByLabel(`SHA-256 fingerprint ${fingerprint}`)).toBeVisible();
    const days = Math.floor((ca.expires * 1000 - Date.now()) / 86_400_000);
    const rootExpiry = page.getByTestId("root-expiry");
    await expect(rootExpiry).toContainText(`in ${days.toLocaleString("en-US")} days`);
    await expect(rootExpiry.locator("time")).toHaveAttribute("datetime", new Date(ca.expires * 1000).toISOString().slice(0, 10));
    await expect(page.getByTestId("intermediate-expiry")).toContainText("renewed automatically");
    const suffixes = page.getByRole("list", { name: "Suffixes the CA signs for" });
    for (const suffix of ca.suffixes) await expect(suffixes).toContainText(suffix);
    await expect(page.getByText(ca.path, { exact: true })).toBeVisible();

    // Copying the fingerprint puts the grouped form on the clipboard.
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.getByRole("button", { name: "Copy the SHA-256 fingerprint" }).click();
    await expect(page.getByRole("button", { name: "Copy the SHA-256 fingerprint" })).toHaveText("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(fingerprint);

    // Every store the engine reports, with its state.
    expect(ca.stores.length).toBeGreaterThan(0);
    for (const row of ca.stores) {
      await expect(page.locator(`li.store[data-store="${storeKey(row.store)}"]`).first()).toHaveAttribute("data-state", row.state);
    }
    // A store that is reported only (Java, Node) shows the command its note gives.
    const manual = ca.stores.find((row) => row.state === "report_only" && row.note?.includes(": "));
    if (manual) {
      await expect(page.locator(`li.store[data-store="${storeKey(manual.store)}"] .command code`).first()).toBeVisible();
    }

    // The download link serves the PEM.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download CA certificate (.pem)" }).click(),
    ]);
    const file = await download.path();
    const pem = fs.readFileSync(file, "utf8");
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n?$/);
    expect(pem).toBe(fs.readFileSync(ca.path, "utf8"));

    // The phone section: the HTTP listener is on loopback only, so the QR shows where the CA
    // will be and the page says how to open the listener up, on the same port.
    const phone = page.getByRole("region", { name: "On a phone or tablet" });
    await expect(phone).toContainText("A phone cannot reach this yet");
    await expect(phone.locator(".command code")).toHaveText(`portico serve --http 0.0.0.0:${stack.httpPort}`);
    const address = status.network_addresses?.[0];
    if (status.network_addresses === undefined) {
      await expect(phone).toContainText("This Portico does not report the machine's network addresses");
    } else if (address === undefined) {
      await expect(phone).toContainText("This machine has no network address right now");
    } else {
      const host = address.includes(":") ? `[${address}]` : address;
      const url = `http://${host}:${stack.httpPort}/ca.crt`;
      const qr = phone.getByRole("img", { name: `QR code of ${url}` });
      await expect(qr).toBeVisible();
      await expect(qr).toHaveAttribute("src", /^data:image\/svg\+xml/);
      await expect(phone.getByTestId("phone-url")).toHaveText(url);
    }
    await expect(phone).toContainText("Certificate Trust Settings");
    await expect(phone).toContainText("CA certificate");
    // What the phone downloads: the proxy serves the CA as DER without a login.
    const der = await getFromProxy(stack.httpPort, "portico.localhost", "/ca.crt");
    expect(der.status).toBe(200);
    expect(der.type).toBe("application/x-x509-ca-cert");
    expect(der.body[0]).toBe(0x30);

    await screenshot(page, "certificates");

    // Trust: the engine could not change the system store (answered here, see the file's
    // comment); the page shows its message and the command, copyable.
    const sudo =
      "sudo install -D -m 0644 /tmp/ca/root.pem /usr/local/share/ca-certificates/portico-0123.crt && sudo update-ca-certificates";
    let posted = 0;
    await page.route("**/api/v1/ca/trust", async (route) => {
      posted += 1;
      await route.fulfill({
        status: 200,
        contentType: "application/json",
        body: JSON.stringify([
          {
            store: { kind: "system" },
            location: "/usr/local/share/ca-certificates",
            result: "failed",
            detail: `this needs administrator rights; run by hand: ${sudo}`,
          },
          { store: { kind: "chromium" }, location: "/home/u/.pki/nssdb", result: "added", detail: null },
        ]),
      });
    });
    await page.getByRole("button", { name: "Trust the CA" }).click();
    const result = page.getByRole("status").filter({ hasText: "could not be changed" });
    await expect(result).toContainText("1 store could not be changed");
    const failed = result.locator('li[data-result="failed"]');
    await expect(failed).toContainText("this needs administrator rights");
    await expect(failed.locator(".command code")).toHaveText(sudo);
    await expect(result.locator('li[data-result="added"]')).toContainText("Added");
    expect(posted).toBe(1);
    await screenshot(page, "certificates-trust-failed");

    // Remove trust asks first; Cancel sends nothing.
    let untrusts = 0;
    await page.route("**/api/v1/ca/untrust", async (route) => {
      untrusts += 1;
      await route.fulfill({
        status: 503,
        contentType: "application/problem+json",
        body: JSON.stringify({
          type: "about:blank",
          title: "Service Unavailable",
          status: 503,
          detail: "This engine was started without access to trust stores; run `portico ca untrust` instead.",
        }),
      });
    });
    await page.getByRole("button", { name: "Remove trust…" }).click();
    const dialog = page.getByRole("dialog", { name: "Remove trust in Portico's CA?" });
    await expect(dialog).toBeVisible();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(dialog).toBeHidden();
    expect(untrusts).toBe(0);
    await page.getByRole("button", { name: "Remove trust…" }).click();
    await dialog.getByRole("button", { name: "Remove trust" }).click();
    const alert = page.getByRole("alert").filter({ hasText: "Removing trust failed" });
    await expect(alert).toContainText("started without access to trust stores");
    await expect(alert.locator(".command code")).toHaveText("portico ca untrust");
    expect(untrusts).toBe(1);
    await page.unrouteAll();

    // Rotation, for real: safe because no store trusts this fresh CA (so no store changes);
    // if one ever did, stop here rather than change it.
    const before = await stack.api<CaReport>("GET", "/api/v1/ca");
    expect(
      before.stores.filter((row) => row.state === "trusted"),
      "a store on this machine trusts the test CA; rotating would change it",
    ).toEqual([]);
    await page.getByRole("button", { name: "Rotate CA…" }).click();
    const rotate = page.getByRole("dialog", { name: "Rotate Portico's CA?" });
    const confirm = rotate.getByRole("button", { name: "Rotate the CA" });
    await expect(confirm).toBeDisabled();
    await rotate.getByLabel("Type rotate to confirm").fill("rotate");
    await confirm.click();
    const report = page.getByRole("status").filter({ hasText: "Rotated: the new CA is" });
    await expect(report).toBeVisible({ timeout: 20_000 });
    await expect(report).toContainText("no trust store was changed");
    const after = await stack.api<CaReport>("GET", "/api/v1/ca");
    expect(after.sha256).not.toBe(before.sha256);
    await expect(report).toContainText(colons(after.sha256));
    await expect(page.getByLabel(`SHA-256 fingerprint ${colons(after.sha256)}`)).toBeVisible();
  });
});

test.describe("with the HTTP listener open to the network", () => {
  let stack: Stack;

  test.beforeAll(async () => {
    stack = await startPortico();
  });
  test.afterAll(async () => {
    await stack.stop();
  });

  // The tests stay on loopback, so the engine's status is answered here as if `serve` had
  // been started with `--http 0.0.0.0:PORT` on a machine at 192.168.1.20.
  test("shows a QR of the network address with no warning", async ({ page }) => {
    await page.route("**/api/v1/status", async (route) => {
      const response = await route.fetch();
      const status = (await response.json()) as Status;
      status.listeners.http = [`0.0.0.0:${stack.httpPort}`];
      status.network_addresses = ["192.168.1.20", "fd00::20"];
      await route.fulfill({ response, json: status });
    });
    await page.goto(stack.loginUrl);
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Certificates" }).click();
    const phone = page.getByRole("region", { name: "On a phone or tablet" });
    const url = `http://192.168.1.20:${stack.httpPort}/ca.crt`;
    await expect(phone.getByRole("img", { name: `QR code of ${url}` })).toBeVisible();
    await expect(phone.getByTestId("phone-url")).toHaveText(url);
    await expect(phone).toContainText("Scan the code");
    await expect(phone).not.toContainText("cannot reach");
    await screenshot(page, "certificates-phone");
  });
});

test.describe("with HTTPS off", () => {
  let stack: Stack;

  test.beforeAll(async () => {
    stack = await startPortico();
  });
  test.afterAll(async () => {
    await stack.stop();
  });

  test("says HTTPS is off and still offers the CA", async ({ page }) => {
    await page.goto(stack.loginUrl);
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Certificates" }).click();
    await expect(page.getByTestId("https-off")).toContainText("HTTPS is off");
    await expect(page.getByRole("link", { name: "Download CA certificate (.pem)" })).toHaveAttribute("href", "/api/v1/ca.pem");
    await screenshot(page, "certificates-https-off");
  });
});
