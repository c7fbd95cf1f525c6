// The shell: the header with the engine's listeners, the page navigation, and the page the
// hash names. A browser without a session sees how to get one instead of failing pages.
import { getStatus } from "../api/client";
import { CertificatesPage } from "../features/certificates/CertificatesPage";
import { OverviewPage } from "../features/overview/OverviewPage";
import { RoutesPage } from "../features/routes/RoutesPage";
import { SettingsPage } from "../features/settings/SettingsPage";
import { TrafficPage } from "../features/traffic/TrafficPage";
import { usePoll } from "../lib/usePoll";
import { NAV, type Page } from "./router";
import { StatusContext } from "./status";
import { useHashPage } from "./useHashPage";

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
    case "settings":
      return <SettingsPage />;
  }
}

export function App() {
  const status = usePoll(getStatus, 5_000);
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
