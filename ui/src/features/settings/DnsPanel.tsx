// The DNS responder's state and the one-time resolver setup for this machine, under the
// wildcard-names settings. Read from `/api/v1/dns`, again when the settings change.
import { useEffect } from "react";
import { subscribeEvents } from "../../api/client";
import { getDns } from "../../api/dns";
import { usePoll } from "../../lib/usePoll";
import { CommandBlock } from "../certificates/CopyButton";
import { dnsHeadline } from "./dns";

export function DnsPanel() {
  const dns = usePoll(getDns, 5_000);
  const { reload } = dns;
  useEffect(
    () =>
      subscribeEvents((event) => {
        if (event.type === "settings_changed" || event.type === "lagged") reload();
      }),
    [reload],
  );

  if (dns.data === undefined) {
    return dns.error ? <p className="error">Cannot read the DNS responder: {dns.error.message}</p> : null;
  }
  const { status, plan } = dns.data;
  const headline = dnsHeadline(status);
  return (
    <div className="dns" data-testid="dns-panel">
      <p className={`dns-state dns-${headline.tone}`} role={headline.tone === "error" ? "alert" : "status"}>
        {headline.text}
      </p>
      {status.suffixes.length > 0 && (
        <ul className="dns-suffixes" aria-label="Resolver per suffix">
          {status.suffixes.map((s) => (
            <li key={s.suffix} data-suffix={s.suffix}>
              <code>*.{s.suffix}</code>{" "}
              <span className={s.resolver_configured ? "dns-ok" : "muted"}>
                {s.resolver_configured ? "✓ resolver configured" : "resolver not configured"}
              </span>
              <span className="help"> — {s.detail}</span>
            </li>
          ))}
        </ul>
      )}
      {status.enabled && (
        <details className="dns-setup" open={status.suffixes.some((s) => !s.resolver_configured)}>
          <summary>One-time resolver setup for this machine</summary>
          <p className="help">{plan.note}</p>
          {plan.setup_script !== "" && (
            <>
              <p className="help">
                {plan.supported ? (
                  <>
                    Run <code>portico dns setup</code> as root, or these commands:
                  </>
                ) : (
                  "What works instead:"
                )}
              </p>
              <CommandBlock command={plan.setup_script.trimEnd()} label="Copy the resolver setup commands" />
            </>
          )}
          {plan.supported && plan.teardown_script !== "" && (
            <>
              <p className="help">
                To undo it: <code>portico dns teardown</code>, or:
              </p>
              <CommandBlock command={plan.teardown_script.trimEnd()} label="Copy the resolver teardown commands" />
            </>
          )}
        </details>
      )}
    </div>
  );
}
