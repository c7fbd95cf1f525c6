// The Traffic page: every exchange through the proxy, live. Filters apply on the server (to
// the list, the live stream and the HAR export); the table holds the newest rows, virtualized;
// the exchange the hash names (`#/traffic/<id>`) opens in the detail pane beside it.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { listRoutes } from "../../api/client";
import {
  clearRequests,
  downloadHar,
  importHar,
  listRequests,
  subscribeTraffic,
  type TrafficQuery,
} from "../../api/traffic";
import { useStatus } from "../../app/status";
import { usePoll } from "../../lib/usePoll";
import { nextFrame } from "./batcher";
import { ExchangeDetail } from "./detail/ExchangeDetail";
import { DEFAULT_FILTERS, filtersToQuery, isFiltered, parseFilters, queryKey, TEXT_DEBOUNCE_MS, type Filters } from "./filters";
import { formatCount } from "../../lib/format";
import { CATCH_UP_SIZE, LiveTraffic } from "./liveTraffic";
import { TrafficEmpty } from "./TrafficEmpty";
import { TrafficFilters } from "./TrafficFilters";
import { TrafficTable } from "./TrafficTable";
import "./traffic.css";

const FILTERS_KEY = "portico.traffic.filters";

function loadFilters(): Filters {
  try {
    const stored = sessionStorage.getItem(FILTERS_KEY);
    return stored === null ? { ...DEFAULT_FILTERS } : parseFilters(JSON.parse(stored));
  } catch {
    return { ...DEFAULT_FILTERS };
  }
}

