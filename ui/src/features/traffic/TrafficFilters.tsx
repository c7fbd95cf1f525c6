// The filter bar: host or route, method, status class and exact status, free text, errors
// only, slow only. Text fields report as typed; the page debounces them.
import { useId, type RefObject } from "react";
import type { Route } from "../../api/client";
import { DEFAULT_FILTERS, DEFAULT_SLOW_MS, METHODS, STATUS_CLASSES, type Filters, type StatusClass } from "./filters";

interface Props {
  filters: Filters;
  /** `typing`: a text field changed (debounced); otherwise the change applies at once. */
  onChange: (patch: Partial<Filters>, typing: boolean) => void;
  routes: readonly Route[];
  hosts: readonly string[];
  textRef: RefObject<HTMLInputElement | null>;
}

function routeLabel(route: Pick<Route, "host" | "path">): string {
  return route.path === "/" ? route.host : `${route.host}${route.path}`;
}

export function TrafficFilters({ filters, onChange, routes, hosts, textRef }: Props) {
  const prefix = useId();
  const ids = {
    search: `${prefix}-search`,
    target: `${prefix}-target`,
    method: `${prefix}-method`,
    statusClass: `${prefix}-class`,
    status: `${prefix}-status`,
  };
  const routeHosts = new Set(routes.map((route) => route.host));
  const otherHosts = hosts.filter((host) => !routeHosts.has(host));
  const current = filters.target;
  const known =
    current === "" ||
    routes.some((route) => `route:${route.id}` === current) ||
    hosts.some((host) => `host:${host}` === current);
  const filtered = JSON.stringify(filters) !== JSON.stringify(DEFAULT_FILTERS);

  return (
    <form
      className="traffic-filters"
      role="search"
      aria-label="Filter traffic"
      onSubmit={(event) => {
        event.preventDefault();
      }}
    >
      <div className="field grow">
        <label htmlFor={ids.search}>Search</label>
        <input
          id={ids.search}
          ref={textRef}
          type="search"
          placeholder="URL or header text  ( / )"
          value={filters.text}
          aria-keyshortcuts="/"
          onChange={(event) => {
            onChange({ text: event.target.value }, true);
          }}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.target}>Host or route</label>
        <select
          id={ids.target}
          value={filters.target}
          onChange={(event) => {
            onChange({ target: event.target.value }, false);
          }}
        >
          <option value="">All</option>
          {!known && <option value={current}>{current.replace(/^(host|route):/, "")}</option>}
          {routes.length > 0 && (
            <optgroup label="Routes">
              {routes.map((route) => (
                <option key={route.id} value={`route:${route.id}`}>
                  {routeLabel(route)}
                </option>
              ))}
            </optgroup>
          )}
          {otherHosts.length > 0 && (
            <optgroup label="Other hosts">
              {otherHosts.map((host) => (
                <option key={host} value={`host:${host}`}>
                  {host}
                </option>
              ))}
            </optgroup>
          )}
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.method}>Method</label>
        <select
          id={ids.method}
          value={filters.method}
          onChange={(event) => {
            onChange({ method: event.target.value }, false);
          }}
        >
          <option value="">Any</option>
          {METHODS.map((method) => (
            <option key={method} value={method}>
              {method}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.statusClass}>Status</label>
        <select
          id={ids.statusClass}
          value={filters.statusClass}
          onChange={(event) => {
            onChange({ statusClass: event.target.value as "" | StatusClass }, false);
          }}
        >
          <option value="">Any</option>
          {STATUS_CLASSES.map((klass) => (
            <option key={klass} value={klass}>
              {klass}
            </option>
          ))}
        </select>
      </div>
      <div className="field narrow">
        <label htmlFor={ids.status}>Exact status</label>
        <input
          id={ids.status}
          type="text"
          inputMode="numeric"
          pattern="[1-5][0-9][0-9]"
          maxLength={3}
          placeholder="e.g. 404"
          value={filters.status}
          onChange={(event) => {
            onChange({ status: event.target.value.replace(/\D/g, "") }, true);
          }}
        />
      </div>
      <label className="check">
        <input
          type="checkbox"
          checked={filters.errorsOnly}
          onChange={(event) => {
            onChange({ errorsOnly: event.target.checked }, false);
          }}
        />
        Errors only
      </label>
      <span className="check slow-filter">
        <label>
          <input
            type="checkbox"
            checked={filters.slowOnly}
            onChange={(event) => {
              onChange({ slowOnly: event.target.checked }, false);
            }}
          />
          Slow only
        </label>
        <label>
          <span className="visually-hidden">Slow means at least (milliseconds)</span>
          <span aria-hidden="true">≥</span>
          <input
            type="number"
            min={0}
            step={100}
            className="ms"
            placeholder={String(DEFAULT_SLOW_MS)}
            value={filters.minDurationMs}
            onChange={(event) => {
              onChange({ minDurationMs: event.target.value }, true);
            }}
          />{" "}
          ms
        </label>
      </span>
      {filtered && (
        <button
          type="button"
          className="secondary"
          onClick={() => {
            onChange(DEFAULT_FILTERS, false);
          }}
        >
          Reset filters
        </button>
      )}
    </form>
  );
}
