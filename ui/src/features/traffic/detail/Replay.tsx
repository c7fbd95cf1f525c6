// Replaying: as captured in one click, or from a form (method, path and query, headers,
// body) whose refusals the API explains next to the field they concern.
import { useId, useState, type SubmitEvent } from "react";
import { ApiError } from "../../../api/client";
import { replayExchange, type DecodedBody, type Exchange, type Replayed } from "../../../api/exchange";
import { formatBytes } from "../../../lib/format";
import { statusClass, statusText } from "./facts";
import { draftFrom, editsFrom, fieldOf, nextRowId, refusedHeader, type ReplayDraft, type ReplayField } from "./replay";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/** What a replay produced: its status and a link to its exchange. */
export function ReplayOutcome({ result }: { result: Replayed }) {
  const id = result.id ?? null;
  return (
    <span className="xd-outcome">
      Replayed:{" "}
      <span className={`xd-status xd-status-${statusClass(result.status)}`}>{statusText(result.status)}</span>
      {id === null ? (
        <span className="muted"> (not captured: capture is paused or the route does not capture)</span>
      ) : (
        <>
          {" "}
          → <a href={`#/traffic/${id}`}>open exchange #{id}</a>
        </>
      )}
    </span>
  );
}

function messageOf(caught: unknown): string {
  return caught instanceof Error ? caught.message : String(caught);
}

