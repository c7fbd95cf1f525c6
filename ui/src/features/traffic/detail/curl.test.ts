import { describe, expect, it } from "vitest";
import { caFileIn, curlCommand, isToken, printfFormat, requestUrl, shellQuote, type CurlSource } from "./curl";
import { textToBase64 } from "./bytes";

function exchange(method: string, hostHeader: string, path: string, query: string | null = null): CurlSource {
  const colon = hostHeader.lastIndexOf(":");
  const host = colon > 0 && !hostHeader.endsWith("]") ? hostHeader.slice(0, colon) : hostHeader;
  return {
    method,
    scheme: "http",
    host,
    path,
    query,
    version: "HTTP/1.1",
    request_headers: [
      ["host", hostHeader],
      ["user-agent", "test/1"],
      ["accept", "*/*"],
    ],
    request_body: { bytes: "", size: 0 },
    imported: false,
    websocket: null,
  };
}

function withBody(e: CurlSource, contentType: string | null, body: string): CurlSource {
  const bytes = new TextEncoder().encode(body);
  return {
    ...e,
    request_headers: [
      ...e.request_headers,
      ...(contentType === null ? [] : [["content-type", contentType]]),
      ["content-length", String(bytes.length)],
    ],
    request_body: { bytes: textToBase64(body), size: bytes.length },
  };
}