function saveFilters(filters: Filters): void {
  try {
    sessionStorage.setItem(FILTERS_KEY, JSON.stringify(filters));
  } catch {
    // Storage may be off; filters then last as long as the page.
  }
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

type Notice = { kind: "info" | "error"; text: string };

export function TrafficPage({ exchange }: { exchange: number | null }) {
  const [live] = useState(() => new LiveTraffic({ list: listRequests, subscribe: subscribeTraffic, schedule: nextFrame() }));
  const snapshot = useSyncExternalStore(live.subscribe, live.snapshot);
  const capture = useStatus()?.capture;
  const routes = usePoll(listRoutes, 10_000);

  // The form as typed, and the query it last produced (text waits for typing to stop).
  const [filters, setFilters] = useState<Filters>(loadFilters);
  const [query, setQuery] = useState<TrafficQuery>(() => filtersToQuery(filters));
  const typingTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const apply = useCallback((next: Filters) => {
    const nextQuery = filtersToQuery(next);
    setQuery((previous) => (queryKey(previous) === queryKey(nextQuery) ? previous : nextQuery));
    saveFilters(next);
  }, []);
  const changeFilters = (patch: Partial<Filters>, typing: boolean) => {
    const next = { ...filters, ...patch };
    setFilters(next);
    clearTimeout(typingTimer.current);
    if (typing) {
      typingTimer.current = setTimeout(() => {
        apply(next);
      }, TEXT_DEBOUNCE_MS);
    } else {
      apply(next);
    }
  };
  useEffect(() => () => { clearTimeout(typingTimer.current); }, []);

  useEffect(() => {
    live.start(query);
    return () => {
      live.stop();
    };
  }, [live, query]);

  // The selection: the open exchange, or the row the keyboard is on.
  const [cursor, setCursor] = useState<number | null>(exchange);
  const selectedId = exchange ?? cursor;
  const gridRef = useRef<HTMLDivElement | null>(null);
  const textRef = useRef<HTMLInputElement | null>(null);

  const open = useCallback((id: number) => {
    setCursor(id);
    window.location.hash = `#/traffic/${id}`;
  }, []);
  const select = useCallback(
    (id: number, follow: boolean) => {
      setCursor(id);
      // An open detail follows the keyboard without a history entry per row.
      if (follow && exchange !== null && id !== exchange) window.location.replace(`#/traffic/${id}`);
    },
    [exchange],
  );
  const close = useCallback(() => {
    if (exchange !== null) setCursor(exchange);
    window.location.hash = "#/traffic";
    gridRef.current?.focus({ preventScroll: true });
  }, [exchange]);

  // Escape closes the detail; `/` goes to the search field.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "/" && !isTyping(event.target)) {
        event.preventDefault();
        textRef.current?.focus();
        textRef.current?.select();
      } else if (event.key === "Escape" && exchange !== null) {
        if (event.target instanceof Element && event.target.closest("dialog[open]")) return;
        event.preventDefault();
        close();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
    };
  }, [exchange, close]);

  const [notice, setNotice] = useState<Notice | null>(null);
  const [busy, setBusy] = useState<"export" | "import" | "clear" | null>(null);
  const clearDialog = useRef<HTMLDialogElement | null>(null);
  const fileInput = useRef<HTMLInputElement | null>(null);

  const onExport = async () => {
    setBusy("export");
    try {
      const name = await downloadHar(query);
      setNotice({ kind: "info", text: `Exported ${isFiltered(filters) ? "the filtered exchanges" : "every exchange"} (the newest 10,000 at most) as ${name}.` });
    } catch (caught) {
      setNotice({ kind: "error", text: `Export failed: ${caught instanceof Error ? caught.message : String(caught)}` });
    } finally {
      setBusy(null);
    }
  };

  const onImport = async (file: File) => {
    setBusy("import");
    try {
      const result = await importHar(file);
      const count = `${formatCount(result.imported)} exchange${result.imported === 1 ? "" : "s"}`;
      setNotice({
        kind: "info",
        text:
          result.imported === 0
            ? `${file.name} has no entries to import.`
            : `Imported ${count} from ${file.name}${isFiltered(filters) ? " (those the filters hide are not shown)" : ""}.`,
      });
      live.catchUp();
    } catch (caught) {
      setNotice({ kind: "error", text: `Could not import ${file.name}: ${caught instanceof Error ? caught.message : String(caught)}` });
    } finally {
      setBusy(null);
    }
  };

  const onClear = async () => {
    clearDialog.current?.close();
    setBusy("clear");
    const requestedAt = Date.now();
    try {
      const result = await clearRequests();
      live.clearRows(requestedAt);
      setCursor(null);
      if (exchange !== null) window.location.hash = "#/traffic";
      setNotice({ kind: "info", text: `Deleted ${formatCount(result.deleted)} captured exchange${result.deleted === 1 ? "" : "s"}.` });
    } catch (caught) {
      setNotice({ kind: "error", text: `Clear failed: ${caught instanceof Error ? caught.message : String(caught)}` });
    } finally {
      setBusy(null);
    }
  };

  const filtered = isFiltered(filters);
  const dropped = Math.max(capture?.dropped ?? 0, snapshot.captureDropped ?? 0);
  const streamLabel = snapshot.paused
    ? "Paused"
    : { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" }[snapshot.stream];

  return (
    <section className="traffic-page" aria-labelledby="traffic-title">
      <div className="traffic-title">
        <h1 id="traffic-title">Traffic</h1>
        <p className="traffic-state" role="status" aria-live="polite">
          <span className={`live-dot live-${snapshot.paused ? "paused" : snapshot.stream}`} aria-hidden="true" />
          {streamLabel} · {formatCount(snapshot.size)} exchange{snapshot.size === 1 ? "" : "s"}
          {filtered ? " matching the filters" : ""}
          {snapshot.paused && snapshot.waiting > 0 ? ` · ${formatCount(snapshot.waiting)} new waiting` : ""}
        </p>
        <div className="traffic-actions">
          <button
            type="button"
            className="secondary"
            aria-pressed={snapshot.paused}
            onClick={() => {
              if (snapshot.paused) live.resume();
              else live.pause();
            }}
          >
            {snapshot.paused ? "Resume" : "Pause"}
          </button>
          <button type="button" className="secondary" disabled={busy === "export"} onClick={() => void onExport()}>
            Export HAR
          </button>
          <button
            type="button"
            className="secondary"
            disabled={busy === "import"}
            onClick={() => {
              fileInput.current?.click();
            }}
          >
            Import HAR
          </button>
          <input
            ref={fileInput}
            type="file"
            accept=".har,application/json"
            hidden
            aria-label="HAR file to import"
            data-testid="traffic-import-file"
            onChange={(event) => {
              const file = event.target.files?.[0];
              event.target.value = "";
              if (file) void onImport(file);
            }}
          />
          <button
            type="button"
            className="danger"
            disabled={busy === "clear"}
            onClick={() => {
              clearDialog.current?.showModal();
            }}
          >
            Clear…
          </button>
        </div>
      </div>

      <TrafficFilters filters={filters} onChange={changeFilters} routes={routes.data ?? []} hosts={snapshot.hosts} textRef={textRef} />

      <div className="traffic-notes">
        {capture?.paused && (
          <p className="note warn" data-testid="capture-paused">
            Capture is paused in <a href="#/settings">Settings</a>: requests are proxied but not recorded.
          </p>
        )}
        {capture?.store_error && (
          <p className="note warn" data-testid="capture-store-error">
            Captured traffic is not being stored
            {capture.not_stored > 0 ? ` (${formatCount(capture.not_stored)} exchange${capture.not_stored === 1 ? "" : "s"} so far)` : ""}
            : {capture.store_error}
          </p>
        )}
        {capture?.store_reset && (
          <p className="note warn" data-testid="capture-store-reset">
            {capture.store_reset}
          </p>
        )}
        {dropped > 0 && (
          <p className="note warn" data-testid="capture-dropped">
            Capture dropped {formatCount(dropped)} exchange{dropped === 1 ? "" : "s"} since the engine started (it could not keep up; proxying was not slowed).
          </p>
        )}
        {snapshot.skipped > 0 && (
          <p className="note warn" data-testid="stream-skipped">
            This page missed {formatCount(snapshot.skipped)} live update{snapshot.skipped === 1 ? "" : "s"} (it read too slowly); the newest {formatCount(CATCH_UP_SIZE)} were reloaded.
          </p>
        )}
        {snapshot.trimmed > 0 && (
          <p className="note" data-testid="rows-trimmed">
            Showing the newest {formatCount(snapshot.cap)}: {formatCount(snapshot.trimmed)} older row{snapshot.trimmed === 1 ? " was" : "s were"} let go to keep this page fast. Narrow the filters or export HAR to see more.
          </p>
        )}
        {snapshot.error !== undefined && (
          <p className="error" role="alert">
            {snapshot.error}
          </p>
        )}
        {notice !== null && (
          <p className={notice.kind === "error" ? "error" : "note info"} role={notice.kind === "error" ? "alert" : "status"} data-testid="traffic-notice">
            {notice.text}{" "}
            <button
              type="button"
              className="link"
              aria-label="Dismiss"
              onClick={() => {
                setNotice(null);
              }}
            >
              ×
            </button>
          </p>
        )}
      </div>

      <div className={`traffic-layout${exchange !== null ? " with-detail" : ""}`}>
        <TrafficTable
          live={live}
          snapshot={snapshot}
          selectedId={selectedId}
          onSelect={select}
          onOpen={open}
          gridRef={gridRef}
          empty={
            <TrafficEmpty
              loading={!snapshot.loaded}
              filtered={filtered}
              routes={routes.data}
              onResetFilters={() => {
                changeFilters(DEFAULT_FILTERS, false);
              }}
            />
          }
        />
        {exchange !== null && (
          <div className="traffic-detail" data-testid="traffic-detail">
            <ExchangeDetail id={exchange} onClose={close} />
          </div>
        )}
      </div>

      <dialog ref={clearDialog} className="traffic-dialog" aria-labelledby="clear-title">
        <h2 id="clear-title">Delete all captured traffic?</h2>
        <p>Every captured exchange is deleted from Portico, not only the ones shown. This cannot be undone.</p>
        <div className="dialog-actions">
          <button type="button" className="danger" onClick={() => void onClear()}>
            Delete all
          </button>
          <button
            type="button"
            className="secondary"
            autoFocus
            onClick={() => {
              clearDialog.current?.close();
            }}
          >
            Cancel
          </button>
        </div>
      </dialog>
    </section>
  );
}
