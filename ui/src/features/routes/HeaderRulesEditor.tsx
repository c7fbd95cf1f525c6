// Header rules as rows: set (replace), add (append) or remove a header. A `Name: value` line
// pasted into the name input is split into both.
import { emptyHeaderRow, splitHeaderLine, type HeaderRow, type RuleKind } from "./form";

const KINDS: { kind: RuleKind; label: string }[] = [
  { kind: "set", label: "Set" },
  { kind: "add", label: "Add" },
  { kind: "remove", label: "Remove" },
];

interface Props {
  /** `request` or `response`: names the inputs. */
  which: "request" | "response";
  legend: string;
  hint: string;
  rows: HeaderRow[];
  onChange: (rows: HeaderRow[]) => void;
  error: string | undefined;
}

export function HeaderRulesEditor({ which, legend, hint, rows, onChange, error }: Props) {
  const id = `re-${which}-headers`;
  const errorId = `${id}-error`;
  const update = (rowId: number, change: Partial<HeaderRow>) => {
    onChange(rows.map((row) => (row.id === rowId ? { ...row, ...change } : row)));
  };
  const add = () => {
    const row = emptyHeaderRow();
    onChange([...rows, row]);
    // Focus the new row's name once it is drawn.
    requestAnimationFrame(() => document.getElementById(`${id}-name-${row.id}`)?.focus());
  };
  const remove = (index: number) => {
    const next = rows.filter((_, i) => i !== index);
    onChange(next);
    const neighbour = next[Math.min(index, next.length - 1)];
    requestAnimationFrame(() =>
      document.getElementById(neighbour ? `${id}-name-${neighbour.id}` : `${id}-add`)?.focus(),
    );
  };

  return (
    <fieldset className="re-rules" id={id} aria-describedby={error ? errorId : `${id}-hint`}>
      <legend>{legend}</legend>
      <p className="hint re-hint" id={`${id}-hint`}>
        {hint}
      </p>
      {rows.length > 0 && (
        <div className="re-rule-grid" role="group" aria-label={`${legend}: rules`}>
          <span className="re-rule-head" aria-hidden="true">
            Action
          </span>
          <span className="re-rule-head" aria-hidden="true">
            Header
          </span>
          <span className="re-rule-head" aria-hidden="true">
            Value
          </span>
          <span aria-hidden="true" />
          {rows.map((row, index) => {
            const n = index + 1;
            const what = `${legend} rule ${n}`;
            return (
              <div className="re-rule-row" key={row.id} data-rule={n}>
                <select
                  aria-label={`${what}: action`}
                  value={row.kind}
                  onChange={(event) => { update(row.id, { kind: event.currentTarget.value as RuleKind }); }}
                >
                  {KINDS.map(({ kind, label }) => (
                    <option key={kind} value={kind}>
                      {label}
                    </option>
                  ))}
                </select>
                <input
                  id={`${id}-name-${row.id}`}
                  aria-label={`${what}: header name`}
                  aria-invalid={error ? true : undefined}
                  placeholder="X-Frame-Options"
                  spellCheck={false}
                  autoComplete="off"
                  value={row.name}
                  onChange={(event) => {
                    const text = event.currentTarget.value;
                    const split = row.kind === "remove" ? null : splitHeaderLine(text);
                    update(row.id, split && row.value === "" ? split : { name: text });
                  }}
                />
                {row.kind === "remove" ? (
                  <span className="muted re-rule-none">(whole header)</span>
                ) : (
                  <input
                    aria-label={`${what}: value`}
                    placeholder="DENY"
                    spellCheck={false}
                    autoComplete="off"
                    value={row.value}
                    onChange={(event) => { update(row.id, { value: event.currentTarget.value }); }}
                  />
                )}
                <button
                  type="button"
                  className="re-icon-button"
                  aria-label={`Remove ${what}`}
                  title="Remove this rule"
                  onClick={() => { remove(index); }}
                >
                  ×
                </button>
              </div>
            );
          })}
        </div>
      )}
      {error && (
        <p id={errorId} role="alert" className="re-field-error">
          {error}
        </p>
      )}
      <button type="button" id={`${id}-add`} className="re-secondary re-small" onClick={add}>
        Add {which} header rule
      </button>
    </fieldset>
  );
}
