// The shell: the header with the engine's listeners, the page navigation, and the page the
// hash names. A browser without a session sees how to get one instead of failing pages.
import { useEffect, useState } from "react";
import { getStatus, subscribeEvents } from "../api/client";
import { patchSettings } from "../api/settings";
import { CertificatesPage } from "../features/certificates/CertificatesPage";
import { DoctorPage } from "../features/doctor/DoctorPage";
import { OverviewPage } from "../features/overview/OverviewPage";
import { RoutesPage } from "../features/routes/RoutesPage";
import { SettingsPage } from "../features/settings/SettingsPage";
import { TrafficPage } from "../features/traffic/TrafficPage";
import { usePoll } from "../lib/usePoll";
import { NAV, type Page } from "./router";
import { StatusContext } from "./status";
import { useHashPage } from "./useHashPage";

/** While proxying is paused: say so on every page, with the way back. */
function PausedBanner({ onResumed }: { onResumed: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <div className="paused-banner" role="status">
      <p>
        <strong>Proxying is paused.</strong> Every route answers 503 “Portico is paused” until you resume.{" "}
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            setError(null);
            patchSettings({ proxy_paused: false })
              .then(onResumed)
              .catch((err: unknown) => {
                setError(err instanceof Error ? err.message : String(err));
              })
              .finally(() => {
                setBusy(false);
              });
          }}
        >
          Resume
        </button>
      </p>
      {error !== null && <p role="alert">Cannot resume: {error}</p>}
    </div>
  );
}

function PageView({ page }: { page: Page }) {
  switch (page.name) {
    case "overview":
      return <OverviewPage />;
    case "routes":
      return <RoutesPage />;
    case "traffic":
      return <TrafficPage exchange={page.exchange} />;
    case "certificates":
      return <CertificatesPage />;
    case "doctor":
      return <DoctorPage key={page.host ?? ""} host={page.host} />;
    case "settings":
      return <SettingsPage />;
  }
}

export function App() {
  const status = usePoll(getStatus, 5_000);
  const { reload } = status;
  // Pausing (from the tray, the CLI or Settings) shows at once, not at the next poll.
  useEffect(
    () =>
      subscribeEvents((event) => {
        if (event.type === "settings_changed" || event.type === "lagged") reload();
      }),
    [reload],
  );
  const [page] = useHashPage();
  const loggedOut = status.error?.status === 401;
  const listeners = status.data?.listeners;

  return (
    <StatusContext.Provider value={status.data}>
      <header className="top">
        <a className="brand" href="#/">
          Portico
        </a>
        <nav aria-label="Pages">
          <ul className="nav">
            {NAV.map((item) => (
              <li key={item.name}>
                <a href={item.hash} aria-current={item.name === page.name ? "page" : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {status.data && (
          <p className="muted listeners">
            v{status.data.version} · HTTP {listeners?.http.join(", ") || "off"}
            {listeners && listeners.https.length > 0 ? ` · HTTPS ${listeners.https.join(", ")}` : ""}
          </p>
        )}
      </header>
      <main>
        {status.data?.paused === true && <PausedBanner onResumed={reload} />}
        {status.error && !loggedOut && (
          <p role="alert" className="error">
            {status.error.message}
          </p>
        )}
        {loggedOut ? (
          <section className="panel" role="alert">
            <h1>Not logged in</h1>
            <p>
              This browser has no session with Portico. Run <code>portico open</code> (or use the <code>UI:</code> link{" "}
              <code>portico serve</code> printed) to log in.
            </p>
          </section>
        ) : (
          <PageView page={page} />
        )}
      </main>
    </StatusContext.Provider>
  );
}