/** The one-click replay: the same request again, as captured. */
export function ReplayButton({ id }: { id: number }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Replayed | null>(null);
  const [error, setError] = useState<string | null>(null);

  const replay = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await replayExchange(id));
    } catch (caught) {
      setError(messageOf(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className="xd-replay">
      <button type="button" onClick={() => void replay()} disabled={busy} aria-describedby={`xd-replay-note-${id}`}>
        {busy ? "Replaying…" : "Replay"}
      </button>
      <span id={`xd-replay-note-${id}`} className="visually-hidden">
        Sends this request through the proxy again, as captured
      </span>
      <span role="status" className="xd-replay-status">
        {result && <ReplayOutcome result={result} />}
      </span>
      {error !== null && (
        <span role="alert" className="error xd-inline-error">
          Replay failed: {error}
        </span>
      )}
    </span>
  );
}

interface FormProps {
  exchange: Exchange;
  body: DecodedBody;
  onCancel: () => void;
}

export function ReplayForm({ exchange, body, onCancel }: FormProps) {
  const base = useId();
  const [draft, setDraft] = useState<ReplayDraft>(() => draftFrom(exchange, body));
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Replayed | null>(null);
  const [error, setError] = useState<{ field: ReplayField | null; message: string } | null>(null);

  const update = (change: Partial<ReplayDraft>) => {
    setDraft((current) => ({ ...current, ...change }));
  };
  const setRow = (id: number, change: { name?: string; value?: string }) => {
    setDraft((current) => ({
      ...current,
      headers: current.headers.map((row) => (row.id === id ? { ...row, ...change } : row)),
    }));
  };

  const submit = async (event: SubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await replayExchange(exchange.id, editsFrom(draft, exchange, body)));
    } catch (caught) {
      const field = caught instanceof ApiError ? fieldOf(caught.field) : null;
      setError({ field, message: messageOf(caught) });
    } finally {
      setBusy(false);
    }
  };

  const errorFor = (field: ReplayField) => (error?.field === field ? error.message : null);
  const errorId = (field: ReplayField) => `${base}-${field}-error`;
  const invalid = (field: ReplayField) =>
    error?.field === field ? { "aria-invalid": true, "aria-describedby": errorId(field) } : {};
  const fieldError = (field: ReplayField) => {
    const message = errorFor(field);
    return message === null ? null : (
      <p id={errorId(field)} role="alert" className="error xd-field-error">
        {message}
      </p>
    );
  };
  const headerError = error?.field === "headers" ? refusedHeader(error.message, draft.headers) : null;
  /** Marks the header input the refusal names (the message below the rows says the rest). */
  const headerInvalid = (id: number, part: "name" | "value") =>
    headerError?.id === id && headerError.part === part
      ? { "aria-invalid": true, "aria-describedby": errorId("headers") }
      : {};
  const encoding = exchange.request_headers.find(([n]) => n?.toLowerCase() === "content-encoding")?.[1];

  return (
    <section
      className="xd-section xd-edit"
      aria-labelledby={`${base}-title`}
      onKeyDown={(event) => {
        // Escape leaves the form (not the whole pane) while working in it.
        if (event.key === "Escape") {
          event.preventDefault();
          onCancel();
        }
      }}
    >
      <h3 id={`${base}-title`}>Edit and replay</h3>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <div className="xd-edit-line">
          <label className="xd-field xd-field-method">
            <span>Method</span>
            <input
              name="method"
              list={`${base}-methods`}
              value={draft.method}
              autoComplete="off"
              spellCheck={false}
              onChange={(event) => {
                update({ method: event.currentTarget.value });
              }}
              {...invalid("method")}
            />
            <datalist id={`${base}-methods`}>
              {METHODS.map((m) => (
                <option key={m} value={m} />
              ))}
            </datalist>
          </label>
          <label className="xd-field xd-field-path">
            <span>Path and query</span>
            <input
              name="path"
              value={draft.target}
              autoComplete="off"
              spellCheck={false}
              onChange={(event) => {
                update({ target: event.currentTarget.value });
              }}
              {...invalid("path")}
            />
          </label>
        </div>
        {fieldError("method")}
        {fieldError("path")}

        <fieldset className="xd-field">
          <legend>Headers</legend>
          <p className="hint">Content-Length and the connection headers are computed when it is sent.</p>
          <ul className="xd-edit-headers">
            {draft.headers.map((row, index) => (
              <li key={row.id}>
                <input
                  aria-label={`Header ${index + 1} name`}
                  value={row.name}
                  autoComplete="off"
                  spellCheck={false}
                  placeholder="name"
                  onChange={(event) => {
                    setRow(row.id, { name: event.currentTarget.value });
                  }}
                  {...headerInvalid(row.id, "name")}
                />
                <input
                  aria-label={`Header ${index + 1} value`}
                  value={row.value}
                  autoComplete="off"
                  spellCheck={false}
                  placeholder="value"
                  onChange={(event) => {
                    setRow(row.id, { value: event.currentTarget.value });
                  }}
                  {...headerInvalid(row.id, "value")}
                />
                <button
                  type="button"
                  className="xd-btn-icon"
                  aria-label={`Remove header ${row.name === "" ? index + 1 : row.name}`}
                  onClick={() => {
                    update({ headers: draft.headers.filter((r) => r.id !== row.id) });
                  }}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
          <button
            type="button"
            className="xd-btn-secondary xd-btn-small"
            onClick={() => {
              update({ headers: [...draft.headers, { id: nextRowId(draft.headers), name: "", value: "" }] });
            }}
          >
            Add header
          </button>
          {fieldError("headers")}
        </fieldset>

        <label className="xd-field">
          <span>Body</span>
          <textarea
            name="body"
            value={draft.body}
            rows={Math.min(14, Math.max(4, draft.body.split("\n").length + 1))}
            spellCheck={false}
            placeholder={
              draft.binaryBody
                ? `The captured binary body (${formatBytes(body.size)}) is sent unless you type a replacement`
                : "No body"
            }
            onChange={(event) => {
              update({ body: event.currentTarget.value });
            }}
            {...invalid("body")}
          />
        </label>
        {encoding !== undefined && (
          <p className="hint">
            The captured body was sent {encoding}-encoded and is shown decoded. Left as it is, the original bytes are
            sent; if you edit it, also remove the Content-Encoding header.
          </p>
        )}
        {fieldError("body")}
        {error !== null && error.field === null && (
          <p role="alert" className="error">
            {error.message}
          </p>
        )}

        <div className="xd-actions">
          <button type="submit" disabled={busy}>
            {busy ? "Sending…" : "Send"}
          </button>
          <button
            type="button"
            className="xd-btn-secondary"
            onClick={() => {
              setDraft(draftFrom(exchange, body));
              setError(null);
              setResult(null);
            }}
          >
            Reset
          </button>
          <button type="button" className="xd-btn-secondary" onClick={onCancel}>
            Cancel
          </button>
          <span role="status">{result && <ReplayOutcome result={result} />}</span>
        </div>
      </form>
    </section>
  );
}
