// The Settings page's inputs: each with its label, unit, bounds or default, help, and the
// error (the form's own check, or the API's refusal) right under it.
import { useId, useState } from "react";
import {
  BUILTIN_SUFFIXES,
  echo,
  isLowPort,
  NUMBER_FIELDS,
  parseNumber,
  parseSuffix,
  type AddressKey,
  type NumberKey,
  type SwitchKey,
} from "./form";

function FieldError({ id, error, refused }: { id: string; error: string | null; refused: boolean }) {
  if (error === null) return null;
  return (
    <p id={id} className="field-error" role={refused ? "alert" : undefined} data-refused={refused || undefined}>
      {refused && <strong>Refused: </strong>}
      {error}
    </p>
  );
}

interface NumberProps {
  name: NumberKey;
  /** The setting applies when `portico serve` starts again. */
  nextStart: boolean;
  value: string;
  error: string | null;
  refused: boolean;
  onChange: (value: string) => void;
}

export function NumberInput({ name, nextStart, value, error, refused, onChange }: NumberProps) {
  const field = NUMBER_FIELDS[name];
  const id = useId();
  const parsed = parseNumber(field, value);
  const reading = parsed.ok ? echo(name, parsed.value) : null;
  const bounds = `${field.min.toLocaleString("en-US")}–${field.max.toLocaleString("en-US")} ${field.unit}`;
  return (
    <div className={error === null ? "field" : "field field-invalid"}>
      <label htmlFor={id}>
        {field.label}
        {nextStart && <span className="tag">next start</span>}
      </label>
      <div className="with-unit">
        <input
          id={id}
          name={name}
          data-field={name}
          type="text"
          inputMode="numeric"
          autoComplete="off"
          spellCheck={false}
          value={value}
          aria-invalid={error !== null}
          aria-describedby={`${id}-help ${id}-error`}
          onChange={(event) => {
            onChange(event.currentTarget.value);
          }}
        />
        <span className="unit" aria-hidden="true">
          {field.unit}
        </span>
        {reading !== null && <span className="reading muted">= {reading}</span>}
      </div>
      <FieldError id={`${id}-error`} error={error} refused={refused} />
      <p id={`${id}-help`} className="help">
        {field.help} <span className="bounds">{bounds}; default {field.defaultValue.toLocaleString("en-US")}.</span>
      </p>
    </div>
  );
}

interface AddressProps {
  name: AddressKey;
  label: string;
  value: string;
  /** What the running engine is bound to now. */
  bound: readonly string[] | undefined;
  fallback: string;
  error: string | null;
  refused: boolean;
  onChange: (value: string) => void;
}

export function AddressField({ name, label, value, bound, fallback, error, refused, onChange }: AddressProps) {
  const id = useId();
  return (
    <div className={error === null ? "field field-wide" : "field field-wide field-invalid"}>
      <label htmlFor={id}>
        {label}
        <span className="tag">next start</span>
      </label>
      <input
        id={id}
        name={name}
        data-field={name}
        type="text"
        autoComplete="off"
        spellCheck={false}
        placeholder="default"
        value={value}
        aria-invalid={error !== null}
        aria-describedby={`${id}-help ${id}-error`}
        onChange={(event) => {
          onChange(event.currentTarget.value);
        }}
      />
      <FieldError id={`${id}-error`} error={error} refused={refused} />
      <p id={`${id}-help`} className="help">
        <code>IP:PORT</code>, e.g. <code>{name === "admin_listen" ? "127.0.0.1:7080" : "0.0.0.0:8080"}</code>
        {name === "admin_listen" ? " (loopback only)" : ""}. Empty: {fallback}.{" "}
        {bound !== undefined && (
          <span>
            {bound.length > 0 ? (
              <>
                Listening now on <strong>{bound.join(", ")}</strong>.
              </>
            ) : (
              <>
                Off now{name === "https_listen" ? <> (started with <code>--no-https</code>, which this setting does not override)</> : ""}.
              </>
            )}
          </span>
        )}
      </p>
      {isLowPort(value) && (
        <p className="help warn-text">
          Port {value.trim().split(":").pop()} is below 1024: Portico needs the privilege to bind it (see below), or it does
          not start.
        </p>
      )}
    </div>
  );
}

