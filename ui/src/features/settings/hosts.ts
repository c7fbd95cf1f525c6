// Pure logic of the hosts-file panel: one sentence for the state of Portico's block, and what
// to offer (a sync button, the command to run, removing the block). No network, no React.
import type { HostsStatus } from "../../api/hosts";

export type HostsOffer = "none" | "sync" | "elevate";

export interface HostsView {
  /** `ok` (nothing to do), `warn` (names missing), `off`. */
  tone: "ok" | "warn" | "off";
  text: string;
  /** What fixes it: nothing, the engine syncing by itself, or administrator rights. */
  offer: HostsOffer;
  /** The block can be taken out (it has names). */
  canRemove: boolean;
}

/** "a.test", "a.test and b.test", "a.test, b.test and c.test". */
export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1] ?? ""}`;
}

export function describeHosts(status: HostsStatus): HostsView {
  const canRemove = status.names.length > 0;
  if (!status.enabled) {
    const text = canRemove
      ? `Off: Portico does not change ${status.file}; its block there still maps ${listNames(status.names)}.`
      : `Off: Portico does not change ${status.file}.`;
    return { tone: "off", text, offer: "none", canRemove };
  }
  if (status.in_sync) {
    const text =
      status.names.length === 0
        ? `In sync: no route needs ${status.file}.`
        : `In sync: ${listNames(status.names)} ${status.names.length === 1 ? "resolves" : "resolve"} to this machine through ${status.file}.`;
    return { tone: "ok", text, offer: "none", canRemove };
  }
  const missing = status.missing.length;
  const parts: string[] = [];
  if (missing > 0) {
    parts.push(
      `${missing} ${missing === 1 ? "name is" : "names are"} missing from ${status.file} and ${missing === 1 ? "does" : "do"} not resolve on this machine yet: ${listNames(status.missing)}.`,
    );
  }
  if (status.stale.length > 0) parts.push(`No longer needed there: ${listNames(status.stale)}.`);
  if (status.error !== null && status.error !== undefined && !status.needs_elevation) parts.push(status.error);
  return { tone: "warn", text: parts.join(" "), offer: status.needs_elevation ? "elevate" : "sync", canRemove };
}
