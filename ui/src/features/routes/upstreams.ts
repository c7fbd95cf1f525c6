// Upstream entries as a person types them (`5173`, `localhost:5173`, `http://127.0.0.1:8000/base`):
// parsed the way the engine parses them (config/upstream.rs), so the editor can show where an
// entry goes, or what is wrong with it, before anything is sent. The API stays the authority.

/** A parsed upstream: the URL the engine would store, and its parts. */
export interface ParsedUpstream {
  /** `http://host:port[/base]`, lowercase authority, no trailing slash. */
  url: string;
  /** The host as written in a URL (IPv6 in brackets). */
  host: string;
  port: number;
  /** `""` or `/base`. */
  basePath: string;
}

export type UpstreamParse = { ok: true; upstream: ParsedUpstream } | { ok: false; hint: string };

const bad = (hint: string): UpstreamParse => ({ ok: false, hint });

function parsePort(text: string): number | string {
  if (!/^\d+$/.test(text)) return `${text} is not a port (1-65535)`;
  const port = Number(text);
  if (port === 0) return "port 0 is not a real port";
  if (port > 65535) return `${text} is not a port (1-65535)`;
  return port;
}

/** Parse one entry; a hint says what to write instead when it would be refused. */
export function parseUpstream(input: string): UpstreamParse {
  const text = input.trim();
  if (text === "") return bad("a route needs an upstream, e.g. http://127.0.0.1:5173 or just 5173");
  if (/^\d+$/.test(text)) {
    const port = parsePort(text);
    if (typeof port === "string") return bad(port);
    return { ok: true, upstream: { url: `http://localhost:${port}`, host: "localhost", port, basePath: "" } };
  }
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  const scheme = schemeMatch?.[1]?.toLowerCase() ?? "http";
  if (scheme === "https") {
    return bad("https upstreams are not supported yet; dev servers usually speak plain http:// on localhost");
  }
  if (scheme === "ws" || scheme === "wss") return bad("use http://; WebSocket upgrades are forwarded automatically");
  if (scheme !== "http") return bad("only http:// upstreams are supported");
  const rest = schemeMatch ? text.slice(schemeMatch[0].length) : text;
  if (/\s/.test(rest)) return bad("an upstream cannot contain spaces");
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? "" : rest.slice(end);
  if (authority.includes("@")) return bad("user names and passwords in the URL are not supported");
  const hostPort = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*)(?::(.*))?$/.exec(authority);
  const host = hostPort?.[1] ?? "";
  if (host === "") return bad("missing host, e.g. http://127.0.0.1:5173");
  const portText = hostPort?.[2];
  if (portText === undefined || portText === "") {
    return bad(`missing port; write it as http://${host}:PORT (the port your dev server prints)`);
  }
  const port = parsePort(portText);
  if (typeof port === "string") return bad(port);
  if (tail.includes("?") || tail.includes("#")) return bad("an upstream cannot have a query or fragment");
  const basePath = tail.replace(/\/+$/, "");
  const lowerHost = host.toLowerCase();
  return {
    ok: true,
    upstream: { url: `http://${lowerHost}:${port}${basePath}`, host: lowerHost, port, basePath },
  };
}

/** The URL an entry stands for, or the entry itself (trimmed) when it does not parse. */
export function normalizeUpstream(input: string): string {
  const parsed = parseUpstream(input);
  return parsed.ok ? parsed.upstream.url : input.trim();
}

/** Whether `host` (as in a URL) is this machine, where discovered services listen. */
export function isLocalHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[|\]$/g, "");
  return (
    bare === "localhost" ||
    bare.endsWith(".localhost") ||
    bare === "::1" ||
    bare === "0.0.0.0" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
  );
}

/** What the editor shows under an entry: where it goes, or what is wrong. */
export interface UpstreamHint {
  tone: "ok" | "problem";
  text: string;
}

/**
 * One hint per entry, in order (`null` for a blank entry): where it goes, what is wrong with
 * it, or that it is listed twice.
 */
export function upstreamHints(entries: readonly string[]): (UpstreamHint | null)[] {
  const seen = new Set<string>();
  return entries.map((entry) => {
    if (entry.trim() === "") return null;
    const parsed = parseUpstream(entry);
    if (!parsed.ok) return { tone: "problem", text: parsed.hint };
    if (seen.has(parsed.upstream.url)) {
      return { tone: "problem", text: `${parsed.upstream.url} is listed twice; list each upstream once` };
    }
    seen.add(parsed.upstream.url);
    return { tone: "ok", text: `→ ${parsed.upstream.url}` };
  });
}
