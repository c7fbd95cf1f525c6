// The Routes page's Export panel: each format downloads a file with a sensible name whose
// content is exactly the admin API's answer, and Copy puts the same text on the clipboard.
import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { startPortico, type Stack } from "./harness.ts";

let stack: Stack;

/** The admin API's answer to `GET apiPath`, as text. */
async function apiText(apiPath: string): Promise<string> {
  const token = fs.readFileSync(path.join(stack.tmp, "data", "admin-token"), "utf8").trim();
  const response = await fetch(`http://127.0.0.1:${stack.adminPort}${apiPath}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  expect(response.status, apiPath).toBe(200);
  return response.text();
}

test.beforeAll(async () => {
  stack = await startPortico();
  await stack.api("POST", "/api/v1/routes", { host: "app.localhost", upstreams: ["5173"] });
  await stack.api("POST", "/api/v1/routes", { host: "api.localhost", path: "/v1", upstreams: ["8000"], strip_prefix: true });
});

test.afterAll(async () => {
  await stack.stop();
});

const FORMATS = [
  { label: "Portico (JSON, for portico import)", query: "", file: "portico-export.json" },
  { label: "Caddyfile", query: "?format=caddyfile", file: "Caddyfile" },
  { label: "nginx", query: "?format=nginx", file: "portico.nginx.conf" },
  { label: "Traefik (file provider, YAML)", query: "?format=traefik", file: "portico-traefik.yml" },
  { label: "Kubernetes Ingress (YAML)", query: "?format=k8s-ingress", file: "portico-ingress.yaml" },
];

test("downloads every format as the API answers it, and copies it", async ({ page, context }) => {
  test.info().annotations.push({ type: "portico stderr", description: stack.log() });
  await page.goto(stack.loginUrl);
  await page.getByRole("link", { name: "Routes", exact: true }).click();
  const panel = page.getByRole("region", { name: "Export" });
  await expect(panel).toBeVisible();

  for (const format of FORMATS) {
    await panel.getByLabel("Format").selectOption({ label: format.label });
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: 10_000 }),
      panel.getByRole("button", { name: "Download" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(format.file);
    const file = path.join(stack.tmp, format.file);
    await download.saveAs(file);
    const expected = await apiText(`/api/v1/export${format.query}`);
    expect(fs.readFileSync(file, "utf8"), format.label).toBe(expected);
    expect(expected).toContain("app.localhost");
    await expect(panel.getByRole("status")).toHaveText(`Saved ${format.file}.`);
  }

  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await panel.getByLabel("Format").selectOption({ label: "Caddyfile" });
  await panel.getByRole("button", { name: "Copy" }).click();
  await expect(panel.getByRole("status")).toHaveText("Copied the Caddyfile export.");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(await apiText("/api/v1/export?format=caddyfile"));
});
