// The routes: where each is reachable, what it forwards to, whether its upstream answers, and
// the switches that change it at once.
import { useState } from "react";
import { patchRoute, type Listeners, type Route, type RouteHealth } from "../../api/client";
import { describeTarget, routeUrl } from "./links";
import type { LoadError } from "../../lib/usePoll";

type Toggle = "enabled" | "cache" | "compress";
const TOGGLES: { field: Toggle; label: string }[] = [
  { field: "enabled", label: "Enabled" },
  { field: "cache", label: "Cache" },
  { field: "compress", label: "Compress" },
];

interface Props {
  routes: Route[] | undefined;
  error: LoadError | undefined;
  listeners: Listeners | undefined;
  health: RouteHealth[] | undefined;
  onChanged: (route: Route) => void;
}

export function RoutesTable({ routes, error, listeners, health, onChanged }: Props) {
  return (
    <section aria-labelledby="routes-title" className="panel">
      <h2 id="routes-title">Routes</h2>
      {error && <p role="alert" className="error">{error.message}</p>}
      {routes === undefined && !error && <p className="muted">Loading routes…</p>}
      {routes !== undefined && routes.length === 0 && (
        <div className="empty">
          <p>
            <strong>No routes yet.</strong> Map a discovered service above, or run{" "}
            <code>portico route add app.localhost 5173</code> to send <code>app.localhost</code> to the dev server
            on port 5173.
          </p>
        </div>
      )}
      {routes !== undefined && routes.length > 0 && (
        <table className="routes">
          <thead>
            <tr>
              <th scope="col">Route</th>
              <th scope="col">Target</th>
              <th scope="col">Health</th>
              {TOGGLES.map(({ field, label }) => (
                <th scope="col" key={field}>
                  {label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {routes.map((route) => (
              <RouteRow
                key={route.id}
                route={route}
                listeners={listeners}
                health={health?.find((h) => h.route_id === route.id)}
                onChanged={onChanged}
              />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

interface RowProps {
  route: Route;
  listeners: Listeners | undefined;
  health: RouteHealth | undefined;
  onChanged: (route: Route) => void;
}

function RouteRow({ route, listeners, health, onChanged }: RowProps) {
  const [busy, setBusy] = useState<Toggle | null>(null);
  // The value asked for while the PATCH is under way, so the switch moves at once.
  const [wanted, setWanted] = useState<{ field: Toggle; value: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const name = route.path === "/" ? route.host : `${route.host}${route.path}`;
  const url = listeners ? routeUrl(route, listeners) : null;

  const toggle = async (field: Toggle, value: boolean) => {
    setBusy(field);
    setWanted({ field, value });
    setError(null);
    try {
      onChanged(await patchRoute(route.id, { [field]: value }));
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(null);
      setWanted(null);
    }
  };

  return (
    <>
      <tr data-route-id={route.id} data-host={route.host} className={route.enabled ? undefined : "disabled"}>
        <th scope="row">
          {url ? (
            <a href={url} target="_blank" rel="noreferrer">
              {name}
            </a>
          ) : (
            <span>{name}</span>
          )}
        </th>
        <td className="target">{describeTarget(route)}</td>
        <td>
          <HealthDot route={route} health={health} />
        </td>
        {TOGGLES.map(({ field, label }) => (
          <td key={field}>
            <label className="switch">
              <input
                type="checkbox"
                role="switch"
                name={field}
                checked={wanted?.field === field ? wanted.value : route[field]}
                disabled={busy !== null}
                onChange={(event) => void toggle(field, event.currentTarget.checked)}
              />
              <span className="visually-hidden">
                {label} for {name}
              </span>
            </label>
          </td>
        ))}
      </tr>
      {error && (
        <tr className="row-error">
          <td colSpan={3 + TOGGLES.length} role="alert" className="error">
            {name}: {error}
          </td>
        </tr>
      )}
    </>
  );
}

function HealthDot({ route, health }: { route: Route; health: RouteHealth | undefined }) {
  let state: "up" | "down" | "unknown";
  let text: string;
  if (!route.enabled) {
    state = "unknown";
    text = "disabled";
  } else if (route.static_dir || route.redirect) {
    state = "unknown";
    text = "not probed (no upstream)";
  } else if (health === undefined) {
    state = "unknown";
    text = "not probed yet";
  } else if (health.up) {
    state = "up";
    text = health.latency_ms == null ? "up" : `up (${health.latency_ms.toFixed(1)} ms)`;
  } else {
    state = "down";
    text = `down: ${health.error ?? "not accepting connections"}`;
  }
  return (
    <span className="health" data-health={state} title={text}>
      <span className={`dot dot-${state}`} aria-hidden="true" />
      <span className="health-text">{text}</span>
    </span>
  );
}
