// Deleting a route asks first; the route is gone from the proxy as soon as the API answers.
import { useId, useState } from "react";
import type { Route } from "../../api/client";
import { deleteRoute } from "../../api/routes";
import { Modal } from "../../lib/Modal";

interface Props {
  route: Route;
  onDeleted: (id: number) => void;
  onClose: () => void;
}

export function ConfirmDelete({ route, onDeleted, onClose }: Props) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const titleId = useId();
  const textId = useId();
  const name = route.path === "/" ? route.host : `${route.host}${route.path}`;

  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await deleteRoute(route.id);
      onDeleted(route.id);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
      setBusy(false);
    }
  };

  return (
    <Modal labelledBy={titleId} describedBy={textId} className="re-confirm" role="alertdialog" onClose={onClose}>
      <h2 id={titleId}>Delete {name}?</h2>
      <p id={textId}>
        Requests for <code>{name}</code> get Portico&apos;s &ldquo;no route&rdquo; page from now on.
        {route.project && (
          <>
            {" "}
            The project&apos;s <code>portico.json</code> adds it back on the next <code>portico up</code>.
          </>
        )}
      </p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="re-footer">
        <span className="re-spacer" />
        <button type="button" className="re-secondary" data-autofocus onClick={onClose}>
          Keep it
        </button>
        <button type="button" className="re-danger-solid" disabled={busy} onClick={() => void remove()}>
          {busy ? "Deleting…" : "Delete route"}
        </button>
      </div>
    </Modal>
  );
}
