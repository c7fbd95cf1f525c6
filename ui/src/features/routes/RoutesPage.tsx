// The Routes page: discovered services above, the routes below, kept current by polling and
// by the engine's change events; the route editor and the delete confirmation on top.
import { useCallback, useEffect, useMemo, useState } from "react";
import {
  getHealth,
  listRoutes,
  listServices,
  subscribeEvents,
  type Route,
} from "../../api/client";
import { getSettings } from "../../api/routes";
import { ConfirmDelete } from "./ConfirmDelete";
import { findMovedUpstreams } from "./moved";
import { RouteEditor } from "./RouteEditor";
import { ExportPanel } from "./ExportPanel";
import { RoutesTable } from "./RoutesTable";
import { SharePanel } from "./SharePanel";
import { ServicesPanel } from "./ServicesPanel";
import { useStatus } from "../../app/status";
import { usePoll } from "../../lib/usePoll";
import "./routes.css";

type Dialog =
  | { kind: "add" }
  | { kind: "edit"; id: number }
  | { kind: "delete"; id: number }
  | { kind: "share"; id: number };

export function RoutesPage() {
  const routes = usePoll(listRoutes, 5_000);
  const health = usePoll(getHealth, 2_000);
  const services = usePoll(listServices, 3_000);
  const settings = usePoll(getSettings, 30_000);
  const { reload: reloadRoutes, mutate: mutateRoutes } = routes;
  const { reload: reloadHealth } = health;
  const { reload: reloadServices } = services;
  const [dialog, setDialog] = useState<Dialog | null>(null);

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
          case "share_changed":
            reloadRoutes();
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
      reloadServices();
    },
    [mutateRoutes, reloadHealth, reloadServices],
  );
  const onMapped = useCallback(
    (created: Route) => {
      mutateRoutes((list) => (list.some((r) => r.id === created.id) ? list : [...list, created]));
      reloadServices();
      reloadHealth();
    },
    [mutateRoutes, reloadServices, reloadHealth],
  );
  const onDeleted = useCallback(
    (id: number) => {
      mutateRoutes((list) => list.filter((route) => route.id !== id));
      reloadServices();
      reloadHealth();
      setDialog(null);
    },
    [mutateRoutes, reloadServices, reloadHealth],
  );
  const close = useCallback(() => {
    setDialog(null);
  }, []);

  const moved = useMemo(
    () => findMovedUpstreams(routes.data ?? [], health.data ?? [], services.data ?? []),
    [routes.data, health.data, services.data],
  );

  const listeners = useStatus()?.listeners;
  const dialogRoute =
    dialog && dialog.kind !== "add" ? routes.data?.find((route) => route.id === dialog.id) : undefined;

  return (
    <>
      <h1 className="visually-hidden">Routes</h1>
      <ServicesPanel services={services.data} error={services.error} onMapped={onMapped} />
      <RoutesTable
        routes={routes.data}
        error={routes.error}
        listeners={listeners}
        health={health.data}
        moved={moved}
        onChanged={onChanged}
        onAdd={() => { setDialog({ kind: "add" }); }}
        onEdit={(route) => { setDialog({ kind: "edit", id: route.id }); }}
        onDelete={(route) => { setDialog({ kind: "delete", id: route.id }); }}
        onShare={(route) => { setDialog({ kind: "share", id: route.id }); }}
      />
      <ExportPanel />
      {dialog?.kind === "add" && (
        <RouteEditor
          mode={{ kind: "add" }}
          services={services.data}
          settings={settings.data}
          onSaved={(route) => {
            onMapped(route);
            // A route shared from the editor shows its links for the phone at once.
            setDialog(route.shared ? { kind: "share", id: route.id } : null);
          }}
          onDelete={close}
          onClose={close}
        />
      )}
      {dialog?.kind === "edit" && dialogRoute && (
        <RouteEditor
          key={dialogRoute.id}
          mode={{ kind: "edit", route: dialogRoute }}
          services={services.data}
          settings={settings.data}
          onSaved={(route) => {
            const started = route.shared && !dialogRoute.shared;
            onChanged(route);
            setDialog(started ? { kind: "share", id: route.id } : null);
          }}
          onDelete={(route) => { setDialog({ kind: "delete", id: route.id }); }}
          onClose={close}
        />
      )}
      {dialog?.kind === "share" && dialogRoute && (
        <SharePanel
          route={dialogRoute}
          onStopped={() => {
            reloadRoutes();
            close();
          }}
          onClose={close}
        />
      )}
      {dialog?.kind === "delete" && dialogRoute && (
        <ConfirmDelete route={dialogRoute} onDeleted={onDeleted} onClose={close} />
      )}
    </>
  );
}
