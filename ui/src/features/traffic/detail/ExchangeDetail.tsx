// The exchange detail pane beside the Traffic table (`#/traffic/<id>`): the exchange at a
// glance, its timing, request and response (headers and bodies shown by type), copy as curl,
// and replay as captured or edited.
import { useEffect, useId, useRef, useState } from "react";
import { ApiError } from "../../../api/client";
import { getExchange, type RequestDetail } from "../../../api/exchange";
import { useStatus } from "../../../app/status";
import { BodyView } from "./BodyView";
import { formatBytes } from "../../../lib/format";
import { CopyButton } from "./CopyButton";
import { caFileIn, curlCommand, requestUrl } from "./curl";
import { formatStarted, queryParams } from "./facts";
import { HeadersTable, ParamsTable } from "./HeadersTable";
import { ReplayButton, ReplayForm } from "./Replay";
import { FailureCallout, Facts } from "./Summary";
import { Tabs } from "./Tabs";
import { Waterfall } from "./Waterfall";
import "./detail.css";

/** How often an open WebSocket's counts are read again. */
const LIVE_MS = 2_000;

type Side = "response" | "request";

type Load =
  | { id: number; detail: RequestDetail; error?: undefined }
  | { id: number; detail?: undefined; error: { message: string; gone: boolean } };

/**
 * Waits before asking again for an exchange that is not there (yet): the recorder stores an
 * exchange shortly after its response ends, so a link to a replay made a moment ago can
 * arrive first.
 */
const NOT_YET_MS = [250, 500, 1_000];

/** The exchange, reloaded while it is an open WebSocket (its counts still move). */
function useExchange(id: number): Load | null {
  const [load, setLoad] = useState<Load | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let misses = 0;
    const run = async () => {
      try {
        const detail = await getExchange(id, controller.signal);
        if (controller.signal.aborted) return;
        setLoad({ id, detail });
        const ws = detail.exchange.websocket;
        if (ws && !ws.closed) timer = setTimeout(() => void run(), LIVE_MS);
      } catch (caught) {
        if (controller.signal.aborted) return;
        const gone = caught instanceof ApiError && caught.status === 404;
        const wait = gone ? NOT_YET_MS[misses] : undefined;
        if (wait !== undefined) {
          misses += 1;
          timer = setTimeout(() => void run(), wait);
          return;
        }
        const message =
          caught instanceof ApiError
            ? caught.message
            : `Cannot reach Portico's admin API (${caught instanceof Error ? caught.message : String(caught)}). Is \`portico serve\` running?`;
        setLoad({ id, error: { message, gone } });
      }
    };
    void run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [id]);
  return load;
}

export function ExchangeDetail({ id, onClose }: { id: number; onClose: () => void }) {
  const load = useExchange(id);
  const paneRef = useRef<HTMLElement>(null);
  const titleId = useId();
  const [editing, setEditing] = useState<number | null>(null);
  // Kept while moving from exchange to exchange, as the pane itself stays.
  const [tab, setTab] = useState<Side>("response");

  // Escape closes the pane (the edit form takes it first), but not while typing elsewhere.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      const target = event.target instanceof Element ? event.target : null;
      const inPane = target !== null && paneRef.current?.contains(target) === true;
      if (!inPane && target?.closest("input, textarea, select, [contenteditable='true'], dialog") != null) return;
      event.preventDefault();
      onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
    };
  }, [onClose]);

  const current = load !== null && load.id === id ? load : null;
  const stale = load !== null && load.id !== id;
  const detail = load?.detail;

  return (
    <aside ref={paneRef} className="xd" aria-labelledby={titleId} aria-busy={current === null} data-exchange={id}>
      <div className="xd-close-row">
        <span className="muted xd-id">Exchange #{id}</span>
        <button type="button" className="xd-btn-icon xd-close" aria-label="Close exchange details" title="Close (Esc)" onClick={onClose}>
          ×
        </button>
      </div>
      {current === null && !detail && (
        <h2 id={titleId} className="muted">
          Loading exchange #{id}…
        </h2>
      )}
      {current?.error && (
        <div className={current.error.gone ? "empty" : "error"} role="alert">
          <h2 id={titleId}>{current.error.gone ? "This exchange is gone" : `Cannot load exchange #${id}`}</h2>
          <p>
            {current.error.gone
              ? "It was cleared, or trimmed by retention to make room for newer traffic. Pick another one in the table."
              : current.error.message}
          </p>
        </div>
      )}
      {detail && !current?.error && (
        <div className={stale ? "xd-stale" : undefined}>
          <Loaded
            key={detail.exchange.id}
            detail={detail}
            titleId={titleId}
            editing={editing === detail.exchange.id}
            tab={tab}
            onTab={setTab}
            onEdit={(open) => {
              setEditing(open ? detail.exchange.id : null);
            }}
          />
        </div>
      )}
    </aside>
  );
}

