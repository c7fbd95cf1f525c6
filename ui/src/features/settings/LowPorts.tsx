// Ports 80 and 443: when a listener fell back to 8080/8443, say why and how to fix it. In the
// desktop app, one button asks the platform's password prompt (after saying in plain words
// what it allows); when that is refused or unavailable, and in a browser, the exact command
// to run is shown.
import { useState } from "react";
import type { PortFallback } from "../../api/client";
import { copyText } from "../../lib/clipboard";
import { ConfirmDialog } from "../../lib/ConfirmDialog";
import { allowLowPorts, shellError, useDesktop, type PrivilegedOutcome } from "../../platform/tauri";

/** The command for a browser user: the same sysctl the desktop app sets. */
export const SYSCTL_COMMAND =
  "sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80 && echo net.ipv4.ip_unprivileged_port_start=80 | sudo tee /etc/sysctl.d/60-portico-low-ports.conf";

/** "port 80 (HTTP) is on 8080 and port 443 (HTTPS) on 8443" for the fallbacks given. */
export function describeFallbacks(fallbacks: readonly PortFallback[]): string {
  return fallbacks
    .map((f) => `port ${f.wanted} (${f.listener === "http" ? "HTTP" : "HTTPS"}) is on ${f.used}`)
    .join(" and ");
}

type Asking = { state: "idle" } | { state: "confirm" } | { state: "asking" } | { state: "done" } | { state: "not-done"; outcome: PrivilegedOutcome };

export function LowPorts({ fallbacks }: { fallbacks: readonly PortFallback[] }) {
  const desktop = useDesktop();
  const [asking, setAsking] = useState<Asking>({ state: "idle" });
  const [copied, setCopied] = useState(false);
  const permission = fallbacks.filter((f) => f.reason === "permission");
  const inUse = fallbacks.filter((f) => f.reason !== "permission");
  const command = desktop?.low_ports.command ?? SYSCTL_COMMAND;

  const ask = async () => {
    setAsking({ state: "asking" });
    try {
      const outcome = await allowLowPorts();
      setAsking(outcome.result === "done" ? { state: "done" } : { state: "not-done", outcome });
    } catch (err) {
      setAsking({ state: "not-done", outcome: { result: "failed", command, detail: shellError(err) } });
    }
  };

  const commandBlock = (
    <>
      <pre>
        <code>{command}</code>
      </pre>
      <button
        type="button"
        className="linklike"
        onClick={() => {
          void copyText(command).then(setCopied);
        }}
      >
        {copied ? "Copied" : "Copy the command"}
      </button>
    </>
  );

  return (
    <div className="low-ports">
      {inUse.map((f) => (
        <div key={f.listener} className="notice" role="status">
          <p>
            Port {f.wanted} is {f.reason === "in_use" ? "in use by another program" : "unavailable"}, so{" "}
            {f.listener === "http" ? "HTTP" : "HTTPS"} listens on {f.used}. Find the program with{" "}
            <code>sudo ss -ltnp &apos;sport = :{f.wanted}&apos;</code> and stop it, then restart Portico.
          </p>
        </div>
      ))}
      {permission.length > 0 && (
        <div className="notice" role="status" aria-label="Ports 80 and 443">
          <p>
            Ports below 1024 need permission on Linux, so {describeFallbacks(permission)}: your addresses need a port number
            (https://app.localhost:{permission.find((f) => f.listener === "https")?.used ?? 8443}).
          </p>
          {desktop && !desktop.low_ports.allowed && asking.state !== "not-done" && (
            <p>
              <button
                type="button"
                disabled={asking.state === "asking" || asking.state === "done"}
                onClick={() => {
                  setAsking({ state: "confirm" });
                }}
              >
                {asking.state === "asking" ? "Waiting for the password prompt…" : "Allow ports 80 and 443…"}
              </button>
            </p>
          )}
          {desktop?.low_ports.allowed && asking.state !== "done" && (
            <p>This computer allows them now: quit Portico from its tray menu and open it again to move to 80 and 443.</p>
          )}
          {asking.state === "done" && <p role="alert">Allowed. Portico is restarting on ports 80 and 443…</p>}
          {asking.state === "not-done" && (
            <div role="alert">
              <p>
                {asking.outcome.detail} To allow them yourself, run this in a terminal, then restart Portico:
              </p>
              {commandBlock}
            </div>
          )}
          {!desktop && (
            <>
              <p>To use 80 and 443, run this once in a terminal, then restart Portico:</p>
              {commandBlock}
            </>
          )}
        </div>
      )}
      <ConfirmDialog
        open={asking.state === "confirm"}
        title="Allow ports 80 and 443?"
        confirmLabel="Ask for my password"
        onConfirm={() => void ask()}
        onCancel={() => {
          setAsking({ state: "idle" });
        }}
      >
        <p>{desktop?.low_ports.explanation}</p>
      </ConfirmDialog>
    </div>
  );
}
