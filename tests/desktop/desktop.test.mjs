// The desktop app end to end, driven through WebDriver (webdriverio → tauri-driver →
// WebKitWebDriver) under a virtual display (Xvfb) with its own session bus (the tray needs
// one), on a fresh data dir whose listeners are all on free loopback ports:
//
//   1. the window opens on the Routes page (#/routes);
//   2. the shell's commands reach the page: `desktop_info` answers with this data dir, a
//      command the window was not granted (closing it through the window API) is refused, and
//      the route editor's folder field offers the native folder picker, which opens and
//      closes (cancelled, the field unchanged);
//   3. a route added in the route editor (desk.localhost → a Python upstream) is stored, as
//      the admin API says;
//   4. a request through the proxy gets the upstream's answer and shows in the Traffic page;
//   5. closing the window the way a user does (WM_DELETE_WINDOW) hides it and the proxy keeps
//      serving;
//   6. a second launch hands over to the first (which shows its window again) and exits;
//   7. the window's screenshot lands in tests/desktop/screenshots/desktop.png and is drawn;
//   8. allowing ports 80/443 (a stand-in `pkexec` that succeeds) restarts the engine, and the
//      window follows it to its Settings page, where the shell's commands still work.
//
// Loopback only; every wait is bounded and the whole run is killed after 180 s. Run it with
// `make desktop-test` (which builds first), or `node tests/desktop/desktop.test.mjs` after
// `cargo build --locked --workspace --all-targets`.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const HOST = "desk.localhost";
const UPSTREAM_BODY = "hello from the desktop upstream";
const TITLE = "Portico";
/** The whole run, display and bus included, is killed after this long. */
const OUTER_LIMIT_S = 180;
/** The test gives up (and cleans up) a little before that. */
const INNER_LIMIT_MS = 170_000;

// Re-run inside a virtual display and a session bus of our own. The bus's chatter (its fd
// limit, the accessibility services it starts, which print without a newline) is dropped;
// everything else passes.
if (!process.env.PORTICO_DESKTOP_TEST_INSIDE) {
  const run = spawn(
    "timeout",
    [
      String(OUTER_LIMIT_S),
      "xvfb-run",
      "-a",
      "-s",
      "-screen 0 1400x950x24",
      "dbus-run-session",
      "--",
      process.execPath,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORTICO_DESKTOP_TEST_INSIDE: "1" } },
  );
  const noise = /^dbus-daemon\[\d+\]: .*|SpiRegistry daemon is running with well-known name - org\.a11y\.atspi\.Registry/g;
  for (const [input, output] of [
    [run.stdout, process.stdout],
    [run.stderr, process.stderr],
  ]) {
    readline.createInterface({ input }).on("line", (line) => {
      const kept = line.replace(noise, "");
      if (kept.trim() || !line.trim()) output.write(`${kept}\n`);
    });
  }
  run.on("error", (err) => {
    console.error(`desktop test FAILED: cannot start timeout/xvfb-run/dbus-run-session: ${err.message}`);
    process.exit(1);
  });
  run.on("close", (code, signal) => {
    if (code === 124) console.error(`desktop test FAILED: killed after ${OUTER_LIMIT_S} s`);
    process.exit(code ?? (signal ? 1 : 0));
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => run.kill("SIGTERM"));
  // Module evaluation stops here in the outer process; the exit handler above ends it.
  await new Promise(() => {});
}

const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), ".cache/portico/target");
const APP = path.join(TARGET, "debug/portico-desktop");
const CLI = path.join(TARGET, "debug/portico");
const SHOTS = path.join(HERE, "screenshots");
const SHOT = path.join(SHOTS, "desktop.png");
const started = Date.now();

const work = fs.mkdtempSync(path.join(os.tmpdir(), "portico-desktop-"));
const data = path.join(work, "data");
const driverLog = path.join(work, "driver.log");
const appLog = path.join(work, "app.log");
/** Everything we started, stopped in reverse order on the way out. */
const children = [];
let browser;
let appPid;
let finished = false;

