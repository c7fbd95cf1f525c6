// Replacing the CA: a new root and intermediate, trust moved to them in the stores that
// trusted the old root. Devices set up by hand (phones, Java, Node) must trust the new one.
import { useState } from "react";
import { ApiError } from "../../api/client";
import { rotateCa, type RotationReport, type StoreChange } from "../../api/certificates";
import { Badge, Message } from "./Badge";
import { changeBadge, formatFingerprint, storeKey, storeLabel } from "./ca";
import { CommandBlock } from "./CopyButton";
import { ConfirmDialog } from "../../lib/ConfirmDialog";
import { StoreMessage } from "./StoreMessage";

function Changes({ title, changes }: { title: string; changes: StoreChange[] }) {
  if (changes.length === 0) return null;
  return (
    <>
      <h4>{title}</h4>
      <ul className="stores">
        {changes.map((change) => {
          const badge = changeBadge(change.result);
          return (
            <li key={storeKey(change.store)} className="store" data-result={change.result}>
              <div className="store-head">
                <strong>{storeLabel(change.store)}</strong>
                <Badge label={badge.label} tone={badge.tone} />
              </div>
              <StoreMessage text={change.detail} what={storeLabel(change.store)} />
            </li>
          );
        })}
      </ul>
    </>
  );
}

export function RotatePanel({ onRotated }: { onRotated: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<RotationReport | null>(null);
  const [failure, setFailure] = useState<{ message: string; unavailable: boolean } | null>(null);

  const rotate = async () => {
    setConfirming(false);
    setBusy(true);
    setFailure(null);
    setReport(null);
    try {
      setReport(await rotateCa());
    } catch (caught) {
      const message = caught instanceof Error ? caught.message : String(caught);
      setFailure({ message, unavailable: caught instanceof ApiError && caught.status === 503 });
    } finally {
      setBusy(false);
      onRotated();
    }
  };

  return (
    <section className="panel danger-zone" aria-labelledby="rotate-title">
      <div className="panel-head">
        <h2 id="rotate-title">Rotate the CA</h2>
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={() => {
            setConfirming(true);
          }}
        >
          {busy ? "Rotating…" : "Rotate CA…"}
        </button>
      </div>
      <p className="hint">
        Creates a new root and intermediate and moves trust to them in the stores on this machine that trusted the old root.
        Use it when the root is about to expire or its key may have leaked. Phones, Java and Node.js must be set up again.
      </p>
      {failure && (
        <div role="alert" className="error">
          <p>
            Rotation failed: <Message text={failure.message} />
          </p>
          {failure.unavailable && <CommandBlock command="portico ca rotate" label="Copy portico ca rotate" />}
        </div>
      )}
      {report && (
        <div className="result" role="status" aria-labelledby="rotate-result-title">
          <h3 id="rotate-result-title">Rotated: the new CA is {report.ca.name}</h3>
          <dl className="facts">
            <dt>New SHA-256</dt>
            <dd>
              <code className="fingerprint">{formatFingerprint(report.ca.sha256)}</code>
            </dd>
            <dt>Old CA moved to</dt>
            <dd>
              <code className="path">{report.retired}</code>
            </dd>
          </dl>
          {report.untrusted.length === 0 && report.trusted.length === 0 && (
            <p className="muted">The old root was trusted nowhere on this machine, so no trust store was changed.</p>
          )}
          <Changes title="Old root removed from" changes={report.untrusted} />
          <Changes title="New root installed in" changes={report.trusted} />
        </div>
      )}
      <ConfirmDialog
        open={confirming}
        title="Rotate Portico's CA?"
        confirmLabel="Rotate the CA"
        danger
        typeToConfirm="rotate"
        onConfirm={() => void rotate()}
        onCancel={() => {
          setConfirming(false);
        }}
      >
        <p>
          The current root is retired and every certificate is re-issued under a new one. Browsers on this machine keep
          working where Portico can move the trust; <strong>phones and other devices that trust the old CA stop trusting
          your local sites</strong> until you install the new one.
        </p>
      </ConfirmDialog>
    </section>
  );
}
