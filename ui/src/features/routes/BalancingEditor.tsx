// The route editor's "Balancing and health" section: the policy over several upstreams, when
// failed requests take one out, and an optional health-check path.
import { POLICIES, type BalancingForm, type Policy } from "./balancing";

interface Props {
  value: BalancingForm;
  /** More than one upstream is listed (the policy and failure fields only matter then). */
  several: boolean;
  error: string | undefined;
  onChange: (next: BalancingForm) => void;
}

/** A short text input for one of the section's numbers (kept as typed). */
function NumberField(props: { id: string; label: string; placeholder: string; value: string; onChange: (text: string) => void }) {
  return (
    <div className="re-field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        inputMode="decimal"
        placeholder={props.placeholder}
        value={props.value}
        onChange={(event) => { props.onChange(event.currentTarget.value); }}
      />
    </div>
  );
}

export function BalancingEditor({ value, several, error, onChange }: Props) {
  const set = <K extends keyof BalancingForm>(key: K, v: BalancingForm[K]) => {
    onChange({ ...value, [key]: v });
  };
  const chosen = POLICIES.find((p) => p.policy === value.policy);
  return (
    <fieldset className="re-balancing" id="re-balancing" aria-describedby={error ? "re-balancing-error" : undefined}>
      <legend>{several ? "Balancing and health" : "Health check"}</legend>
      {several && (
        <>
          <div className="re-field">
            <label htmlFor="re-balance-policy">Which upstream takes a request</label>
            <select
              id="re-balance-policy"
              value={value.policy}
              onChange={(event) => { set("policy", event.currentTarget.value as Policy); }}
            >
              {POLICIES.map((p) => (
                <option key={p.policy} value={p.policy}>
                  {p.label}
                </option>
              ))}
            </select>
            {chosen && <p className="hint re-hint">{chosen.hint}</p>}
          </div>
          <div className="re-row">
            <NumberField id="re-max-fails" label="Failures before resting" placeholder="1" value={value.maxFails} onChange={(t) => { set("maxFails", t); }} />
            <NumberField id="re-cooldown" label="Rest (seconds)" placeholder="10" value={value.cooldownSecs} onChange={(t) => { set("cooldownSecs", t); }} />
          </div>
          <p className="hint re-hint">
            An upstream that fails this many requests in a row is left alone for the rest time. A GET (or another
            request without a body that can safely be repeated) that cannot connect goes to the next upstream.
          </p>
        </>
      )}
      <div className="re-row">
        <div className="re-field re-grow">
          <label htmlFor="re-check-path">Health-check path (empty: a TCP connect every 2 s)</label>
          <input
            id="re-check-path"
            placeholder="/health"
            spellCheck={false}
            value={value.checkPath}
            onChange={(event) => { set("checkPath", event.currentTarget.value); }}
          />
        </div>
        {value.checkPath.trim() !== "" && (
          <>
            <NumberField id="re-check-every" label="Every (seconds)" placeholder="5" value={value.checkEverySecs} onChange={(t) => { set("checkEverySecs", t); }} />
            <NumberField id="re-check-status" label="Healthy status" placeholder="2xx/3xx" value={value.checkStatus} onChange={(t) => { set("checkStatus", t); }} />
          </>
        )}
      </div>
      {error && (
        <p id="re-balancing-error" role="alert" className="re-field-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}
