// What the table says when it has no rows: loading, nothing matches, or (for a newcomer) how
// to make some traffic.
import type { Route } from "../../api/client";
import { useStatus } from "../../app/status";
import { routeUrl } from "../routes/links";

interface Props {
  loading: boolean;
  filtered: boolean;
  routes: readonly Route[] | undefined;
  onResetFilters: () => void;
}

export function TrafficEmpty({ loading, filtered, routes, onResetFilters }: Props) {
  const listeners = useStatus()?.listeners;
  if (loading) return <p className="muted traffic-empty">Loading traffic…</p>;
  if (filtered) {
    return (
      <div className="traffic-empty" data-testid="traffic-empty">
        <p>No exchanges match these filters yet. New ones that match appear here as they happen.</p>
        <button type="button" className="secondary" onClick={onResetFilters}>
          Reset filters
        </button>
      </div>
    );
  }
  const links = (routes ?? [])
    .filter((route) => route.enabled)
    .map((route) => ({ route, url: listeners ? routeUrl(route, listeners) : null }))
    .filter((entry): entry is { route: Route; url: string } => entry.url !== null)
    .slice(0, 5);
  return (
    <div className="traffic-empty" data-testid="traffic-empty">
      <h2>No traffic yet</h2>
      <p>Every request that goes through Portico shows up here as it happens, with its headers, bodies and timing.</p>
      {links.length > 0 ? (
        <>
          <p>Open one of your routes to make some:</p>
          <ul>
            {links.map(({ route, url }) => (
              <li key={route.id}>
                <a href={url} target="_blank" rel="noreferrer">
                  {url}
                </a>
              </li>
            ))}
          </ul>
          <p className="muted">
            Or map another service on the <a href="#/routes">Routes</a> page.
          </p>
        </>
      ) : (
        <p>
          No route yet: map a service running on this machine on the <a href="#/routes">Routes</a> page, then open
          its address (like <code>http://myapp.localhost/</code>).
        </p>
      )}
    </div>
  );
}