// ---------------------------------------------------------------------------------------------
// Failing, cleaning up.

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function readLog(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "(none)";
  }
}

function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped by its parent) is not alive.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function cleanup() {
  if (browser) {
    // Ends the WebDriver session: WebKitWebDriver stops the app it launched.
    await Promise.race([browser.deleteSession().catch(() => {}), sleep(5_000)]);
    browser = undefined;
  }
  for (const child of children.reverse()) await stop(child);
  // The app, should it outlive its drivers (or have started without a session).
  try {
    appPid ??= findApp();
  } catch {
    // no app binary, no app
  }
  if (alive(appPid)) {
    process.kill(appPid, "SIGTERM");
    for (let i = 0; i < 50 && alive(appPid); i++) await sleep(100);
    if (alive(appPid)) process.kill(appPid, "SIGKILL");
  }
  // WebKit's helper processes may still be writing their caches for a moment.
  fs.rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  if (await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)])) return;
  child.kill("SIGKILL");
  await Promise.race([exited, sleep(2_000)]);
}

async function finish(error) {
  if (finished) return;
  finished = true;
  if (error) {
    const message = error instanceof Failure ? error.message : (error?.stack ?? String(error));
    console.error(`desktop test FAILED: ${message}`);
    if (browser) {
      const page = await Promise.race([
        browser
          .execute(() => `${location.href}\n${document.body?.innerText ?? "(no body)"}`)
          .catch((err) => `(cannot read the page: ${err.message})`),
        sleep(5_000).then(() => "(the page did not answer)"),
      ]);
      console.error(`--- the window's page: ${page.slice(0, 2_000)}`);
    }
    console.error("--- app output:");
    console.error(readLog(appLog));
    console.error("--- tauri-driver output:");
    console.error(readLog(driverLog));
  }
  await cleanup().catch((err) => console.error(`cleaning up: ${err}`));
  process.exit(error ? 1 : 0);
}

process.on("SIGTERM", () => void finish(new Failure("stopped (SIGTERM)")));
process.on("SIGINT", () => void finish(new Failure("interrupted")));
setTimeout(() => void finish(new Failure(`gave up after ${INNER_LIMIT_MS / 1000} s`)), INNER_LIMIT_MS).unref();

// ---------------------------------------------------------------------------------------------
// Small tools.

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `probe` every `every` ms until it returns something truthy; fail with `what` after `ms`. */
async function until(probe, ms, what, every = 200) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const said = typeof what === "function" ? await what().catch((err) => `(${err.message})`) : what;
      fail(`${said} (waited ${ms / 1000} s)${last ? `; last error: ${last.message}` : ""}`);
    }
    await sleep(every);
  }
}

/** A loopback port nothing listens on right now (bound, then released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(1_000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

/** An HTTP request, bounded; the status and the body as text. */
function request(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, timeout: 10_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode, body: text }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Ask for http://desk.localhost`target` through the HTTP listener `listener`: the upstream's page. */
async function throughProxy(listener, target, when) {
  let reply;
  try {
    reply = await request(`http://${listener}${target}`, { headers: { host: HOST } });
  } catch (err) {
    fail(`the proxy (${listener}) did not answer ${when}: ${err.message}`);
  }
  if (reply.status !== 200 || reply.body.trim() !== UPSTREAM_BODY) {
    fail(`the proxy answered ${reply.status} '${reply.body.trim().slice(0, 200)}' ${when}`);
  }
}

/** The command `name`: on PATH, or the cached install beside the build cache. */
function tool(name, cached) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  if (cached && fs.existsSync(cached)) return cached;
  fail(`${name} is missing: run scripts/install-deps.sh`);
}

/** python3-xlib is Debian's, installed for Debian's own Python. */
const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

function x11(command, title = TITLE) {
  return execFileSync(PYTHON, [path.join(HERE, "x11.py"), command, title], { encoding: "utf8", timeout: 10_000 }).trim();
}

