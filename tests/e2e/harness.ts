// Shared fixtures for the browser end-to-end tests: a real `portico serve` (the debug binary
// from the shared build cache) on free loopback ports with its own data dir, real upstreams
// (Node HTTP servers in folders of their own), and bounded waits. Every spec starts its own
// stack in `beforeAll` so the specs stay independent.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { expect, type Page } from "@playwright/test";

export const TARGET_DIR = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), ".cache/portico/target");
export const PORTICO = path.join(TARGET_DIR, "debug/portico");
/** This checkout's UI build, served with `--ui-dir` whatever checkout compiled the binary. */
export const UI_DIST = path.join(import.meta.dirname, "../../ui/dist");

/** A port nothing listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
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
export async function lineMatching(child: ChildProcess, pattern: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
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

/** GET `urlPath` (default `/`) from 127.0.0.1:`port` with `Host: host`, bounded. */
export async function getThroughProxy(
  port: number,
  host: string,
  urlPath = "/",
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port, path: urlPath, headers: { host: `${host}:${port}` }, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("proxy request timed out")));
    req.on("error", reject);
  });
}

export function stop(child: ChildProcess | undefined): Promise<void> {
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

/** A running `portico serve` with its own data dir under `tmp`. */
export interface Stack {
  tmp: string;
  portico: ChildProcess;
  httpPort: number;
  /** The HTTPS listener's port when started with `{ https: true }`. */
  httpsPort: number | null;
  adminPort: number;
  /** The one-time login link `serve` printed (opening it logs the browser in). */
  loginUrl: string;
  /** Everything `serve` wrote to stderr so far. */
  log: () => string;
  /** `GET` an admin API path with the admin token; the parsed JSON. */
  api: <T>(method: string, apiPath: string, body?: unknown) => Promise<T>;
  stop: () => Promise<void>;
}

export interface StartOptions {
  /** Also listen for HTTPS on a free loopback port (default: plain HTTP only, `--no-https`). */
  https?: boolean;
}

/** Start `portico serve` (plain HTTP proxy only, unless `https`) in a fresh temp dir. */
export async function startPortico(extraArgs: string[] = [], options: StartOptions = {}): Promise<Stack> {
  expect(fs.existsSync(PORTICO), `${PORTICO} is missing: run \`cargo build -p portico\` (make test does)`).toBe(true);
  expect(fs.existsSync(path.join(UI_DIST, "index.html")), "ui/dist is missing: run `make ui`").toBe(true);
  expect(fs.existsSync("/usr/bin/chromium"), "Debian's chromium package is missing (make deps installs it)").toBe(true);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "portico-e2e-"));
  const httpPort = await freePort();
  const adminPort = await freePort();
  const httpsPort = options.https === true ? await freePort() : null;
  const dataDir = path.join(tmp, "data");
  const portico = spawn(
    PORTICO,
    [
      "serve",
      "--data-dir",
      dataDir,
      "--http",
      `127.0.0.1:${httpPort}`,
      ...(httpsPort === null ? ["--no-https"] : ["--https", `127.0.0.1:${httpsPort}`]),
      "--admin",
      `127.0.0.1:${adminPort}`,
      "--ui-dir",
      UI_DIST,
      ...extraArgs,
    ],
    // Route names go into a hosts file of its own, never the machine's /etc/hosts.
    { cwd: tmp, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORTICO_LOG: "warn", PORTICO_HOSTS_FILE: path.join(tmp, "hosts") } },
  );
  let log = "";
  portico.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const ui = await lineMatching(portico, /^UI: (http:\/\/\S+\/login\?code=\S+)/, 30_000, "portico serve");
  const loginUrl = ui[1] ?? "";
  expect(loginUrl).toContain(`127.0.0.1:${adminPort}`);
  const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
  const api = async <T>(method: string, apiPath: string, body?: unknown): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${adminPort}${apiPath}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${apiPath}: ${response.status} ${text}`);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  };
  return {
    tmp,
    portico,
    httpPort,
    httpsPort,
    adminPort,
    loginUrl,
    log: () => log,
    api,
    stop: async () => {
      await stop(portico);
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * Start a Node HTTP server from `source` (a CommonJS script that must print `listening PORT`)
 * in `dir` (created, with a package.json named `name` so discovery can name it).
 */
export async function startUpstream(dir: string, name: string, source: string): Promise<{ child: ChildProcess; port: number }> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, private: true }));
  fs.writeFileSync(path.join(dir, "server.js"), source);
  const child = spawn(process.execPath, ["server.js"], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
  const listening = await lineMatching(child, /^listening (\d+)$/, 10_000, `the ${name} upstream`);
  return { child, port: Number(listening[1]) };
}

/** Save a full-page screenshot as tests/e2e/screenshots/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(path.join(import.meta.dirname, "screenshots"), { recursive: true });
  await page.screenshot({ path: path.join(import.meta.dirname, `screenshots/${name}.png`), fullPage: true });
}
