// The Routes page: discovered services above, the routes below, kept current by polling and
// by the engine's change events.
import { useCallback, useEffect } from "react";
import {
  getHealth,
  listRoutes,
  listServices,
  subscribeEvents,
  type Route,
} from "../../api/client";
import { RoutesTable } from "./RoutesTable";
import { ServicesPanel } from "./ServicesPanel";
import { useStatus } from "../../app/status";
import { usePoll } from "../../lib/usePoll";

export function RoutesPage() {
  const routes = usePoll(listRoutes, 5_000);
  const health = usePoll(getHealth, 2_000);
  const services = usePoll(listServices, 3_000);
  const { reload: reloadRoutes, mutate: mutateRoutes } = routes;
  const { reload: reloadHealth } = health;
  const { reload: reloadServices } = services;

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
            break;
          default:
            break;
        }
      }),
    [reloadRoutes, reloadServices, reloadHealth],
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

  const listeners = useStatus()?.listeners;

  return (
    <>
      <h1 className="visually-hidden">Routes</h1>
      <ServicesPanel services={services.data} error={services.error} onMapped={onMapped} />
      <RoutesTable
        routes={routes.data}
        error={routes.error}
        listeners={listeners}
        health={health.data}
        onChanged={onChanged}
      />
    </>
  );
}
