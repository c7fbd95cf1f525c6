// The desktop app's shell, the only UI file that knows it exists. In a browser every function
// here says "not available" (`null`, `false`) and the pages show the browser's way instead
// (a command to run, a path to type). In the desktop window the shell's commands are granted
// to this page's origin (the engine's admin listener) and to nothing else.
import { invoke, isTauri } from "@tauri-apps/api/core";
import { useEffect, useState } from "react";

/** What the shell tells the UI about itself. */
export interface DesktopInfo {
  version: string;
  data_dir: string;
  /** Ports 80 and 443: already allowed, what asking means, and the command to do it by hand. */
  low_ports: { allowed: boolean; explanation: string; command: string };
}

/** How a privileged action (ports 80 and 443, the hosts file) went; `command` is what to run by hand when not done. */
export interface PrivilegedOutcome {
  result: "done" | "refused" | "unavailable" | "failed";
  command: string;
  detail: string;
}

let info: Promise<DesktopInfo | null> | undefined;

/** The shell's offer, or `null` in a browser (or when the shell refuses: then act as one). */
export function desktopInfo(): Promise<DesktopInfo | null> {
  if (!isTauri()) return Promise.resolve(null);
  info ??= invoke<DesktopInfo>("desktop_info").catch(() => null);
  return info;
}

/** [`desktopInfo`] for a component: `null` until known, and in a browser. */
export function useDesktop(): DesktopInfo | null {
  const [desktop, setDesktop] = useState<DesktopInfo | null>(null);
  useEffect(() => {
    let live = true;
    void desktopInfo().then((found) => {
      if (live) setDesktop(found);
    });
    return () => {
      live = false;
    };
  }, []);
  return desktop;
}

/** A native folder picker starting at `start`; the chosen absolute path, or `null`. */
export async function pickFolder(start: string): Promise<string | null> {
  return invoke<string | null>("pick_folder", { start: start.trim() === "" ? null : start });
}

/** Show Portico's data folder in the file manager. */
export async function revealDataDir(): Promise<void> {
  await invoke("reveal_data_dir");
}

/** Ask the platform's password prompt to let Portico use ports 80 and 443. */
export async function allowLowPorts(): Promise<PrivilegedOutcome> {
  return invoke<PrivilegedOutcome>("allow_low_ports");
}

/**
 * Sync Portico's block in the hosts file (or remove it) with administrator rights, through the
 * platform's password prompt; `command` is what to run by hand when it was not done.
 */
export async function hostsElevated(action: "sync" | "remove"): Promise<PrivilegedOutcome> {
  return invoke<PrivilegedOutcome>("hosts_elevated", { action });
}

/** An error from the shell as a sentence (the shell rejects with a string). */
export function shellError(err: unknown): string {
  if (typeof err === "string") return err;
  if (err instanceof Error) return err.message;
  return "the desktop app did not answer";
}
