// Discovered services: what listens on loopback and no route forwards to yet, each one click
// away from a route.
import { useState } from "react";
import { mapService, type Route, type Service } from "../../api/client";
import { describeService, sanitizeHost, unmappedServices } from "./links";
import type { LoadError } from "../../lib/usePoll";

interface Props {
  services: Service[] | undefined;
  error: LoadError | undefined;
  onMapped: (route: Route) => void;
}

export function ServicesPanel({ services, error, onMapped }: Props) {
  const unmapped = services === undefined ? undefined : unmappedServices(services);
  const mappedCount = services === undefined ? 0 : services.length - (unmapped?.length ?? 0);
  return (
    <section aria-labelledby="services-title" className="panel">
      <h2 id="services-title">Discovered services</h2>
      <p className="hint">
        Dev servers listening on this machine that no route forwards to yet. Map one to give it a name.
      </p>
      {error && <p role="alert" className="error">{error.message}</p>}
      {unmapped === undefined && !error && <p className="muted">Looking for services…</p>}
      {unmapped !== undefined && unmapped.length === 0 && (
        <div className="empty">
          <p>
            <strong>No unmapped dev servers found.</strong> Start your dev server (for example{" "}
            <code>npm run dev</code>) and it appears here within a few seconds.
          </p>
          {mappedCount > 0 && (
            <p className="muted">
              {mappedCount === 1 ? "1 service is" : `${mappedCount} services are`} already mapped below.
            </p>
          )}
        </div>
      )}
      {unmapped !== undefined && unmapped.length > 0 && (
        <ul className="services" aria-label="Unmapped services">
          {unmapped.map((service) => (
            <ServiceItem key={service.port} service={service} onMapped={onMapped} />
          ))}
        </ul>
      )}
    </section>
  );
}

function ServiceItem({ service, onMapped }: { service: Service; onMapped: (route: Route) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const host = sanitizeHost(service.suggested_host);

  const map = async () => {
    if (host === null) return;
    setBusy(true);
    setError(null);
    try {
      onMapped(await mapService(host, service.port));
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="service" data-port={service.port}>
      <div className="service-port">:{service.port}</div>
      <div className="service-info">
        <div>{describeService(service)}</div>
        <div className="muted path" title={service.command ?? undefined}>
          {service.cwd ?? "folder unknown"}
        </div>
      </div>
      <div className="service-action">
        {host === null ? (
          <span className="muted">No usable name: add it with <code>portico route add NAME {service.port}</code></span>
        ) : (
          <>
            <span className="muted">→ {host}</span>
            <button
              type="button"
              onClick={() => void map()}
              disabled={busy}
              aria-label={`Map port ${service.port} to ${host}`}
            >
              {busy ? "Mapping…" : "Map"}
            </button>
          </>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </div>
    </li>
  );
}