interface SwitchProps {
  name: SwitchKey;
  label: string;
  help: string;
  checked: boolean;
  error: string | null;
  onChange: (value: boolean) => void;
}

export function SwitchField({ name, label, help, checked, error, onChange }: SwitchProps) {
  const id = useId();
  return (
    <div className="field field-switch">
      <label className="switch" htmlFor={id}>
        <input
          id={id}
          name={name}
          data-field={name}
          type="checkbox"
          role="switch"
          checked={checked}
          aria-describedby={`${id}-help ${id}-error`}
          onChange={(event) => {
            onChange(event.currentTarget.checked);
          }}
        />
        <span>{label}</span>
      </label>
      <p id={`${id}-help`} className="help">
        {help}
      </p>
      <FieldError id={`${id}-error`} error={error} refused={error !== null} />
    </div>
  );
}

interface SuffixProps {
  suffixes: string[];
  error: string | null;
  refused: boolean;
  onChange: (suffixes: string[]) => void;
}

export function SuffixEditor({ suffixes, error, refused, onChange }: SuffixProps) {
  const id = useId();
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  const add = () => {
    const parsed = parseSuffix(text, suffixes);
    if (!parsed.ok) {
      setProblem(parsed.error);
      return;
    }
    onChange([...suffixes, parsed.value]);
    setText("");
    setProblem(null);
  };

  return (
    <div className={error === null ? "field field-wide" : "field field-wide field-invalid"}>
      <p className="hint section-hint">
        Names Portico&apos;s CA signs certificates for, besides the built-in ones. Add one when your dev names end in
        something else (e.g. <code>lan</code> for <code>app.lan</code>). Applies at once: the intermediate certificate is
        re-issued under the same root, so nothing needs trusting again.
      </p>
      <ul className="suffixes" aria-label="Local suffixes">
        {BUILTIN_SUFFIXES.map((suffix) => (
          <li key={suffix} className="suffix builtin" title="Built in">
            <code>{suffix}</code>
            <span className="muted small">built in</span>
          </li>
        ))}
        {suffixes.map((suffix) => (
          <li key={suffix} className="suffix" data-suffix={suffix}>
            <code>{suffix}</code>
            <button
              type="button"
              className="remove"
              aria-label={`Remove suffix ${suffix}`}
              onClick={() => {
                onChange(suffixes.filter((s) => s !== suffix));
              }}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <div className="suffix-add">
        <label htmlFor={id}>Add a suffix</label>
        <input
          id={id}
          data-field="local_suffixes"
          type="text"
          autoComplete="off"
          spellCheck={false}
          placeholder="lan"
          value={text}
          aria-invalid={problem !== null || error !== null}
          aria-describedby={`${id}-problem ${id}-error`}
          onChange={(event) => {
            setText(event.currentTarget.value);
            setProblem(null);
          }}
          onKeyDown={(event) => {
            if (event.key === "Enter") {
              event.preventDefault();
              add();
            }
          }}
        />
        <button type="button" className="secondary" onClick={add}>
          Add
        </button>
      </div>
      {problem !== null ? (
        <p id={`${id}-problem`} className="field-error">
          {problem}
        </p>
      ) : (
        text.trim() !== "" && (
          <p id={`${id}-problem`} className="help">
            Press Enter or <strong>Add</strong> to put it in the list; Save sends the list.
          </p>
        )
      )}
      <FieldError id={`${id}-error`} error={error} refused={refused} />
    </div>
  );
}

interface ListProps {
  name: string;
  label: string;
  help: string;
  value: string;
  placeholder: string;
  error: string | null;
  refused: boolean;
  onChange: (value: string) => void;
}

/** A setting typed as free text: an address list (commas, spaces or lines), an optional number. */
export function TextField({ name, label, help, value, placeholder, error, refused, onChange }: ListProps) {
  const id = useId();
  return (
    <div className={error === null ? "field field-wide" : "field field-wide field-invalid"}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        data-field={name}
        type="text"
        autoComplete="off"
        spellCheck={false}
        placeholder={placeholder}
        value={value}
        aria-invalid={error !== null}
        aria-describedby={`${id}-help ${id}-error`}
        onChange={(event) => {
          onChange(event.currentTarget.value);
        }}
      />
      <FieldError id={`${id}-error`} error={error} refused={refused} />
      <p id={`${id}-help`} className="help">
        {help}
      </p>
    </div>
  );
}
