// The live table: a virtualized ARIA grid over the rows held. Only the rows on screen (and a
// few around) are in the DOM; each is memoised, so a batch of new exchanges re-renders the
// rows whose position or data changed, never all of them. While the user is at the top the
// newest rows push in from above; once they scrolled away, what they look at stays put and a
// "N new" button takes them back.
import { memo, useCallback, useEffect, useRef, useState, type FocusEvent, type KeyboardEvent, type ReactNode, type RefObject } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Summary } from "../../api/traffic";
import { formatBytes } from "../../lib/format";
import { describeOutcome, formatDateTime, formatDuration, formatTime, pathWithQuery, statusClass } from "./format";
import type { LiveTraffic, TrafficSnapshot } from "./liveTraffic";
import { DEFAULT_SLOW_MS } from "./filters";

/** Every row's height in pixels (fixed: the virtualizer never measures). */
export const ROW_HEIGHT = 30;
/** Load older exchanges when the last rows are this close to the view. */
const LOAD_OLDER_WITHIN = 40;

const COLUMNS = [
  { key: "time", label: "Time" },
  { key: "method", label: "Method" },
  { key: "host", label: "Host" },
  { key: "path", label: "Path" },
  { key: "status", label: "Status" },
  { key: "duration", label: "Duration" },
  { key: "size", label: "Size" },
  { key: "cache", label: "Cache" },
] as const;

export function rowDomId(id: number): string {
  return `traffic-row-${id}`;
}

interface RowProps {
  summary: Summary;
  index: number;
  start: number;
  selected: boolean;
  onOpen: (id: number) => void;
}

const Row = memo(function Row({ summary, index, start, selected, onOpen }: RowProps) {
  const outcome = describeOutcome(summary);
  const klass = statusClass(summary.status);
  const path = pathWithQuery(summary);
  const slow = summary.duration_ms >= DEFAULT_SLOW_MS;
  return (
    <div
      role="row"
      id={rowDomId(summary.id)}
      className={`traffic-row${selected ? " selected" : ""}${outcome.error ? " is-error" : ""}`}
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-testid="traffic-row"
      data-id={summary.id}
      data-status={summary.status ?? ""}
      data-error={outcome.error ? (summary.error_side ?? "error") : undefined}
      style={{ transform: `translateY(${start}px)` }}
      onClick={() => {
        onOpen(summary.id);
      }}
    >
      <div role="gridcell" className="c-time" title={formatDateTime(summary.started_at)}>
        {formatTime(summary.started_at)}
      </div>
      <div role="gridcell" className={`c-method m-${summary.method.toLowerCase()}`}>
        {summary.method}
      </div>
      <div role="gridcell" className="c-host" title={summary.host}>
        {summary.host}
      </div>
      <div role="gridcell" className="c-path" title={path}>
        {summary.websocket && <span className="tag">WS</span>}
        {summary.replay_of !== null && summary.replay_of !== undefined && (
          <span className="tag" title={`Replay of exchange ${summary.replay_of}`}>
            replay
          </span>
        )}
        <span className="path-text">{path}</span>
      </div>
      <div role="gridcell" className="c-status" title={outcome.title || undefined}>
        <span className={`status s-${klass}${outcome.error ? " s-error" : ""}`}>{outcome.label}</span>
        {outcome.error && (
          <span className="error-mark" aria-label={outcome.title}>
            <span aria-hidden="true">⚠</span> {outcome.answeredByPortico ? "Portico" : (summary.error_side ?? "error")}
          </span>
        )}
      </div>
      <div role="gridcell" className={`c-duration${slow ? " slow" : ""}`}>
        {formatDuration(summary.duration_ms)}
      </div>
      <div role="gridcell" className="c-size">
        {formatBytes(summary.bytes_out)}
      </div>
      <div role="gridcell" className="c-cache">
        {summary.cache ? <span className={`cache cache-${summary.cache}`}>{summary.cache}</span> : null}
      </div>
    </div>
  );
});

interface Props {
  live: LiveTraffic;
  snapshot: TrafficSnapshot;
  selectedId: number | null;
  /** Move the selection (keyboard); `follow`: an open detail follows it. */
  onSelect: (id: number, follow: boolean) => void;
  /** Open an exchange's detail (click, Enter). */
  onOpen: (id: number) => void;
  gridRef: RefObject<HTMLDivElement | null>;
  /** Shown instead of rows when there are none. */
  empty: ReactNode;
}

