// Names in the system hosts file: whether Portico's block holds what the routes need, and the
// one action that fixes it — the engine syncing, the desktop app asking for the password, or
// (in a browser, or when the prompt is not possible) the exact command to copy. Also takes the
// block out again on request.
import { useState } from "react";
import { ApiError } from "../../api/client";
import { removeHosts, syncHosts, type HostsStatus } from "../../api/hosts";
import { ConfirmDialog } from "../../lib/ConfirmDialog";
import { CommandBlock } from "../certificates/CopyButton";
import { hostsElevated, shellError, useDesktop } from "../../platform/tauri";
import { describeHosts } from "./hosts";

type Busy = "idle" | "sync" | "remove";

export function HostsSync({ status }: { status: HostsStatus | null | undefined }) {
  const desktop = useDesktop();
  // What an action returned, until the shell's next poll brings a newer status.
  const [answer, setAnswer] = useState<{ after: HostsStatus | null | undefined; status: HostsStatus } | null>(null);
  const [busy, setBusy] = useState<Busy>("idle");
  const [confirmRemove, setConfirmRemove] = useState(false);
  const [problem, setProblem] = useState<{ message: string; command: string | null } | null>(null);

  const setFresh = (fresh: HostsStatus | null) => {
    setAnswer(fresh === null ? null : { after: status, status: fresh });
  };

  const shown = answer !== null && answer.after === status ? answer.status : status;
  if (shown === undefined) return null;
  if (shown === null) {
    return <p className="hint">This engine was started without a hosts file to keep (see <code>portico hosts</code>).</p>;
  }
  const view = describeHosts(shown);

  const run = async (action: "sync" | "remove") => {
    setBusy(action);
    setProblem(null);
    const command = action === "sync" ? shown.command : shown.remove_command;
    try {
      if (desktop && (action === "sync" ? view.offer === "elevate" : shown.needs_elevation)) {
        if (action === "remove") setFresh((await removeHosts().catch(() => null))?.status ?? null);
        const outcome = await hostsElevated(action);
        if (outcome.result !== "done") setProblem({ message: outcome.detail, command: outcome.command });
      } else {
        const change = action === "sync" ? await syncHosts() : await removeHosts();
        setFresh(change.status);
      }
    } catch (err) {
      const message = err instanceof ApiError ? err.message : shellError(err);
      const needsRights = err instanceof ApiError && err.status === 409 && message.includes("administrator");
      setProblem({ message, command: needsRights ? command : null });
    } finally {
      setBusy("idle");
    }
  };


  return (
    <div className="hosts-sync" data-testid="hosts-sync">
      <p role="status" className={view.tone === "warn" ? "notice" : view.tone === "ok" ? "saved" : "muted"}>
        {view.tone === "ok" ? "✓ " : ""}
        {view.text}
      </p>
      {view.offer === "sync" && (
        <p>
          <button type="button" disabled={busy !== "idle"} onClick={() => void run("sync")}>
            {busy === "sync" ? "Syncing…" : "Sync now"}
          </button>
        </p>
      )}
      {view.offer === "elevate" && desktop && (
        <p>
          <button type="button" disabled={busy !== "idle"} onClick={() => void run("sync")}>
            {busy === "sync" ? "Waiting for the password prompt…" : "Add them (asks for your password)…"}
          </button>
        </p>
      )}
      {view.offer === "elevate" && !desktop && (
        <>
          <p>Portico runs without the rights to change this file. Run this once in a terminal (again after adding names):</p>
          <CommandBlock command={shown.command} label="Copy the command" />
        </>
      )}
      {shown.wildcards.length > 0 && (
        <p className="hint">
          A hosts file cannot hold wildcards, so {shown.wildcards.join(", ")} resolve only through a DNS responder.
        </p>
      )}
      {shown.localhost_resolves && <p className="hint">Names under .localhost resolve on this machine by themselves and stay out of the file.</p>}
      {problem && (
        <div role="alert" className="error">
          <p>{problem.message}</p>
          {problem.command !== null && (
            <>
              <p>To do it yourself, run this in a terminal:</p>
              <CommandBlock command={problem.command} label="Copy the command" />
            </>
          )}
        </div>
      )}
      {view.canRemove && (
        <p>
          <button
            type="button"
            className="secondary"
            disabled={busy !== "idle"}
            onClick={() => {
              setConfirmRemove(true);
            }}
          >
            {busy === "remove" ? "Removing…" : "Remove Portico's block"}
          </button>
        </p>
      )}
      <ConfirmDialog
        open={confirmRemove}
        title="Remove Portico's block?"
        confirmLabel="Remove it"
        danger
        onConfirm={() => {
          setConfirmRemove(false);
          void run("remove");
        }}
        onCancel={() => {
          setConfirmRemove(false);
        }}
      >
        <p>
          Portico takes its lines out of {shown.file} (every other line stays as it is; a backup is kept beside it) and stops
          adding names there. Names such as {shown.names[0] ?? "app.test"} then no longer resolve on this machine.
        </p>
      </ConfirmDialog>
    </div>
  );
}
