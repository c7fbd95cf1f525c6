// Sharing on the network, the pure parts: the durations offered, the expiry a choice gives,
// and how much time is left in words.

/** How long a share lasts, in seconds; `""` is until it is switched off. */
export const SHARE_DURATIONS: { value: string; label: string }[] = [
  { value: "", label: "Until I stop it" },
  { value: "900", label: "15 minutes" },
  { value: "3600", label: "1 hour" },
  { value: "7200", label: "2 hours" },
  { value: "28800", label: "8 hours" },
  { value: "86400", label: "1 day" },
];

/** The value that keeps a shared route's current expiry. */
export const KEEP_EXPIRY = "keep";

/** `share_expires_at` (Unix ms) for a duration choice made at `now`; `null` for no end. */
export function expiryFor(choice: string, now: number): number | null {
  if (choice === "" || choice === KEEP_EXPIRY) return null;
  const secs = Number(choice);
  return Number.isFinite(secs) && secs > 0 ? now + secs * 1000 : null;
}

/** Time left until `expiresAt` (Unix ms) in words: `1 h 05 min`, `4 min 10 s`, `ended`. */
export function timeLeft(expiresAt: number, now: number): string {
  const secs = Math.max(0, Math.round((expiresAt - now) / 1000));
  if (secs === 0) return "ended";
  const days = Math.floor(secs / 86_400);
  const hours = Math.floor((secs % 86_400) / 3600);
  const minutes = Math.floor((secs % 3600) / 60);
  const seconds = secs % 60;
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes > 0) return `${minutes} min ${String(seconds).padStart(2, "0")} s`;
  return `${seconds} s`;
}

/** An SVG document (from the API) as an image source, so it is drawn and never run. */
export function svgSource(svg: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}
