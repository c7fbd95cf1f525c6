// What an exchange's numbers and codes mean to a person: the status's class and phrase, and,
// when it failed, what went wrong, who caused it and what to do about it.
import type { Exchange } from "../../../api/exchange";

export type StatusClass = "info" | "success" | "redirect" | "client-error" | "server-error" | "none";

export function statusClass(status: number | null | undefined): StatusClass {
  if (status === null || status === undefined || status < 100) return "none";
  if (status < 200) return "info";
  if (status < 300) return "success";
  if (status < 400) return "redirect";
  if (status < 500) return "client-error";
  return "server-error";
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  507: "Insufficient Storage",
  508: "Loop Detected",
};

/** `200 OK`, `418`, or `No response`. */
export function statusText(status: number | null | undefined): string {
  if (status === null || status === undefined) return "No response";
  const reason = REASONS[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
}

export type Side = "client" | "upstream" | "portico";

export interface Failure {
  title: string;
  /** Who caused it, when known. */
  side: Side | null;
  /** The engine's own words. */
  message: string | null;
  /** What to do next. */
  hint: string;
}

export const SIDE_LABEL: Record<Side, string> = {
  client: "Caused by the client",
  upstream: "Caused by the upstream",
  portico: "Caused by Portico",
};

function asSide(side: string | null | undefined): Side | null {
  return side === "client" || side === "upstream" || side === "portico" ? side : null;
}

type FailureFacts = Pick<Exchange, "status" | "error" | "error_side" | "error_code" | "upstream" | "route">;

/**
 * What went wrong with an exchange, or `null` when nothing did. An upstream's own 5xx counts
 * (Portico forwarded it faithfully, but the request still failed).
 */
export function explainFailure(e: FailureFacts): Failure | null {
  const message = e.error ?? null;
  const side = asSide(e.error_side);
  const upstream = e.upstream ?? "the upstream";
  switch (e.error_code) {
    case "upstream-refused":
      return {
        title: "The upstream refused the connection",
        side: "upstream",
        message,
        hint: `Nothing is listening at ${upstream}. Is the dev server running? Start it, or point the route at the port it prints, then replay.`,
      };
    case "upstream-unreachable":
      return {
        title: "The upstream could not be reached",
        side: "upstream",
        message,
        hint: `${upstream} could not be resolved or reached. Check the route's upstream host name and that the machine is up.`,
      };
    case "upstream-failed":
      return {
        title: "The upstream closed the connection",
        side: "upstream",
        message,
        hint: "The dev server accepted the connection but sent no valid HTTP response; it may have crashed. Check its terminal, then replay.",
      };
    case "upstream-timeout":
      return {
        title: "The upstream timed out",
        side: "upstream",
        message,
        hint: "The dev server did not send its response headers in time. It may still be compiling: replay in a moment, or raise the route's timeout.",
      };
    case "no-route":
      return {
        title: "No route for this address",
        side: "client",
        message,
        hint: "No enabled route matches this host and path. Add one on the Routes page (or `portico route add HOST PORT`), or enable the route.",
      };
    case "loop":
      return {
        title: "Request loop",
        side: "portico",
        message,
        hint: "The route's upstream is Portico itself. Point it at your dev server's own port.",
      };
    case "bad-request":
      return {
        title: "Bad request",
        side: "client",
        message,
        hint: "Send the request to a route's host name, e.g. http://app.localhost/.",
      };
    case "static-dir":
      return {
        title: "The static folder is unavailable",
        side: "portico",
        message,
        hint: "Create the route's folder (or run the build that does), or point the route at another folder.",
      };
    default:
      break;
  }
  if (message !== null && message !== "") {
    if (message.includes("client closed the connection")) {
      return {
        title: "The client went away",
        side: side ?? "client",
        message,
        hint: "The client closed the connection before the response ended: a cancelled fetch, a closed tab or a client-side timeout. Nothing to fix unless that was unexpected.",
      };
    }
    if (message.startsWith("the response body failed")) {
      return {
        title: "The response broke off",
        side: side ?? "upstream",
        message,
        hint: "The upstream stopped sending the body midway. Check the dev server's terminal for a crash or an error while streaming.",
      };
    }
    if (message.startsWith("the request body failed")) {
      return {
        title: "The request body broke off",
        side: side ?? "client",
        message,
        hint: "The client stopped sending the request body midway (an aborted upload or a dropped connection).",
      };
    }
    return {
      title: "The exchange failed",
      side,
      message,
      hint:
        side === "upstream"
          ? "Check the dev server's terminal."
          : side === "client"
            ? "Check how the client sent the request."
            : "Check `portico serve`'s log for details.",
    };
  }
  if (e.status !== null && e.status !== undefined && e.status >= 500) {
    return {
      title: `The upstream answered ${statusText(e.status)}`,
      side: "upstream",
      message: null,
      hint: "The dev server reported an error: its response body below may say why, and its terminal usually has the stack trace.",
    };
  }
  return null;
}

/** The first value of header `name` (any case). */
export function headerValue(headers: string[][], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n?.toLowerCase() === lower)?.[1];
}

/** `[name, value]` pairs as `name: value` lines, for the clipboard. */
export function headersAsText(headers: string[][]): string {
  return headers.map(([name = "", value = ""]) => `${name}: ${value}`).join("\n");
}

/** A query string's parameters, decoded, in order (`+` as space, as forms send it). */
export function queryParams(query: string | null | undefined): [string, string][] {
  if (query === null || query === undefined || query === "") return [];
  return [...new URLSearchParams(query)];
}

/** When it started, as a local date and time with milliseconds. */
export function formatStarted(unixMs: number): string {
  const date = new Date(unixMs);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