/**
 * The words a POSIX shell makes of `command` (single quotes, backslashes outside quotes,
 * line continuations, comments): enough of sh to check what curl would receive.
 */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  while (i < command.length) {
    const c = command.charAt(i);
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error("unterminated quote");
      word = (word ?? "") + command.slice(i + 1, end);
      i = end + 1;
    } else if (c === "\\") {
      const next = command.charAt(i + 1);
      if (next !== "\n") word = (word ?? "") + next;
      i += 2;
    } else if (c === " " || c === "\n" || c === "\t") {
      if (word !== null) words.push(word);
      word = null;
      i += 1;
    } else if (c === "#" && word === null) {
      const end = command.indexOf("\n", i);
      i = end < 0 ? command.length : end + 1;
    } else if (/[$`"*?~;&|<>()!]/.test(c)) {
      throw new Error(`unquoted ${c} at ${i} in ${command}`);
    } else {
      word = (word ?? "") + c;
      i += 1;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

describe("shellQuote", () => {
  it("leaves plain words bare and wraps the rest in single quotes", () => {
    expect(shellQuote("abc-1.2/x:y@z%+,=")).toBe("abc-1.2/x:y@z%+,=");
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("=cmd")).toBe("'=cmd'");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("~")).toBe("'~'");
    expect(shellQuote("a\nb")).toBe("'a\nb'");
    expect(shellQuote("ünï ✓")).toBe("'ünï ✓'");
  });

  it("round-trips anything through a shell", () => {
    for (const value of ["'", "''''", "say \"hi\"", "$HOME ${PATH} $(id) `id`", "back\\slash \\'", "a\nb\n", "ünïcødé ✓ 🚀", " lead", ""]) {
      expect(shellWords(`x ${shellQuote(value)}`)).toEqual(["x", value]);
    }
  });
});

describe("curlCommand", () => {
  it("writes a GET as its URL and headers", () => {
    expect(curlCommand(exchange("GET", "app.localhost:8080", "/users", "page=2&sort=name"))).toBe(
      "curl 'http://app.localhost:8080/users?page=2&sort=name' \\\n  -H 'user-agent: test/1' \\\n  -H 'accept: */*'\n",
    );
  });

  it("sends a JSON body inline, quotes and all", () => {
    const body = `{"name":"O'Brien","cost":"$5"}`;
    const cmd = curlCommand(withBody(exchange("POST", "app.localhost", "/api"), "application/json", body));
    expect(cmd).toBe(
      "curl -X POST http://app.localhost/api \\\n  -H 'user-agent: test/1' \\\n  -H 'accept: */*' \\\n  -H 'content-type: application/json' \\\n  --data-binary '{\"name\":\"O'\\''Brien\",\"cost\":\"$5\"}'\n",
    );
    expect(shellWords(cmd).at(-1)).toBe(body);
  });

  it("passes header values with quotes, shell syntax, unicode and empty values exactly", () => {
    const nasty = ["it's", 'say "hi"', "$HOME $(id)", "`id`", "back\\slash \\'", "'", "ünïcødé ✓", "   leading"];
    const e = exchange("GET", "app.localhost", "/");
    nasty.forEach((v, i) => e.request_headers.push([`x-test-${i}`, v]));
    e.request_headers.push(["x-empty", ""]);
    const words = shellWords(curlCommand(e));
    nasty.forEach((v, i) => {
      expect(words).toContain(`x-test-${i}: ${v}`);
    });
    // `name:` would tell curl to remove the header; `name;` sends it empty.
    expect(words).toContain("x-empty;");
  });

  it("keeps newlines and shell syntax of a text body", () => {
    const body = "line 1\n'quoted' \"double\" $VAR `cmd` $(cmd) \\ \\n\n\tindented\n\n";
    const cmd = curlCommand(withBody(exchange("PUT", "app.localhost", "/doc"), "text/plain", body));
    expect(cmd).toContain("--data-binary '");
    expect(shellWords(cmd).at(-1)).toBe(body);
  });

  it("pipes bodies that are not plain text through printf", () => {
    const crlf = curlCommand(withBody(exchange("POST", "app.localhost", "/"), "text/plain", "crlf\r\nline"));
    expect(crlf.startsWith("printf 'crlf\\015\\nline' | curl -X POST")).toBe(true);
    expect(crlf).toContain("--data-binary @-");
    const at = curlCommand(withBody(exchange("POST", "app.localhost", "/"), "text/plain", "@/etc/passwd"));
    expect(at.startsWith("printf '@/etc/passwd' | ")).toBe(true);
  });

  it("escapes exactly what printf interprets", () => {
    const bytes = new Uint8Array([0x61, 0x25, 0x5c, 0x27, 0x0a, 0x09, 0x00, 0xff, 0x31, 0x0d, 0x20]);
    expect(printfFormat(bytes)).toBe("a%%\\\\\\047\\n\\t\\000\\3771\\015 ");
  });

  it("leaves out headers curl computes and turns accept-encoding into --compressed", () => {
    const e = withBody(exchange("POST", "app.localhost:8080", "/"), "text/plain", "hi");
    for (const pair of [
      ["Connection", "keep-alive"],
      ["Transfer-Encoding", "chunked"],
      ["TE", "trailers"],
      [":authority", "app.localhost:8080"],
      ["Accept-Encoding", "gzip, br"],
    ]) {
      e.request_headers.push(pair);
    }
    const words = shellWords(curlCommand(e));
    const headers = words.filter((_, i) => words[i - 1] === "-H");
    expect(headers).toEqual(["user-agent: test/1", "accept: */*", "content-type: text/plain"]);
    expect(words).toContain("--compressed");
    const identity = exchange("GET", "app.localhost", "/");
    identity.request_headers.push(["accept-encoding", "identity"]);
    expect(curlCommand(identity)).toContain("-H 'accept-encoding: identity'");
  });

  it("comments out header values that cannot be sent", () => {
    const e = exchange("GET", "app.localhost", "/");
    e.request_headers.push(["x-injected", "a\r\nx-evil: 1"], ["bad\nname", "v"], ["x-after", "kept"]);
    const cmd = curlCommand(e);
    expect(cmd.startsWith(
      "# header x-injected left out: its value contains a line break or NUL, which HTTP does not allow\n# header bad\\nname left out: not a valid header name\n",
    )).toBe(true);
    expect(cmd).not.toContain("evil");
    expect(shellWords(cmd)).toContain("x-after: kept");
  });

  it("removes defaults curl would add when the original lacked them", () => {
    const e = withBody(exchange("POST", "app.localhost", "/"), null, "x=1");
    e.request_headers = e.request_headers.filter(([n]) => n !== "user-agent" && n !== "accept");
    const words = shellWords(curlCommand(e));
    for (const removed of ["user-agent:", "accept:", "content-type:"]) expect(words).toContain(removed);
    const big = withBody(exchange("POST", "app.localhost", "/"), "text/plain", "a".repeat(2000));
    expect(shellWords(curlCommand(big))).toContain("expect:");
  });

  it("maps methods and versions to curl options", () => {
    expect(curlCommand(exchange("HEAD", "app.localhost", "/")).startsWith("curl --head http://app.localhost/ ")).toBe(true);
    expect(curlCommand(exchange("get", "app.localhost", "/")).startsWith("curl -X get ")).toBe(true);
    const getWithBody = withBody(exchange("GET", "app.localhost", "/s"), "application/json", "{}");
    expect(curlCommand(getWithBody).startsWith("curl -X GET ")).toBe(true);
    const headWithBody = withBody(exchange("HEAD", "app.localhost", "/"), null, "x");
    expect(curlCommand(headWithBody).startsWith("# the HEAD request's body is left out")).toBe(true);

    const h2 = { ...exchange("GET", "app.localhost:8443", "/"), scheme: "https", version: "HTTP/2.0" };
    expect(curlCommand(h2, "/data dir/ca/root.pem").startsWith(
      "curl --http2 https://app.localhost:8443/ \\\n  --cacert '/data dir/ca/root.pem' \\\n",
    )).toBe(true);
    expect(curlCommand(h2).startsWith("# curl must trust Portico's CA: add --cacert <data-dir>/ca/root.pem\ncurl --http2 ")).toBe(true);
    expect(curlCommand({ ...h2, scheme: "http" }).startsWith("curl --http2-prior-knowledge ")).toBe(true);
    expect(curlCommand({ ...h2, scheme: "http", version: "HTTP/1.0" }).startsWith("curl --http1.0 ")).toBe(true);
  });

  it("pins names that do not resolve to loopback", () => {
    expect(curlCommand(exchange("GET", "app.test:8080", "/"))).toContain("--resolve app.test:8080:127.0.0.1");
    expect(curlCommand({ ...exchange("GET", "api.internal", "/"), scheme: "https" })).toContain("--resolve api.internal:443:127.0.0.1");
    for (const host of ["app.localhost:8080", "localhost:3000", "127.0.0.1:8080"]) {
      expect(curlCommand(exchange("GET", host, "/"))).not.toContain("--resolve");
    }
    const real = exchange("GET", "example.com", "/");
    expect(curlCommand(real)).toContain("--resolve example.com:80:127.0.0.1");
    expect(curlCommand({ ...real, imported: true })).not.toContain("--resolve");
  });

  it("brackets IPv6 hosts and turns globbing and dot squashing off", () => {
    const v6 = { ...exchange("GET", "[::1]:8080", "/"), host: "::1" };
    expect(curlCommand(v6).startsWith("curl --globoff 'http://[::1]:8080/'")).toBe(true);
    expect(curlCommand(exchange("GET", "app.localhost", "/a", "ids[]=1&q={x}")).startsWith(
      "curl --globoff 'http://app.localhost/a?ids[]=1&q={x}'",
    )).toBe(true);
    expect(curlCommand(exchange("GET", "app.localhost", "/a/../b")).startsWith("curl --path-as-is http://app.localhost/a/../b")).toBe(true);
  });

  it("announces body bytes it cannot send", () => {
    const e = withBody(exchange("POST", "app.localhost", "/"), "application/json", `{"a":"${"x".repeat(100)}`);
    const cut = { ...e, request_body: { ...e.request_body, size: 5000 } };
    expect(curlCommand(cut).startsWith(
      "# warning: the captured request body is incomplete: this sends its first 106 of 5000 bytes\n",
    )).toBe(true);
    const none = { ...e, request_body: { bytes: "", size: 5000 } };
    expect(curlCommand(none).startsWith("# warning: the request body (5000 bytes) was not captured")).toBe(true);
  });

  it("notes a WebSocket upgrade", () => {
    const e = exchange("GET", "app.localhost", "/ws");
    e.request_headers.push(["upgrade", "websocket"], ["connection", "Upgrade"]);
    const cmd = curlCommand({ ...e, websocket: { frames_in: 0, frames_out: 0, bytes_in: 0, bytes_out: 0, closed: true } });
    expect(cmd.startsWith("# this request upgraded its connection (WebSocket)")).toBe(true);
    expect(cmd).not.toContain("upgrade: websocket");
  });
});

describe("URLs, header names and the CA file", () => {
  it("builds the URL with the port the client used", () => {
    expect(requestUrl(exchange("GET", "app.localhost:8080", "", "a=1"))).toBe("http://app.localhost:8080/?a=1");
  });

  it("recognises header names", () => {
    expect(isToken("x-custom_1")).toBe(true);
    expect(isToken("bad name")).toBe(false);
    expect(isToken("")).toBe(false);
  });

  it("finds the CA file in the data directory", () => {
    expect(caFileIn("/home/ada/.local/share/portico/")).toBe("/home/ada/.local/share/portico/ca/root.pem");
    expect(caFileIn("C:\\Users\\ada\\portico")).toBe("C:\\Users\\ada\\portico\\ca\\root.pem");
  });
});
