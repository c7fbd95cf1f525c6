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
            <div className="re-field">
              <label htmlFor="re-max-fails">Failures before resting</label>
              <input
                id="re-max-fails"
                inputMode="numeric"
                placeholder="1"
                value={value.maxFails}
                onChange={(event) => { set("maxFails", event.currentTarget.value); }}
              />
            </div>
            <div className="re-field">
              <label htmlFor="re-cooldown">Rest (seconds)</label>
              <input
                id="re-cooldown"
                inputMode="decimal"
                placeholder="10"
                value={value.cooldownSecs}
                onChange={(event) => { set("cooldownSecs", event.currentTarget.value); }}
              />
            </div>
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
            <div className="re-field">
              <label htmlFor="re-check-every">Every (seconds)</label>
              <input
                id="re-check-every"
                inputMode="decimal"
                placeholder="5"
                value={value.checkEverySecs}
                onChange={(event) => { set("checkEverySecs", event.currentTarget.value); }}
              />
            </div>
            <div className="re-field">
              <label htmlFor="re-check-status">Healthy status</label>
              <input
                id="re-check-status"
                inputMode="numeric"
                placeholder="2xx/3xx"
                value={value.checkStatus}
                onChange={(event) => { set("checkStatus", event.currentTarget.value); }}
              />
            </div>
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
