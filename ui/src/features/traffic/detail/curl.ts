// "Copy as curl": the captured request as a POSIX shell command (sh, bash, zsh). The same
// rules as the engine's `GET /api/v1/requests/{id}/curl` (inspect/curl.rs), so what the page
// copies and what the API answers agree for an unedited exchange:
// - headers curl computes (content-length, hop-by-hop ones, a Host equal to the URL's
//   authority, HTTP/2 pseudo-headers) are left to curl; `accept-encoding` becomes
//   `--compressed`; defaults curl would add (user-agent, accept, content-type for a body) are
//   removed with `-H 'name:'` when the original did not send them;
// - a header value with a line break or NUL cannot be sent, so it is left out with a comment;
// - a text body goes inline with `--data-binary`; other bytes are piped through `printf`.
import type { Exchange } from "../../../api/exchange";
import { base64ToBytes, utf8 } from "./bytes";

/** Top-level names that never resolve publicly: such a request went to Portico itself. */
const LOCAL_SUFFIXES = ["test", "internal", "home.arpa", "example", "invalid", "localdomain"];

/** Hop-by-hop headers and the HTTP/2 upgrade ones: they describe the connection. */
const CONNECTION_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/** What `curlCommand` needs of an exchange (the API's `Exchange` has all of it). */
export type CurlSource = Pick<
  Exchange,
  "method" | "scheme" | "host" | "path" | "query" | "version" | "request_headers" | "request_body" | "imported" | "websocket"
>;

/**
 * One shell word: bare when it holds only characters no shell treats specially, otherwise
 * in single quotes, where only `'` itself needs care (`'\''`). Newlines and any Unicode are
 * literal inside single quotes.
 */
export function shellQuote(word: string): string {
  // zsh expands a word starting with `=` to a command's path.
  const bare = word !== "" && !word.startsWith("=") && /^[A-Za-z0-9_\-./:@%+,=]+$/.test(word);
  return bare ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** An HTTP token (RFC 9110 §5.6.2): what a header name may be. */
export function isToken(name: string): boolean {
  return /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name);
}

/** `bytes` as a `printf` format to put in single quotes; printf turns it back byte for byte. */
export function printfFormat(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    if (b === 0x25) out += "%%";
    else if (b === 0x5c) out += "\\\\";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x09) out += "\\t";
    else if (b === 0x27) out += "\\047";
    else if (b >= 0x20 && b <= 0x7e) out += String.fromCharCode(b);
    else out += `\\${b.toString(8).padStart(3, "0")}`;
  }
  return out;
}

/** Control characters (Unicode Cc) other than tab and newline. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_BUT_TAB_NEWLINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex -- likewise
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** The body as a shell word when it pastes safely: UTF-8, no control characters but tab and newline, not `@…`. */
function inlineText(bytes: Uint8Array): string | null {
  const text = utf8(bytes);
  if (text === null || text.startsWith("@") || CONTROL_BUT_TAB_NEWLINE.test(text)) return null;
  return text;
}

/** Text for a one-line comment: control characters escaped as Rust's `escape_default` does. */
function printable(s: string): string {
  return s.replace(CONTROL, (c) => {
    switch (c) {
      case "\t":
        return "\\t";
      case "\r":
        return "\\r";
      case "\n":
        return "\\n";
      default:
        return `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`;
    }
  });
}

function findHeader(headers: string[][], test: (name: string) => boolean): string | undefined {
  for (const [name, value] of headers) {
    if (name !== undefined && test(name)) return value ?? "";
  }
  return undefined;
}

/** The port a `Host` value names: `app.localhost:8443`, `[::1]:8080`. */
function portOf(authority: string): number | null {
  let afterHost = authority;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) return null;
    afterHost = authority.slice(close + 1);
  }
  const colon = afterHost.lastIndexOf(":");
  if (colon < 0) return null;
  const digits = afterHost.slice(colon + 1);
  if (!/^\d{1,5}$/.test(digits)) return null;
  const port = Number(digits);
  return port <= 65535 ? port : null;
}

/** The host as it goes in a URL (IPv6 in brackets) and the port the `Host` header named. */
function urlHostAndPort(e: CurlSource): { host: string; port: number | null } {
  const host = e.host.includes(":") && !e.host.startsWith("[") ? `[${e.host}]` : e.host;
  const value = findHeader(e.request_headers, (n) => n.toLowerCase() === "host" || n === ":authority");
  return { host, port: value === undefined ? null : portOf(value.trim()) };
}

const authority = (host: string, port: number | null) => (port === null ? host : `${host}:${port}`);
const pathOrRoot = (e: CurlSource) => (e.path === "" ? "/" : e.path);

/** The request's URL, `scheme://host[:port]/path[?query]`, with the port the client used. */
export function requestUrl(e: CurlSource): string {
  const { host, port } = urlHostAndPort(e);
  const query = e.query === null || e.query === undefined ? "" : `?${e.query}`;
  return `${e.scheme.toLowerCase()}://${authority(host, port)}${pathOrRoot(e)}${query}`;
}

function isIpLiteral(host: string): boolean {
  const bare = host.replace(/^\[/, "").replace(/\]$/, "");
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(bare) || (bare.includes(":") && /^[0-9a-f:.]+$/i.test(bare));
}

