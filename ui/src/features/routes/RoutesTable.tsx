// The routes: where each is reachable, what it forwards to, whether its upstream answers, the
// switches that change it at once, and a way to follow a dev server that moved to another port.
import { useState } from "react";
import { patchRoute, type Listeners, type Route, type RouteHealth } from "../../api/client";
import { describeBalancing } from "./balancing";
import { describeTarget, routeUrl } from "./links";
import { movedMessage, type MovedHint } from "./moved";
import { formatBytes } from "../../lib/format";
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
  moved: Map<number, MovedHint>;
  onChanged: (route: Route) => void;
  onAdd: () => void;
  onEdit: (route: Route) => void;
  onDelete: (route: Route) => void;
  onShare: (route: Route) => void;
}

const COLUMNS = 4 + TOGGLES.length;

export function RoutesTable({ routes, error, listeners, health, moved, onChanged, onAdd, onEdit, onDelete, onShare }: Props) {
  return (
    <section aria-labelledby="routes-title" className="panel">
      <div className="re-panel-head">
        <h2 id="routes-title">Routes</h2>
        <button type="button" onClick={onAdd} data-focus-fallback>
          Add route
        </button>
      </div>
      {error && <p role="alert" className="error">{error.message}</p>}
      {routes === undefined && !error && <p className="muted">Loading routes…</p>}
      {routes !== undefined && routes.length === 0 && (
        <div className="empty">
          <p>
            <strong>No routes yet.</strong> Map a discovered service above, or use <strong>Add route</strong> to send a
            name such as <code>app.localhost</code> to a dev server, a folder or another URL. From a terminal:{" "}
            <code>portico route add app.localhost 5173</code>.
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
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {routes.map((route) => (
              <RouteRow
                key={route.id}
                route={route}
                listeners={listeners}
                health={health?.find((h) => h.route_id === route.id)}
                moved={moved.get(route.id)}
                onChanged={onChanged}
                onEdit={onEdit}
                onDelete={onDelete}
                onShare={onShare}
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
  moved: MovedHint | undefined;
  onChanged: (route: Route) => void;
  onEdit: (route: Route) => void;
  onDelete: (route: Route) => void;
  onShare: (route: Route) => void;
}

function RouteRow({ route, listeners, health, moved, onChanged, onEdit, onDelete, onShare }: RowProps) {
  const [busy, setBusy] = useState<Toggle | null>(null);
  // The value asked for while the PATCH is under way, so the switch moves at once.
  const [wanted, setWanted] = useState<{ field: Toggle; value: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const name = route.path === "/" ? route.host : `${route.host}${route.path}`;
  const url = listeners ? routeUrl(route, listeners) : null;

  const [moving, setMoving] = useState(false);
  const follow = async (upstream: string) => {
    setMoving(true);
    setError(null);
    try {
      onChanged(await patchRoute(route.id, { upstreams: [upstream] }));
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setMoving(false);
    }
  };

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
          {route.shared && (
            <button
              type="button"
              className="share-tag"
              aria-label={`Shared on your network: show the links for ${name}`}
              title={
                route.share_expires_at == null
                  ? "Shared on your network until you stop it"
                  : `Shared on your network until ${new Date(route.share_expires_at).toLocaleTimeString()}`
              }
              onClick={() => { onShare(route); }}
            >
              Shared
            </button>
          )}
        </th>
        <td className="target">
          {describeTarget(route)}
          {route.upstreams.length > 0 && describeBalancing(route.balancing, route.upstreams.length) && (
            <span className="access-tag balance-tag" title={route.upstreams.join("\n")}>
              {describeBalancing(route.balancing, route.upstreams.length)}
            </span>
          )}
          {(route.allow_ips.length > 0 ||
            route.deny_ips.length > 0 ||
            route.rate_limit_per_sec != null ||
            route.max_body_bytes != null ||
            route.max_conns_per_ip != null) && (
            <span className="access-tag" title={accessTitle(route)}>
              {[
                route.allow_ips.length > 0 ? "allow list" : null,
                route.deny_ips.length > 0 ? "deny list" : null,
                route.rate_limit_per_sec == null ? null : `${route.rate_limit_per_sec}/s per client`,
                route.max_body_bytes == null ? null : `bodies ≤ ${formatBytes(route.max_body_bytes)}`,
                route.max_conns_per_ip == null ? null : `${route.max_conns_per_ip} at once per client`,
              ]
                .filter((tag) => tag !== null)
                .join(", ")}
            </span>
          )}
          {route.basic_auth.length > 0 && (
            <span className="access-tag auth-tag" title={`Basic auth: ${route.basic_auth.join(", ")}`}>
              🔒 auth
            </span>
          )}
        </td>
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
        <td className="re-actions">
          <button type="button" className="re-secondary re-small" aria-label={`Edit ${name}`} onClick={() => { onEdit(route); }}>
            Edit
          </button>
          <a
            className="re-check"
            href={`#/doctor/${encodeURIComponent(route.host)}`}
            aria-label={`Check ${name}`}
            title="Check why this route does not work (names, certificate, upstream)"
          >
            Check
          </a>
          <button
            type="button"
            className="re-icon-button re-delete"
            aria-label={`Delete ${name}`}
            title="Delete"
            onClick={() => { onDelete(route); }}
          >
            <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
              <path
                fill="currentColor"
                d="M6 1.5h4a.5.5 0 0 1 .5.5v1h3a.5.5 0 0 1 0 1h-.6l-.7 9.6A1.5 1.5 0 0 1 10.7 15H5.3a1.5 1.5 0 0 1-1.5-1.4L3.1 4h-.6a.5.5 0 0 1 0-1h3V2a.5.5 0 0 1 .5-.5Zm.5 1.5h3v-.5h-3V3Zm-2.4 1 .7 9.5c0 .3.2.5.5.5h5.4c.3 0 .5-.2.5-.5l.7-9.5H4.1Zm2.4 2a.5.5 0 0 1 .5.5v5a.5.5 0 0 1-1 0v-5a.5.5 0 0 1 .5-.5Zm3 0a.5.5 0 0 1 .5.5v5a.5.5 0 0 1-1 0v-5a.5.5 0 0 1 .5-.5Z"
              />
            </svg>
          </button>
        </td>
      </tr>
      {moved && (
        <tr className="re-moved-row" data-moved-route={route.id}>
          <td colSpan={COLUMNS}>
            <MovedNotice hint={moved} busy={moving} onFollow={(upstream) => void follow(upstream)} />
          </td>
        </tr>
      )}
      {error && (
        <tr className="row-error">
          <td colSpan={COLUMNS} role="alert" className="error">
            {name}: {error}
          </td>
        </tr>
      )}
    </>
  );
}

function MovedNotice({ hint, busy, onFollow }: { hint: MovedHint; busy: boolean; onFollow: (upstream: string) => void }) {
  const [best, ...others] = hint.candidates;
  if (!best) return null;
  return (
    <div className="re-moved" role="status">
      <span className="re-moved-icon" aria-hidden="true">
        ⚠
      </span>
      <span className="re-moved-text">{movedMessage(hint, best)}</span>
      <span className="re-moved-actions">
        <button type="button" disabled={busy} onClick={() => { onFollow(best.upstream); }} title={`Forward to ${best.upstream}`}>
          Use :{best.service.port}
        </button>
        {others.map((other) => (
          <button
            type="button"
            key={other.service.port}
            className="re-secondary"
            disabled={busy}
            onClick={() => { onFollow(other.upstream); }}
            title={movedMessage(hint, other)}
          >
            Use :{other.service.port}
          </button>
        ))}
      </span>
    </div>
  );
}

/** The route's address lists, for the tag's tooltip. */
function accessTitle(route: Route): string {
  const parts = [];
  if (route.allow_ips.length > 0) parts.push(`Only from: ${route.allow_ips.join(", ")}`);
  if (route.deny_ips.length > 0) parts.push(`Never from: ${route.deny_ips.join(", ")}`);
  if (route.rate_limit_per_sec != null) parts.push(`At most ${route.rate_limit_per_sec} requests a second per client`);
  if (route.max_conns_per_ip != null) parts.push(`At most ${route.max_conns_per_ip} requests in flight per client`);
  return parts.join(". ");
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
  } else if (health.upstream !== route.upstreams[0]) {
    // The probe was of the upstream the route had before its last change.
    state = "unknown";
    text = "checking…";
  } else if (health.upstreams.length > 1) {
    const up = health.upstreams.filter((u) => u.up).length;
    state = up > 0 ? "up" : "down";
    text = `${up} of ${health.upstreams.length} up`;
    const each = health.upstreams.map((u) => `${u.upstream}: ${u.up ? "up" : `down, ${u.error ?? "not accepting connections"}`}`);
    return (
      <span className="health" data-health={state} title={each.join("\n")}>
        <span className={`dot dot-${state}`} aria-hidden="true" />
        <span className="health-text">{text}</span>
      </span>
    );
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
