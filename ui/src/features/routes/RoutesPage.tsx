// The Routes page: discovered services above, the routes below, kept current by polling and
// by the engine's change events.
import { useCallback, useEffect } from "react";
import {
  getHealth,
  getStatus,
  listRoutes,
  listServices,
  subscribeEvents,
  type Route,
} from "../../api/client";
import { RoutesTable } from "./RoutesTable";
import { ServicesPanel } from "./ServicesPanel";
import { usePoll } from "./usePoll";

export function RoutesPage() {
  const status = usePoll(getStatus, 10_000);
  const routes = usePoll(listRoutes, 5_000);
  const health = usePoll(getHealth, 2_000);
  const services = usePoll(listServices, 3_000);
  const { reload: reloadRoutes, mutate: mutateRoutes } = routes;
  const { reload: reloadHealth } = health;
  const { reload: reloadServices } = services;
  const { reload: reloadStatus } = status;

  useEffect(
    () =>
      subscribeEvents((event) => {
        switch (event.type) {
          case "routes_changed":
            reloadRoutes();
            reloadServices();
            reloadHealth();
            break;
          case "upstream_health":
            reloadHealth();
            break;
          case "lagged":
            reloadRoutes();
            reloadServices();
            reloadHealth();
            reloadStatus();
            break;
          default:
            break;
        }
      }),
    [reloadRoutes, reloadServices, reloadHealth, reloadStatus],
  );

  const onChanged = useCallback(
    (changed: Route) => {
      mutateRoutes((list) => list.map((route) => (route.id === changed.id ? changed : route)));
      reloadHealth();
    },
    [mutateRoutes, reloadHealth],
  );
  const onMapped = useCallback(
    (created: Route) => {
      mutateRoutes((list) => (list.some((r) => r.id === created.id) ? list : [...list, created]));
      reloadServices();
      reloadHealth();
    },
    [mutateRoutes, reloadServices, reloadHealth],
  );

  const loggedOut = [status, routes, services].some((poll) => poll.error?.status === 401);
  const listeners = status.data?.listeners;

  return (
    <>
      <header className="top">
        <h1>Portico</h1>
        {status.data && (
          <p className="muted">
            v{status.data.version} · proxy on {listeners?.http.join(", ") || "no HTTP listener"}
            {listeners && listeners.https.length > 0 ? ` · HTTPS on ${listeners.https.join(", ")}` : ""}
          </p>
        )}
      </header>
      <main>
        {loggedOut ? (
          <section className="panel" role="alert">
            <h2>Not logged in</h2>
            <p>
              This browser has no session with Portico. Run <code>portico open</code> (or use the <code>UI:</code> link{" "}
              <code>portico serve</code> printed) to log in.
            </p>
          </section>
        ) : (
          <>
            <ServicesPanel services={services.data} error={services.error} onMapped={onMapped} />
            <RoutesTable
              routes={routes.data}
              error={routes.error}
              listeners={listeners}
              health={health.data}
              onChanged={onChanged}
            />
          </>
        )}
      </main>
    </>
  );
}