export function TrafficTable({ live, snapshot, selectedId, onSelect, onOpen, gridRef, empty }: Props) {
  const scrollRef = useRef<HTMLDivElement | null>(null);
  const store = live.store;
  const { size, version, hasOlder, loadingOlder } = snapshot;
  // At the top: new rows push in from above. Scrolled away: the view is anchored to the row
  // it shows, and `leftAt` is the newest id when the user left the top.
  const [pinned, setPinned] = useState(true);
  const [leftAt, setLeftAt] = useState<number | null>(null);

  // A new function per version: the virtualizer re-reads the keys after each batch.
  const getItemKey = useCallback((index: number) => store.at(index)?.id ?? -1 - index, [store, version]); // eslint-disable-line react-hooks/exhaustive-deps
  // The React Compiler is not used here; the virtualizer re-renders this component itself.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count: size,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    getItemKey,
    overscan: 12,
    anchorTo: pinned ? "start" : "end",
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length > 0 ? (items[items.length - 1]?.index ?? 0) : -1;

  // Reaching the end loads the next older page.
  useEffect(() => {
    if (hasOlder && !loadingOlder && size > 0 && lastIndex >= size - LOAD_OLDER_WITHIN) void live.loadOlder();
  }, [live, hasOlder, loadingOlder, size, lastIndex]);

  const onScroll = () => {
    const element = scrollRef.current;
    if (element === null) return;
    const atTop = element.scrollTop < ROW_HEIGHT / 2;
    if (atTop !== pinned) {
      setPinned(atTop);
      setLeftAt(atTop ? null : (store.at(0)?.id ?? null));
    }
  };

  const jumpToNewest = () => {
    virtualizer.scrollToOffset(0);
    setPinned(true);
    setLeftAt(null);
  };

  const newCount = !pinned && leftAt !== null ? store.countNewerThan(leftAt) : 0;
  const selectedIndex = selectedId === null ? -1 : store.indexOf(selectedId);
  // Only a row in the DOM can be the active descendant.
  const selectedRendered = selectedIndex >= 0 && items.some((item) => item.index === selectedIndex);

  const moveTo = (index: number) => {
    if (size === 0) return;
    const next = Math.max(0, Math.min(size - 1, index));
    const row = store.at(next);
    if (row === undefined) return;
    onSelect(row.id, true);
    virtualizer.scrollToIndex(next, { align: "auto" });
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? ROW_HEIGHT * 10) / ROW_HEIGHT) - 1);
    switch (event.key) {
      case "ArrowDown":
        moveTo(selectedIndex < 0 ? 0 : selectedIndex + 1);
        break;
      case "ArrowUp":
        moveTo(selectedIndex < 0 ? 0 : selectedIndex - 1);
        break;
      case "PageDown":
        moveTo(selectedIndex < 0 ? 0 : selectedIndex + page);
        break;
      case "PageUp":
        moveTo(selectedIndex < 0 ? 0 : selectedIndex - page);
        break;
      case "Home":
        moveTo(0);
        break;
      case "End":
        moveTo(size - 1);
        break;
      case "Enter":
        if (selectedIndex >= 0 && selectedId !== null) onOpen(selectedId);
        else if (size > 0) moveTo(0);
        break;
      default:
        return;
    }
    event.preventDefault();
  };

  const onFocus = (event: FocusEvent<HTMLDivElement>) => {
    // A focused grid has an active row (for screen readers and the arrow keys): the first
    // one in view, when none is selected yet.
    if (event.target !== event.currentTarget || selectedIndex >= 0 || size === 0) return;
    const row = store.at(Math.floor((scrollRef.current?.scrollTop ?? 0) / ROW_HEIGHT));
    if (row !== undefined) onSelect(row.id, false);
  };

  return (
    <div className="traffic-table-wrap">
      <div
        ref={gridRef}
        role="grid"
        aria-label="Captured exchanges, newest first"
        aria-rowcount={size + 1}
        aria-colcount={COLUMNS.length}
        aria-activedescendant={selectedRendered && selectedId !== null ? rowDomId(selectedId) : undefined}
        aria-busy={snapshot.loading || undefined}
        tabIndex={0}
        className="traffic-grid"
        data-testid="traffic-table"
        data-row-count={size}
        onKeyDown={onKeyDown}
        onFocus={onFocus}
      >
        <div role="rowgroup" className="traffic-head">
          <div role="row" aria-rowindex={1} className="traffic-row head">
            {COLUMNS.map((column, i) => (
              <div key={column.key} role="columnheader" aria-colindex={i + 1} className={`c-${column.key}`}>
                {column.label}
              </div>
            ))}
          </div>
        </div>
        <div role="rowgroup" className="traffic-body" ref={scrollRef} onScroll={onScroll}>
          {size === 0 ? (
            <div role="row" aria-rowindex={2} className="traffic-empty-row">
              <div role="gridcell" aria-colspan={COLUMNS.length}>
                {empty}
              </div>
            </div>
          ) : (
            <div role="presentation" className="traffic-rows" style={{ height: virtualizer.getTotalSize() }}>
              {items.map((item) => {
                const summary = store.at(item.index);
                if (summary === undefined) return null;
                return (
                  <Row
                    key={summary.id}
                    summary={summary}
                    index={item.index}
                    start={item.start}
                    selected={summary.id === selectedId}
                    onOpen={onOpen}
                  />
                );
              })}
            </div>
          )}
        </div>
      </div>
      {newCount > 0 && (
        <button type="button" className="jump-newest" onClick={jumpToNewest} data-testid="traffic-jump-newest">
          {newCount.toLocaleString("en-US")} new — jump to newest
        </button>
      )}
      {loadingOlder && <p className="traffic-older muted">Loading older exchanges…</p>}
    </div>
  );
}