interface LoadedProps {
  detail: RequestDetail;
  titleId: string;
  editing: boolean;
  onEdit: (open: boolean) => void;
  tab: Side;
  onTab: (tab: Side) => void;
}

function Loaded({ detail, titleId, editing, onEdit, tab, onTab }: LoadedProps) {
  const e = detail.exchange;
  const status = useStatus();
  const url = requestUrl(e);
  const caFile = status ? caFileIn(status.data_dir) : null;
  const params = queryParams(e.query);
  const base = `xd-${e.id}`;
  const editButton = useRef<HTMLButtonElement>(null);

  return (
    <>
      <header className="xd-head">
        <h2 id={titleId} className="xd-title">
          <span className="xd-method">{e.method}</span> <span className="xd-url">{url}</span>
        </h2>
        <Facts exchange={e} />
        <div className="xd-actions">
          <CopyButton
            text={() => curlCommand(e, e.scheme === "https" ? caFile : null)}
            label="Copy as curl"
            copiedMessage="Copied curl command"
          >
            Copy as curl
          </CopyButton>
          <ReplayButton id={e.id} />
          <button
            ref={editButton}
            type="button"
            className="xd-btn-secondary"
            aria-expanded={editing}
            onClick={() => {
              onEdit(!editing);
            }}
          >
            Edit and replay
          </button>
        </div>
      </header>

      <FailureCallout exchange={e} />

      {editing && (
        <ReplayForm
          exchange={e}
          body={detail.request_body}
          onCancel={() => {
            onEdit(false);
            editButton.current?.focus();
          }}
        />
      )}

      <section className="xd-section" aria-labelledby={`${base}-timing`}>
        <h3 id={`${base}-timing`}>Timing</h3>
        <Waterfall exchange={e} />
        <p className="muted xd-meta">
          Started {formatStarted(e.started_at)} · {e.version} · from {e.client}
        </p>
      </section>

      <Tabs
        label="Request and response"
        idBase={base}
        selected={tab}
        onSelect={onTab}
        items={[
          {
            key: "response",
            label: (
              <>
                Response <span className="xd-tab-note">{formatBytes(e.response_body.size)}</span>
              </>
            ),
            panel: (
              <>
                <section className="xd-section" aria-labelledby={`${base}-res-headers`}>
                  <h3 id={`${base}-res-headers`}>Response headers</h3>
                  <HeadersTable headers={e.response_headers} caption="Response headers" />
                </section>
                <section className="xd-section" aria-labelledby={`${base}-res-body`}>
                  <h3 id={`${base}-res-body`}>Response body</h3>
                  <BodyView body={detail.response_body} side="Response" />
                </section>
              </>
            ),
          },
          {
            key: "request",
            label: (
              <>
                Request <span className="xd-tab-note">{formatBytes(e.request_body.size)}</span>
              </>
            ),
            panel: (
              <>
                <section className="xd-section" aria-labelledby={`${base}-req-headers`}>
                  <h3 id={`${base}-req-headers`}>Request headers</h3>
                  <HeadersTable headers={e.request_headers} caption="Request headers" />
                </section>
                {params.length > 0 && (
                  <section className="xd-section" aria-labelledby={`${base}-params`}>
                    <h3 id={`${base}-params`}>Query parameters</h3>
                    <ParamsTable params={params} caption="Query parameters" />
                  </section>
                )}
                <section className="xd-section" aria-labelledby={`${base}-req-body`}>
                  <h3 id={`${base}-req-body`}>Request body</h3>
                  <BodyView body={detail.request_body} side="Request" />
                </section>
              </>
            ),
          },
        ]}
      />
    </>
  );
}