/** Whether curl needs `--resolve` to reach Portico rather than the public name. */
function needsResolve(host: string, imported: boolean): boolean {
  const name = host.replace(/\.+$/, "").toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost") || isIpLiteral(name)) return false;
  const local = LOCAL_SUFFIXES.some((s) => name === s || name.endsWith(`.${s}`));
  return local || !imported;
}

/** `name: value`, or `name;` for an empty value (curl reads `name:` as "remove the header"). */
function headerArg(name: string, value: string): string {
  return value.trim() === "" ? `${name};` : `${name}: ${value}`;
}

/**
 * A shell command that sends `e`'s request again with curl. Lines starting with `#` come
 * first and warn about what the command cannot reproduce. For https, `caFile` is Portico's
 * root certificate (passed as `--cacert`).
 */
export function curlCommand(e: CurlSource, caFile: string | null = null): string {
  const notes: string[] = [];
  const { host: urlHost, port } = urlHostAndPort(e);
  const https = e.scheme.toLowerCase() === "https";
  const auth = authority(urlHost, port);
  const path = pathOrRoot(e);
  const url = requestUrl(e);
  const method = e.method;
  const body = base64ToBytes(e.request_body.bytes);
  const hasBody = body.length > 0;
  const head = method === "HEAD";

  const first = ["curl"];
  if (e.version.startsWith("HTTP/2")) {
    // Without TLS there is no ALPN: `--http2` would try `Upgrade: h2c` instead.
    first.push(https ? "--http2" : "--http2-prior-knowledge");
  } else if (e.version === "HTTP/1.0") {
    first.push("--http1.0");
  }
  if (head) first.push("--head");
  else if (method !== "GET" || hasBody) first.push("-X", shellQuote(method));
  // curl reads `[]{}` in a URL as a glob pattern and squashes `/../` unless told not to.
  if (/[[\]{}]/.test(url)) first.push("--globoff");
  if (path.split("/").some((s) => s === "." || s === "..")) first.push("--path-as-is");
  first.push(shellQuote(url));

  const lines = [first.join(" ")];
  if (https) {
    if (caFile !== null) lines.push(`--cacert ${shellQuote(caFile)}`);
    else notes.push("curl must trust Portico's CA: add --cacert <data-dir>/ca/root.pem");
  }
  if (needsResolve(e.host, e.imported)) {
    lines.push(`--resolve ${shellQuote(`${e.host}:${port ?? (https ? 443 : 80)}:127.0.0.1`)}`);
  }

  const seen = (name: string) => findHeader(e.request_headers, (n) => n.toLowerCase() === name) !== undefined;
  let compressed = false;
  for (const [name = "", value = ""] of e.request_headers) {
    const lower = name.toLowerCase();
    if (lower.startsWith(":") || lower === "content-length" || CONNECTION_HEADERS.has(lower)) continue;
    if (lower === "host" && value.trim().toLowerCase() === auth.toLowerCase()) continue;
    // `identity` asks for no compression: `--compressed` would ask for the opposite.
    if (lower === "accept-encoding" && value.trim().toLowerCase() !== "identity") {
      compressed = true;
      continue;
    }
    if (!isToken(name)) {
      notes.push(`header ${printable(name)} left out: not a valid header name`);
      continue;
    }
    if (/[\r\n\0]/.test(value)) {
      notes.push(
        `header ${printable(name)} left out: its value contains a line break or NUL, which HTTP does not allow`,
      );
      continue;
    }
    lines.push(`-H ${shellQuote(headerArg(name, value))}`);
  }
  if ((e.websocket !== null && e.websocket !== undefined) || seen("upgrade")) {
    notes.push("this request upgraded its connection (WebSocket); curl sends it as a plain request");
  }
  if (compressed) lines.push("--compressed");
  for (const fallback of ["user-agent", "accept"]) {
    if (!seen(fallback)) lines.push(`-H ${shellQuote(`${fallback}:`)}`);
  }

  let pipe: string | null = null;
  if (head && hasBody) {
    notes.push("the HEAD request's body is left out: curl cannot send one with --head");
  } else if (hasBody) {
    if (!seen("content-type")) lines.push(`-H ${shellQuote("content-type:")}`);
    // curl sends `Expect: 100-continue` for large bodies unless told not to.
    if (body.length > 1024 && !seen("expect")) lines.push(`-H ${shellQuote("expect:")}`);
    const text = inlineText(body);
    if (text !== null) {
      lines.push(`--data-binary ${shellQuote(text)}`);
    } else {
      pipe = printfFormat(body);
      lines.push("--data-binary @-");
    }
    if (body.length < e.request_body.size) {
      notes.push(
        `warning: the captured request body is incomplete: this sends its first ${body.length} of ${e.request_body.size} bytes`,
      );
    }
  } else if (e.request_body.size > 0) {
    notes.push(`warning: the request body (${e.request_body.size} bytes) was not captured: this sends none`);
  }

  let out = notes.map((note) => `# ${note}\n`).join("");
  if (pipe !== null) out += `printf '${pipe}' | `;
  return `${out}${lines.join(" \\\n  ")}\n`;
}

/** Where Portico's root certificate is, given its data directory (as the status reports it). */
export function caFileIn(dataDir: string): string {
  const windows = dataDir.includes("\\") && !dataDir.includes("/");
  const sep = windows ? "\\" : "/";
  return `${dataDir.replace(/[\\/]+$/, "")}${sep}ca${sep}root.pem`;
}
