// A modal confirmation on the shared `Modal` (the page behind is inert, Escape cancels, focus
// comes back to the opener). With `typeToConfirm`, the confirm button stays disabled until
// that word is typed.
import { useId, useState, type ReactNode } from "react";
import { Modal } from "./Modal";
import "./confirm.css";

interface Props {
  open: boolean;
  title: string;
  confirmLabel: string;
  danger?: boolean;
  typeToConfirm?: string;
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
}

export function ConfirmDialog(props: Props) {
  // Mounted only while open, so a reopened dialog starts with nothing typed.
  return props.open ? <Confirm {...props} /> : null;
}

function Confirm({ title, confirmLabel, danger = false, typeToConfirm, onConfirm, onCancel, children }: Props) {
  const [typed, setTyped] = useState("");
  const titleId = useId();
  const inputId = useId();
  const ready = typeToConfirm === undefined || typed.trim().toLowerCase() === typeToConfirm.toLowerCase();

  return (
    <Modal labelledBy={titleId} className="confirm" onClose={onCancel}>
      {/* The dialog may sit inside another form (the Settings page's), where a submit button
          would submit that one natively: confirming is a click, and Enter in the field submits
          this form only. */}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          event.stopPropagation();
          if (ready) onConfirm();
        }}
      >
        <h2 id={titleId}>{title}</h2>
        {children}
        {typeToConfirm !== undefined && (
          <p>
            <label htmlFor={inputId}>
              Type <strong>{typeToConfirm}</strong> to confirm
            </label>
            <input
              id={inputId}
              type="text"
              autoComplete="off"
              spellCheck={false}
              value={typed}
              onChange={(event) => {
                setTyped(event.currentTarget.value);
              }}
            />
          </p>
        )}
        <div className="confirm-actions">
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
          <button
            type="button"
            className={danger ? "danger" : undefined}
            disabled={!ready}
            onClick={() => {
              onConfirm();
            }}
          >
            {confirmLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}
