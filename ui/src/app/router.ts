// Which page the location's hash names. Hash routing keeps every page a static `index.html`
// for the engine's admin listener and for the desktop shell alike (no server-side fallback).

export type Page =
  | { name: "overview" }
  | { name: "routes" }
  | { name: "traffic"; exchange: number | null }
  | { name: "certificates" }
  | { name: "doctor"; host: string | null }
  | { name: "settings" };

export type PageName = Page["name"];

export const NAV: { name: PageName; label: string; hash: string }[] = [
  { name: "overview", label: "Overview", hash: "#/" },
  { name: "routes", label: "Routes", hash: "#/routes" },
  { name: "traffic", label: "Traffic", hash: "#/traffic" },
  { name: "certificates", label: "Certificates", hash: "#/certificates" },
  { name: "doctor", label: "Doctor", hash: "#/doctor" },
  { name: "settings", label: "Settings", hash: "#/settings" },
];

/** The page for a hash such as `#/traffic/42`; anything unknown is the overview. */
export function parseHash(hash: string): Page {
  const parts = hash.replace(/^#\/?/, "").split("/").filter((part) => part !== "");
  const [first, second] = parts;
  switch (first) {
    case "routes":
      return { name: "routes" };
    case "traffic": {
      const id = second !== undefined && /^\d+$/.test(second) ? Number(second) : null;
      return { name: "traffic", exchange: id !== null && Number.isSafeInteger(id) ? id : null };
    }
    case "certificates":
      return { name: "certificates" };
    case "doctor": {
      const host = second !== undefined ? safeDecode(second) : null;
      return { name: "doctor", host: host !== null && /^[a-z0-9*._-]+$/i.test(host) ? host.toLowerCase() : null };
    }
    case "settings":
      return { name: "settings" };
    default:
      return { name: "overview" };
  }
}

/** The hash that shows `page` (the inverse of `parseHash`). */
export function pageHash(page: Page): string {
  if (page.name === "traffic" && page.exchange !== null) return `#/traffic/${page.exchange}`;
  if (page.name === "doctor" && page.host !== null) return `#/doctor/${encodeURIComponent(page.host)}`;
  return NAV.find((item) => item.name === page.name)?.hash ?? "#/";
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
