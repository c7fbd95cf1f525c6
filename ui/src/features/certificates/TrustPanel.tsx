// Where the CA is trusted, store by store, and the Trust / Remove trust actions (which act
// on every store Portico manages at once: the API takes no store list). When the engine
// cannot change a store, its message carries the command to run by hand.
import { useState } from "react";
import { ApiError } from "../../api/client";
import { trustCa, untrustCa, type CaReport, type StoreChange, type StoreStatus } from "../../api/certificates";
import { Badge, Message } from "./Badge";
import { changeBadge, stateBadge, storeIsManaged, storeKey, storeLabel } from "./ca";
import { CommandBlock } from "./CopyButton";
import { ConfirmDialog } from "../../lib/ConfirmDialog";
import { StoreMessage } from "./StoreMessage";

type Action = "trust" | "untrust";

interface Failure {
  action: Action;
  message: string;
  /** 503: this engine has no access to trust stores; the CLI does. */
  unavailable: boolean;
}

function StoreRow({ row }: { row: StoreStatus }) {
  const label = storeLabel(row.store);
  const badge = stateBadge(row.state);
  return (
    <li className="store" data-store={storeKey(row.store)} data-state={row.state}>
      <div className="store-head">
        <strong>{label}</strong>
        <Badge label={badge.label} tone={badge.tone} />
        {!storeIsManaged(row.store) && <span className="muted small">reported only</span>}
      </div>
      {row.location !== "" && <p className="path muted">{row.location}</p>}
      <StoreMessage text={row.note} what={label} />
    </li>
  );
}

function ChangeRow({ change }: { change: StoreChange }) {
  const label = storeLabel(change.store);
  const badge = changeBadge(change.result);
  return (
    <li className="store" data-store={storeKey(change.store)} data-result={change.result}>
      <div className="store-head">
        <strong>{label}</strong>
        <Badge label={badge.label} tone={badge.tone} />
      </div>
      {change.location !== "" && <p className="path muted">{change.location}</p>}
      <StoreMessage text={change.detail} what={label} />
    </li>
  );
}

export function TrustPanel({ ca, onChanged }: { ca: CaReport; onChanged: () => void }) {
  const [busy, setBusy] = useState<Action | null>(null);
  const [result, setResult] = useState<{ action: Action; changes: StoreChange[] } | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [confirming, setConfirming] = useState(false);

  const managed = ca.stores.filter((row) => storeIsManaged(row.store));
  const trusted = managed.filter((row) => row.state === "trusted").length;

  const run = async (action: Action) => {
    setConfirming(false);
    setBusy(action);
    setFailure(null);
    setResult(null);
    try {
      const changes = action === "trust" ? await trustCa() : await untrustCa();
      setResult({ action, changes });
    } catch (caught) {
      const message = caught instanceof Error ? caught.message : String(caught);
      setFailure({ action, message, unavailable: caught instanceof ApiError && caught.status === 503 });
    } finally {
      setBusy(null);
      onChanged();
    }
  };

  const failed = result?.changes.filter((change) => change.result === "failed").length ?? 0;

  return (
    <section className="panel" aria-labelledby="trust-title">
      <div className="panel-head">
        <h2 id="trust-title">Trust stores</h2>
        <div className="actions">
          <button type="button" disabled={busy !== null} onClick={() => void run("trust")}>
            {busy === "trust" ? "Trusting…" : "Trust the CA"}
          </button>
          <button
            type="button"
            className="secondary"
            disabled={busy !== null}
            onClick={() => {
              setConfirming(true);
            }}
          >
            {busy === "untrust" ? "Removing…" : "Remove trust…"}
          </button>
        </div>
      </div>
      <p className="hint">
        Browsers accept Portico&apos;s certificates once the CA is trusted. <strong>Trust the CA</strong> installs it in every
        store Portico manages on this machine at once (the system store, Chrome/Chromium and every Firefox profile); the
        system store may ask for administrator rights. Java and Node.js are only reported: their row says how to set them
        up.
      </p>

      {failure && (
        <div role="alert" className="error">
          <p>
            {failure.action === "trust" ? "Trusting" : "Removing trust"} failed: <Message text={failure.message} />
          </p>
          {failure.unavailable && (
            <CommandBlock command={`portico ca ${failure.action}`} label={`Copy portico ca ${failure.action}`} />
          )}
        </div>
      )}

      {result && (
        <div className={failed > 0 ? "result result-bad" : "result"} role="status" aria-labelledby="trust-result-title">
          <h3 id="trust-result-title">
            {result.action === "trust" ? "Trust" : "Remove trust"}:{" "}
            {failed > 0
              ? `${failed} store${failed === 1 ? "" : "s"} could not be changed; run the command shown to finish by hand`
              : "done"}
          </h3>
          <ul className="stores">
            {result.changes.map((change) => (
              <ChangeRow key={storeKey(change.store)} change={change} />
            ))}
          </ul>
        </div>
      )}

      {ca.stores.length === 0 ? (
        <div className="empty">
          <p>
            <strong>No trust stores checked.</strong> This engine was started without access to the trust stores. See and
            change them from a terminal instead:
          </p>
          <CommandBlock command="portico ca status" label="Copy portico ca status" />
        </div>
      ) : (
        <>
          <p className="summary">
            <Badge
              label={trusted === managed.length ? "Trusted everywhere" : trusted === 0 ? "Not trusted yet" : "Partly trusted"}
              tone={trusted === managed.length ? "ok" : "warn"}
            />{" "}
            <span className="muted">
              Trusted by {trusted} of the {managed.length} store{managed.length === 1 ? "" : "s"} Portico manages here.
            </span>
          </p>
          <ul className="stores" aria-label="Trust stores">
            {ca.stores.map((row) => (
              <StoreRow key={storeKey(row.store)} row={row} />
            ))}
          </ul>
        </>
      )}

      <ConfirmDialog
        open={confirming}
        title="Remove trust in Portico's CA?"
        confirmLabel="Remove trust"
        danger
        onConfirm={() => void run("untrust")}
        onCancel={() => {
          setConfirming(false);
        }}
      >
        <p>
          Portico removes exactly what it added from every store. Browsers then refuse <code>https://</code> on your local
          names until you trust the CA again. Certificates added by other means stay.
        </p>
      </ConfirmDialog>
    </section>
  );
}
