// The CA itself: name, fingerprint, expiry of the root and the intermediate, the names it
// signs for, where its file is, and the download.
import { CA_PEM_URL, type CaReport } from "../../api/certificates";
import { Badge } from "./Badge";
import { describeExpiry, fingerprintLines, formatFingerprint, type Expiry } from "./ca";
import { CopyButton } from "./CopyButton";

/** Warn this long before the root expires: every device that trusts it must trust a new one. */
const ROOT_WARN_DAYS = 90;

function ExpiryLine({ expiry, renews }: { expiry: Expiry; renews: boolean }) {
  const date = new Date(`${expiry.date}T00:00:00Z`).toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" });
  return (
    <span className="expiry">
      <time dateTime={expiry.date}>{date}</time>{" "}
      {expiry.level === "ok" || renews ? (
        <span className="muted">({expiry.text})</span>
      ) : (
        <Badge label={expiry.level === "expired" ? expiry.text : `expires ${expiry.text}`} tone={expiry.level === "expired" ? "bad" : "warn"} />
      )}
      {renews && <span className="muted"> · renewed automatically</span>}
    </span>
  );
}

export function CaSummary({ ca, now }: { ca: CaReport; now: number }) {
  const root = describeExpiry(ca.expires, now, ROOT_WARN_DAYS);
  const intermediate = describeExpiry(ca.intermediate_expires, now, 0);

  return (
    <section className="panel" aria-labelledby="ca-title">
      <div className="panel-head">
        <h2 id="ca-title">{ca.name}</h2>
        <a className="button" href={CA_PEM_URL} download="portico-ca.pem">
          Download CA certificate (.pem)
        </a>
      </div>
      {root.level !== "ok" && (
        <p role="alert" className="error">
          {root.level === "expired"
            ? "The root certificate has expired: browsers refuse every certificate it signed. Rotate the CA below and trust the new one."
            : `The root certificate expires ${root.text}. Rotate the CA before then and trust the new one on your devices.`}
        </p>
      )}
      <dl className="facts">
        <dt>SHA-256 fingerprint</dt>
        <dd className="fingerprint-row">
          <code className="fingerprint" aria-label={`SHA-256 fingerprint ${formatFingerprint(ca.sha256)}`}>
            {fingerprintLines(ca.sha256).map((line) => (
              <span key={line}>{line}</span>
            ))}
          </code>
          <CopyButton text={formatFingerprint(ca.sha256)} label="Copy the SHA-256 fingerprint" />
        </dd>
        <dt>Root expires</dt>
        <dd data-testid="root-expiry">
          <ExpiryLine expiry={root} renews={false} />
        </dd>
        <dt>Intermediate expires</dt>
        <dd data-testid="intermediate-expiry">
          <ExpiryLine expiry={intermediate} renews={true} />
        </dd>
        <dt>Signs for</dt>
        <dd>
          <ul className="chips" aria-label="Suffixes the CA signs for">
            {ca.suffixes.map((suffix) => (
              <li key={suffix}>
                <code>{suffix}</code>
              </li>
            ))}
          </ul>
          <span className="muted">
            names under these suffixes, and the loopback addresses 127.0.0.0/8 and ::1. Add suffixes in{" "}
            <a href="#/settings">Settings</a>.
          </span>
        </dd>
        <dt>File</dt>
        <dd className="fingerprint-row">
          <code className="path">{ca.path}</code>
          <CopyButton text={ca.path} label="Copy the CA file's path" />
        </dd>
      </dl>
    </section>
  );
}