function x11WindowState(title) {
  return x11("state", title);
}

function x11Close(title) {
  return Number(x11("close", title));
}

/** The X window titled "Portico": "viewable", "unmapped" or "absent". */
function windowState() {
  return x11("state");
}

/** Close the window as a window manager does (WM_DELETE_WINDOW); how many windows were asked. */
function closeWindow() {
  return Number(x11("close"));
}

/** The pid of the app tauri-driver launched: the process running APP on our data dir. */
function findApp() {
  const exe = fs.realpathSync(APP);
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/exe`) !== exe) continue;
      const env = fs.readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (env.includes(`PORTICO_DATA_DIR=${data}`)) return Number(entry);
    } catch {
      // gone, or not ours
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The page, by role and accessible name (as the Playwright tests find things), in the webview.

/**
 * Runs in the page: the visible elements of ARIA `role` within `scope` whose accessible name
 * is `name` (a string: exactly; `{ prefix }` or `{ contains }`; null: any), and for headings
 * of `level` when given. A small subset of the ARIA rules, enough for Portico's markup:
 * implicit roles of the usual elements, aria-label, aria-labelledby, <label for> and wrapping
 * labels, then the text.
 */
function queryByRole(role, name, scope, level) {
  const selectors = {
    button: 'button, [role="button"], input[type="submit"], input[type="button"]',
    link: 'a[href], [role="link"]',
    heading: 'h1, h2, h3, h4, h5, h6, [role="heading"]',
    textbox: 'input:not([type]):not([role]), input[type="text"]:not([role]), input[type="url"], textarea, [role="textbox"]',
    switch: '[role="switch"]',
    radio: 'input[type="radio"], [role="radio"]',
    dialog: 'dialog, [role="dialog"], [role="alertdialog"]',
    navigation: 'nav, [role="navigation"]',
    row: 'tr, [role="row"]',
    gridcell: 'td, [role="gridcell"], [role="cell"]',
  };
  const text = (el) => (el.textContent ?? "").replace(/\s+/g, " ").trim();
  const nameOf = (el) => {
    const label = el.getAttribute("aria-label");
    if (label) return label.trim();
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      return by
        .split(/\s+/)
        .map((id) => document.getElementById(id))
        .filter(Boolean)
        .map(text)
        .join(" ");
    }
    if (["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)) {
      const labels = el.labels ? [...el.labels] : [];
      if (labels.length > 0) return labels.map(text).join(" ");
      return (el.getAttribute("title") ?? el.getAttribute("placeholder") ?? "").trim();
    }
    return text(el);
  };
  const visible = (el) =>
    !el.closest("[inert], [hidden], [aria-hidden='true']") &&
    el.getClientRects().length > 0 &&
    getComputedStyle(el).visibility !== "hidden";
  const fits = (actual) =>
    name === null ||
    (typeof name === "string"
      ? actual === name
      : name.prefix !== undefined
        ? actual.startsWith(name.prefix)
        : actual.includes(name.contains));
  const levelOf = (el) => Number(el.getAttribute("aria-level") ?? /^H(\d)$/.exec(el.tagName)?.[1]);
  return [...(scope ?? document).querySelectorAll(selectors[role])].filter(
    (el) => visible(el) && fits(nameOf(el)) && (level === null || levelOf(el) === level),
  );
}

function describe(role, name, level) {
  return `${role}${level ? ` (level ${level})` : ""} ${typeof name === "string" ? `"${name}"` : JSON.stringify(name)}`;
}

/** The elements (webdriverio) of `role` named `name` in `within` (an element) or the page. */
async function allByRole(role, name, { within, level } = {}) {
  const refs = await browser.execute(queryByRole, role, name ?? null, within ?? null, level ?? null);
  return Promise.all(refs.map((ref) => browser.$(ref)));
}

/** Wait (bounded) for exactly one `role` named `name`, and return it. */
async function byRole(role, name, { within, level, timeout = 10_000 } = {}) {
  let count = 0;
  return until(
    async () => {
      const found = await allByRole(role, name, { within, level });
      count = found.length;
      return found.length === 1 ? found[0] : undefined;
    },
    timeout,
    async () => `expected one ${describe(role, name, level)}, found ${count}, on ${await browser.getUrl()}`,
  );
}

/** Wait (bounded) until no `role` named `name` is visible. */
async function gone(role, name, { timeout = 10_000 } = {}) {
  await until(async () => (await allByRole(role, name)).length === 0, timeout, `${describe(role, name)} is still showing`);
}

async function hash() {
  return new URL(await browser.getUrl()).hash;
}

// ---------------------------------------------------------------------------------------------
// The test.

async function main() {
  for (const bin of [APP, CLI]) {
    if (!fs.existsSync(bin)) fail(`${bin} is missing: run 'cargo build --locked --workspace --all-targets'`);
  }
  const tauriDriver = tool("tauri-driver", path.join(os.homedir(), ".cache/portico/tools/bin/tauri-driver"));
  const webkitDriver = tool("WebKitWebDriver");

  // Every listener on a free loopback port, through the settings the app reads at start.
  for (const key of ["http_listen", "https_listen", "admin_listen"]) {
    execFileSync(CLI, ["--data-dir", data, "settings", "set", key, "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
  }
  // The app's environment: our data dir, and its own config/cache folders (the window-state
  // plugin and WebKit write there) so the user's are left alone.
  // Route names go into a hosts file of its own, never the machine's /etc/hosts.
  const env = {
    ...process.env,
    PORTICO_DATA_DIR: data,
    PORTICO_LOG: process.env.PORTICO_LOG ?? "warn",
    PORTICO_HOSTS_FILE: path.join(work, "hosts"),
  };
  // The app finds `pkexec` on its PATH: a stand-in that records its arguments and succeeds
  // (the real one shows a password dialog, and would change this machine's sysctl).
  const fakeBin = path.join(work, "bin");
  const pkexecArgs = path.join(work, "pkexec.args");
  fs.mkdirSync(fakeBin);
  fs.writeFileSync(path.join(fakeBin, "pkexec"), `#!/bin/sh\nprintf '%s\\n' "$@" > '${pkexecArgs}'\nexit 0\n`, { mode: 0o755 });
  env.PATH = `${fakeBin}${path.delimiter}${process.env.PATH ?? ""}`;
  for (const [key, dir] of [
    ["XDG_CONFIG_HOME", "config"],
    ["XDG_DATA_HOME", "share"],
    ["XDG_CACHE_HOME", "cache"],
    ["XDG_STATE_HOME", "state"],
  ]) {
    env[key] = path.join(work, dir);
    fs.mkdirSync(env[key], { recursive: true });
  }

  // An upstream: Python's static server on a free port.
  const site = path.join(work, "site");
  fs.mkdirSync(site);
  fs.writeFileSync(path.join(site, "index.html"), `${UPSTREAM_BODY}\n`);
  const upstream = spawn("python3", ["-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", site], {
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(upstream);
  let upstreamOut = "";
  upstream.stdout.on("data", (chunk) => (upstreamOut += chunk));
  upstream.stderr.on("data", () => {});
  const upstreamPort = await until(
    () => {
      if (upstream.exitCode !== null) fail(`the upstream exited: ${upstreamOut}`);
      return /port (\d+)/.exec(upstreamOut)?.[1];
    },
    10_000,
    "the upstream did not start",
    100,
  );

  // tauri-driver (and the WebKitWebDriver it runs) on free ports. The app they launch gets
  // their environment; it is started through a wrapper that keeps its output (the `UI:` line,
  // its log) in app.log for the failure messages.
  const wrapper = path.join(work, "portico-desktop.sh");
  const quote = (text) => `'${text.replaceAll("'", "'\\''")}'`;
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${quote(APP)} "$@" >>${quote(appLog)} 2>&1\n`, { mode: 0o755 });
  const [driverPort, nativePort] = [await freePort(), await freePort()];
  const log = fs.openSync(driverLog, "a");
  const driver = spawn(
    tauriDriver,
    ["--port", String(driverPort), "--native-port", String(nativePort), "--native-driver", webkitDriver],
    { env, stdio: ["ignore", log, log] },
  );
  children.push(driver);
  await until(
    async () => (driver.exitCode !== null ? fail(`tauri-driver exited (${driver.exitCode})`) : canConnect(driverPort)),
    20_000,
    "tauri-driver is not listening",
  );
  // tauri-driver starts WebKitWebDriver itself and forwards the new-session request to it;
  // on a busy machine that driver can still be starting, and the request fails to connect.
  await until(
    async () => (driver.exitCode !== null ? fail(`tauri-driver exited (${driver.exitCode})`) : canConnect(nativePort)),
    20_000,
    "WebKitWebDriver (started by tauri-driver) is not listening",
  );

  browser = await remote({
    hostname: "127.0.0.1",
    port: driverPort,
    logLevel: "silent",
    connectionRetryTimeout: 60_000,
    connectionRetryCount: 0,
    capabilities: {
      browserName: "wry",
      "tauri:options": { application: wrapper },
      "wdio:enforceWebDriverClassic": true,
    },
  }).catch((err) => fail(`no WebDriver session with the app: ${err.message}`));
  appPid = await until(findApp, 10_000, "the app's process is not running");
  const ui = await until(() => /^UI: (http:\/\/\S+)/m.exec(readLog(appLog))?.[1], 30_000, "the app printed no UI: line");

  // 1. The window opens on the Routes page (after the one-time login link).
  await until(
    async () => {
      const url = new URL(await browser.getUrl());
      return url.pathname !== "/login" && (await allByRole("navigation", "Pages")).length === 1;
    },
    30_000,
    async () => `the window did not log in and show the web UI: it shows ${await browser.getUrl()}`,
  );
  const admin = new URL(await browser.getUrl()).origin;
  if (new URL(ui).origin !== admin) fail(`the window shows ${admin}, the app printed ${ui}`);
  const opened = await browser.getUrl();
  // The hash router settles within a moment; the window must open there, not be sent there.
  await until(async () => (await hash()) === "#/routes", 3_000, `the window opened on ${opened}, not on #/routes`);
  const nav = await byRole("navigation", "Pages");
  const routesLink = await byRole("link", "Routes", { within: nav });
  if ((await routesLink.getAttribute("aria-current")) !== "page") fail("the Routes link is not the current page");
  await byRole("heading", "Routes", { level: 1 });
  await byRole("heading", "Routes", { level: 2 });
  await byRole("button", "Add route");
  if (!(await browser.execute(() => document.body.innerText.includes("No routes yet.")))) {
    fail("the Routes page of a fresh data dir does not say 'No routes yet.'");
  }

  // 2. The shell's commands, granted to the admin origin only, and only those.
  // A refusal may come back as the promise's rejection or, through WebKit's automation, as
  // the script's own error: either is "not allowed".
  const invoke = (command, args) =>
    browser
      .executeAsync(
        (cmd, a, done) => {
          window.__TAURI_INTERNALS__.invoke(cmd, a).then(
            (value) => done({ ok: true, value }),
            (err) => done({ ok: false, error: String(err) }),
          );
        },
        command,
        args ?? {},
      )
      .catch((err) => ({ ok: false, error: err.message }));
  const info = await invoke("desktop_info");
  if (!info.ok) fail(`desktop_info was refused to the window: ${info.error}`);
  if (info.value.data_dir !== data) fail(`desktop_info names the data dir ${info.value.data_dir}, not ${data}`);
  if (typeof info.value.low_ports?.command !== "string") fail(`desktop_info has no low-ports command: ${JSON.stringify(info.value)}`);
  const close = await invoke("plugin:window|close", { label: "main" });
  if (close.ok || !/not allowed/.test(close.error)) {
    fail(`the window's close through the window plugin was not refused as ungranted: ${JSON.stringify(close)}`);
  }
  if (windowState() !== "viewable") fail("the refused close closed the window anyway");

  await (await byRole("button", "Add route")).click();
  const dialog = await byRole("dialog", "Add route");
  // A static route's folder: the native picker opens; cancelling it leaves the field alone.
  await (await byRole("radio", { prefix: "Folder" }, { within: dialog })).click();
  const folder = await byRole("textbox", "Folder (absolute path)", { within: dialog });
  await folder.setValue("/srv/site");
  await (await byRole("button", "Choose…", { within: dialog })).click();
  const PICKER = "Choose the folder to serve";
  await until(() => x11WindowState(PICKER) === "viewable", 10_000, "the folder picker did not open");
  if (x11Close(PICKER) < 1) fail("found no folder picker window to cancel");
  await until(() => x11WindowState(PICKER) !== "viewable", 10_000, "the folder picker did not close when cancelled");
  await sleep(300);
  if ((await folder.getValue()) !== "/srv/site") fail(`cancelling the picker changed the folder to '${await folder.getValue()}'`);
  await (await byRole("radio", { prefix: "Dev server" }, { within: dialog })).click();

  // 3. A route added in the route editor.
  await (await byRole("textbox", "Host", { within: dialog })).setValue(HOST);
  await (await byRole("textbox", "Upstream", { within: dialog })).setValue(upstreamPort);
  // Plain HTTP is what this test sends: no redirect to the HTTPS listener.
  const redirect = await byRole("switch", { prefix: "Redirect plain HTTP to HTTPS" }, { within: dialog });
  if (await redirect.isSelected()) await redirect.click();
  if (await redirect.isSelected()) fail("the 'Redirect plain HTTP to HTTPS' switch did not turn off");
  await (await byRole("button", "Add route", { within: dialog })).click();
  await gone("dialog", "Add route");
  // Its row: a link to the route, the upstream, and switched on.
  const routeRow = await byRole("row", { contains: `localhost:${upstreamPort}` });
  await byRole("link", HOST, { within: routeRow });
  if (!(await (await byRole("switch", `Enabled for ${HOST}`, { within: routeRow })).isSelected())) {
    fail(`the new route ${HOST} is not enabled`);
  }

  const api = async (apiPath, origin = admin) => {
    const token = fs.readFileSync(path.join(data, "admin-token"), "utf8").trim();
    const reply = await request(`${origin}${apiPath}`, { headers: { authorization: `Bearer ${token}` } });
    if (reply.status !== 200) fail(`GET ${apiPath} answered ${reply.status}: ${reply.body.slice(0, 300)}`);
    return JSON.parse(reply.body);
  };
  const routes = await api("/api/v1/routes");
  const route = routes.find((r) => r.host === HOST);
  if (!route) fail(`the admin API has no route for ${HOST}: ${JSON.stringify(routes)}`);
  if (!route.upstreams.some((u) => u.endsWith(`:${upstreamPort}`))) {
    fail(`the admin API's route for ${HOST} goes to ${JSON.stringify(route.upstreams)}, not port ${upstreamPort}`);
  }

  // 4. Through the proxy, and in the Traffic page.
  const listener = (await api("/api/v1/status")).listeners?.http?.[0];
  if (!listener) fail("the status has no HTTP listener");
  await throughProxy(listener, "/?desktop-test=open", "with the window open");
  await (await byRole("link", "Traffic", { within: await byRole("navigation", "Pages") })).click();
  await until(async () => (await hash()) === "#/traffic", 5_000, "the Traffic link did not open #/traffic");
  const row = await byRole("row", { contains: "/?desktop-test=open" }, { timeout: 15_000 });
  await byRole("gridcell", HOST, { within: row });

  // 5. Closing the window as a user does hides it; Portico keeps serving.
  if (windowState() !== "viewable") fail(`the window is not showing before the close (${windowState()})`);
  if (closeWindow() < 1) fail("found no mapped window titled Portico to close");
  await until(() => windowState() === "unmapped", 10_000, "the window is still mapped after WM_DELETE_WINDOW");
  if (!alive(appPid)) fail("the app exited when its window was closed");
  await throughProxy(listener, "/?desktop-test=closed", "after the window was closed");

  // 6. A second launch hands over to the first and exits; the first shows its window again.
  const second = spawnSync(APP, [], { env, encoding: "utf8", timeout: 20_000, killSignal: "SIGKILL" });
  const secondOut = `${second.stdout ?? ""}${second.stderr ?? ""}`.trim();
  if (second.error || second.status !== 0) {
    const how = second.error?.message ?? `status ${second.status}, signal ${second.signal}`;
    fail(`the second launch did not exit cleanly within 20 s (${how}): ${secondOut}`);
  }
  if (/^UI: /m.test(second.stdout)) fail(`the second launch started its own engine: ${secondOut}`);
  await until(() => windowState() === "viewable", 10_000, "the second launch did not show the first app's window again");
  if (!alive(appPid)) fail("the first app exited after the second launch");
  await throughProxy(listener, "/?desktop-test=second-launch", "after the second launch");

  // 7. A screenshot of the window showing the Traffic page with the requests (the ones sent
  // while it was hidden, too): a drawn page has many colours, an empty or black screen a handful.
  await byRole("row", { contains: "/?desktop-test=closed" });
  await byRole("row", { contains: "/?desktop-test=second-launch" });
  await sleep(1_000);
  fs.mkdirSync(SHOTS, { recursive: true });
  execFileSync("import", ["-window", "root", SHOT], { timeout: 20_000 });
  const colours = Number(execFileSync("identify", ["-format", "%k", SHOT], { encoding: "utf8", timeout: 20_000 }));
  if (!(colours > 50)) fail(`the screen looks empty (${colours} colours in ${SHOT})`);

  // 8. Allowing ports 80 and 443: the prompt (the stand-in pkexec) succeeds, so the shell
  // restarts the engine (here on new free ports: the settings pin port 0) and the window
  // follows it to the Settings page, where the shell's commands work on the new origin.
  const allowed = await invoke("allow_low_ports");
  if (!allowed.ok || allowed.value.result !== "done") fail(`allow_low_ports did not succeed: ${JSON.stringify(allowed)}`);
  const asked = readLog(pkexecArgs);
  if (!asked.startsWith("/bin/sh\n-c\n") || !asked.includes("net.ipv4.ip_unprivileged_port_start=80")) {
    fail(`the prompt ran something else: ${asked}`);
  }
  const moved = await until(
    async () => {
      const url = new URL(await browser.getUrl());
      return url.origin !== admin && url.hash === "#/settings" && (await allByRole("navigation", "Pages")).length === 1 ? url.origin : undefined;
    },
    30_000,
    async () => `the window did not follow the restarted engine to its Settings page: it shows ${await browser.getUrl()}`,
  );
  await byRole("heading", "Settings", { level: 1 });
  const again = await invoke("desktop_info");
  if (!again.ok) fail(`desktop_info was refused on the restarted engine's origin: ${again.error}`);
  if (await canConnect(Number(new URL(admin).port))) fail(`the old engine's admin listener (${admin}) still answers`);
  const newListener = (await api("/api/v1/status", moved)).listeners?.http?.[0];
  if (!newListener || newListener === listener) fail(`the restarted engine has no new HTTP listener (${newListener})`);
  await throughProxy(newListener, "/?desktop-test=restarted", "after the engine restarted");

  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(
    `desktop test passed in ${seconds} s: opened on #/routes, shell commands granted (and only those), folder picker opened and cancelled, ` +
      `route ${HOST} added in the editor and served, ` +
      `shown in Traffic, close hid the window and kept serving, second launch handed over, ` +
      `window drawn (${colours} colours, ${path.relative(ROOT, SHOT)}), allowing ports 80/443 restarted the engine and the window followed`,
  );
}

main().then(
  () => finish(),
  (err) => finish(err),
);
