// The Certificates page: Portico's CA (fingerprint, expiry, download), where it is trusted
// and the actions that change that, installing it on a phone, and rotating it.
import { useEffect, useState } from "react";
import { getCa } from "../../api/certificates";
import { subscribeEvents } from "../../api/client";
import { useStatus } from "../../app/status";
import { usePoll } from "../../lib/usePoll";
import { CaSummary } from "./CaSummary";
import { PhonePanel } from "./PhonePanel";
import { RotatePanel } from "./RotatePanel";
import { TrustPanel } from "./TrustPanel";
import "./certificates.css";

export function CertificatesPage() {
  // Checking the stores runs their programs (certutil, keytool): poll slowly, and re-read
  // at once when the engine says the CA or the settings (its suffixes) changed.
  const ca = usePoll(getCa, 30_000);
  const { reload } = ca;
  const status = useStatus();
  const [now] = useState(Date.now);

  useEffect(
    () =>
      subscribeEvents((event) => {
        if (event.type === "ca_changed" || event.type === "settings_changed" || event.type === "lagged") reload();
      }),
    [reload],
  );

  const httpsOff = status !== undefined && status.listeners.https.length === 0;

  return (
    <div className="certs">
      <header className="page-head">
        <h1>Certificates</h1>
        <p className="muted">
          Portico signs HTTPS certificates for your local names with its own certificate authority. Trust it once on each
          machine or device, and <code>https://app.localhost</code> just works.
        </p>
      </header>

      {httpsOff && (
        <div className="notice" role="note" data-testid="https-off">
          <p>
            <strong>HTTPS is off:</strong> this Portico serves plain HTTP only (it was started with{" "}
            <code>--no-https</code>). The CA below is ready for when you turn it on: start <code>portico serve</code>{" "}
            without <code>--no-https</code>.
          </p>
        </div>
      )}

      {ca.error && (
        <p role="alert" className="error">
          Cannot load the CA: {ca.error.message}
        </p>
      )}
      {ca.data === undefined && !ca.error && <p className="muted">Loading the CA and checking the trust stores…</p>}

      {ca.data && (
        <>
          <CaSummary ca={ca.data} now={now} />
          <TrustPanel ca={ca.data} onChanged={reload} />
          {status && (
            <PhonePanel
              httpListeners={status.listeners.http}
              // Absent from engines older than the field: the panel then says how to find the address.
              networkAddresses={(status as Partial<typeof status>).network_addresses}
            />
          )}
          <RotatePanel onRotated={reload} />
        </>
      )}
    </div>
  );
}
