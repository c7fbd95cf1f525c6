// The route editor: a side panel holding every field of a route. "Add route" starts from the
// discovered dev servers; saving creates the route (POST) or sends only what changed (PATCH).
// A refused save shows the API's message next to the field it names and keeps every input.
import { useId, useState, type SyntheticEvent, type ReactNode } from "react";
import { ApiError, type Route, type Service } from "../../api/client";
import { createRoute, updateRoute, type Settings } from "../../api/routes";
import {
  fieldForApi,
  formFromRoute,
  formFromService,
  newForm,
  nextRowId,
  REDIRECT_STATUSES,
  toNewRoute,
  toPatch,
  upstreamRow,
  type FormField,
  type RouteForm,
  type TargetKind,
} from "./form";
import { BalancingEditor } from "./BalancingEditor";
import { HeaderRulesEditor } from "./HeaderRulesEditor";
import { describeService, sanitizeHost, unmappedServices } from "./links";
import { Modal } from "../../lib/Modal";
import { pickFolder, shellError, useDesktop } from "../../platform/tauri";
import { shortenPath } from "./moved";
import { parseUpstream, upstreamHints } from "./upstreams";
import { KEEP_EXPIRY, SHARE_DURATIONS } from "./share";

export type EditorMode = { kind: "add" } | { kind: "edit"; route: Route };

interface Props {
  mode: EditorMode;
  services: Service[] | undefined;
  settings: Settings | undefined;
  onSaved: (route: Route) => void;
  onDelete: (route: Route) => void;
  onClose: () => void;
}

type Errors = Partial<Record<FormField, string>>;

/** The element to focus for an error on each field. */
const FOCUS: Record<FormField, string> = {
  host: "#re-host",
  path: "#re-path",
  upstreams: "#re-upstreams input",
  balancing: "#re-balancing input, #re-balancing select",
  timeout: "#re-timeout",
  staticDir: "#re-static-dir",
  redirect: "#re-redirect",
  redirectStatus: "#re-redirect-status",
  requestHeaders: "#re-request-headers input, #re-request-headers button",
  responseHeaders: "#re-response-headers input, #re-response-headers button",
  cacheTtl: "#re-cache-ttl",
  allowIps: "#re-allow-ips",
  denyIps: "#re-deny-ips",
  rateLimit: "#re-rate-limit",
  maxBody: "#re-max-body",
  maxConns: "#re-max-conns",
  basicAuth: "#re-auth input, #re-auth button",
  shared: "#re-shared",
  shareAllowIps: "#re-share-allow-ips",
  form: "#re-form-error",
};

/** The target kind whose inputs show each field (an error there switches to it). */
const FIELD_KIND: Partial<Record<FormField, TargetKind>> = {
  upstreams: "upstream",
  balancing: "upstream",
  timeout: "upstream",
  requestHeaders: "upstream",
  cacheTtl: "upstream",
  staticDir: "static",
  redirect: "redirect",
  redirectStatus: "redirect",
};

const KINDS: { kind: TargetKind; label: string; hint: string }[] = [
  { kind: "upstream", label: "Dev server", hint: "Forward to a server on a port" },
  { kind: "static", label: "Folder", hint: "Serve files from a folder" },
  { kind: "redirect", label: "Redirect", hint: "Send the browser elsewhere" },
];

export function RouteEditor({ mode, services, settings, onSaved, onDelete, onClose }: Props) {
  // The route as it was when the editor opened: a save sends what the user changed since, not
  // what changed elsewhere (a switch, the CLI) in the meantime.
  const [editing] = useState(mode.kind === "edit" ? mode.route : null);
  const [form, setForm] = useState<RouteForm>(() => (editing ? formFromRoute(editing) : newForm(settings)));
  const [errors, setErrors] = useState<Errors>({});
  const [saving, setSaving] = useState(false);
  const [picked, setPicked] = useState<number | null>(null);
  const titleId = useId();
  const desktop = useDesktop();

  const chooseFolder = async () => {
    try {
      const folder = await pickFolder(form.staticDir);
      if (folder !== null) set("staticDir", folder, "staticDir");
    } catch (err) {
      setErrors({ staticDir: `The folder picker failed: ${shellError(err)}. Type the path instead.` });
    }
  };

  const set = <K extends keyof RouteForm>(key: K, value: RouteForm[K], clears?: FormField) => {
    setForm((current) => ({ ...current, [key]: value }));
    if (clears && errors[clears] !== undefined) setErrors((current) => ({ ...current, [clears]: undefined }));
  };

  const showError = (field: FormField, message: string) => {
    const kind = FIELD_KIND[field];
    if (kind && kind !== form.kind) setForm((current) => ({ ...current, kind }));
    setErrors({ [field]: message });
    requestAnimationFrame(() => document.querySelector<HTMLElement>(FOCUS[field])?.focus());
  };

  const submit = async (event: SyntheticEvent) => {
    event.preventDefault();
    if (saving) return;
    setErrors({});
    setSaving(true);
    try {
      if (editing) {
        const patch = toPatch(editing, form);
        if (!patch.ok) showError(patch.field, patch.message);
        else if (Object.keys(patch.value).length === 0) onClose();
        else onSaved(await updateRoute(editing.id, patch.value));
      } else {
        const route = toNewRoute(form);
        if (!route.ok) showError(route.field, route.message);
        else onSaved(await createRoute(route.value));
      }
    } catch (caught) {
      if (caught instanceof ApiError) {
        // A duplicate host and path (409) names no field; it belongs to the host.
        const field = caught.field === undefined && caught.status === 409 ? "host" : fieldForApi(caught.field);
        showError(field, caught.message);
      } else {
        showError("form", `Cannot reach Portico's admin API (${caught instanceof Error ? caught.message : String(caught)}).`);
      }
    } finally {
      setSaving(false);
    }
  };

  const pick = (service: Service) => {
    setPicked(service.port);
    setForm((current) => formFromService(current, service));
    setErrors({});
  };

  const candidates = services === undefined ? [] : unmappedServices(services);
  const title = editing ? `Edit ${editing.path === "/" ? editing.host : editing.host + editing.path}` : "Add route";
  const fieldError = (field: FormField) => errors[field];
  const described = (field: FormField, hintId?: string) => {
    const ids = [errors[field] ? `re-${field}-error` : null, hintId ?? null].filter((x): x is string => x !== null);
    return ids.length > 0 ? ids.join(" ") : undefined;
  };
  const limitProps = (field: LimitKey, id: string, name: string, label: string, hintId?: string): LimitFieldProps => ({
    id,
    name,
    label,
    value: form[field],
    error: fieldError(field),
    errorId: `re-${field}-error`,
    describedBy: described(field, hintId),
    onChange: (text) => { set(field, text, field); },
  });
  const hints = upstreamHints(form.upstreams.map((row) => row.text));
  const firstUpstream = form.upstreams.map((row) => parseUpstream(row.text)).find((p) => p.ok);
  const upstreamAuthority = firstUpstream?.ok ? firstUpstream.upstream.url.replace(/^http:\/\//, "").split("/")[0] : "host:port";
  const hostShown = form.host.trim() || "the route's host";

  return (
    <Modal labelledBy={titleId} className="route-editor" onClose={onClose}>
      <form className="re-form" onSubmit={(event) => void submit(event)} noValidate>
        <header className="re-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="re-icon-button" aria-label="Close the editor" title="Close (Esc)" onClick={onClose}>
            ×
          </button>
        </header>

        <div className="re-body">
          {editing?.project && (
            <p className="hint re-note">
              Added by <code>portico up</code> from <code>{editing.project}</code>: the project&apos;s{" "}
              <code>portico.json</code> sets it again on the next <code>portico up</code>.
            </p>
          )}

          {!editing && (
            <section className="re-section" aria-labelledby="re-start">
              <h3 id="re-start">Start from a running dev server</h3>
              {candidates.length === 0 ? (
                <p className="hint">
                  {services === undefined
                    ? "Looking for dev servers…"
                    : "No unmapped dev servers are running. Start one (npm run dev) and it shows here, or fill in the route below."}
                </p>
              ) : (
                <ul className="re-services" aria-label="Discovered dev servers">
                  {candidates.map((service, index) => {
                    const host = sanitizeHost(service.suggested_host);
                    return (
                      <li key={service.port}>
                        <button
                          type="button"
                          className="re-service"
                          aria-pressed={picked === service.port}
                          data-autofocus={index === 0 ? true : undefined}
                          onClick={() => { pick(service); }}
                        >
                          <span className="re-service-port">:{service.port}</span>
                          <span className="re-service-what">
                            {describeService(service)}
                            {service.cwd && <span className="muted"> · {shortenPath(service.cwd)}</span>}
                          </span>
                          {host && <span className="muted re-service-host">→ {host}</span>}
                        </button>
                      </li>
                    );
                  })}
                </ul>
              )}
            </section>
          )}

          <section className="re-section" aria-labelledby="re-where">
            <h3 id="re-where">Address</h3>
            <div className="re-row">
              <Field id="re-host" label="Host" error={fieldError("host")} errorId="re-host-error" grow>
                <input
                  id="re-host"
                  name="host"
                  value={form.host}
                  placeholder="app.localhost"
                  spellCheck={false}
                  autoComplete="off"
                  required
                  data-autofocus={editing || candidates.length === 0 ? true : undefined}
                  aria-invalid={errors.host ? true : undefined}
                  aria-describedby={described("host", "re-host-hint")}
                  onChange={(event) => { set("host", event.currentTarget.value, "host"); }}
                />
              </Field>
              <Field id="re-path" label="Path prefix" error={fieldError("path")} errorId="re-path-error">
                <input
                  id="re-path"
                  name="path"
                  value={form.path}
                  placeholder="/"
                  spellCheck={false}
                  autoComplete="off"
                  aria-invalid={errors.path ? true : undefined}
                  aria-describedby={described("path")}
                  onChange={(event) => { set("path", event.currentTarget.value, "path"); }}
                />
              </Field>
            </div>
            <p className="hint re-hint" id="re-host-hint">
              Any name under <code>.localhost</code> works without setup; <code>*.app.localhost</code> matches every
              name below it.
            </p>
          </section>

          <section className="re-section" aria-labelledby="re-target">
            <h3 id="re-target">Target</h3>
            <fieldset className="re-kinds">
              <legend className="visually-hidden">What the route answers with</legend>
              {KINDS.map(({ kind, label, hint }) => (
                <label key={kind} className="re-kind" data-checked={form.kind === kind}>
                  <input
                    type="radio"
                    name="kind"
                    value={kind}
                    checked={form.kind === kind}
                    onChange={() => { set("kind", kind); }}
                  />
                  <span className="re-kind-label">{label}</span>
                  <span className="re-kind-hint">{hint}</span>
                </label>
              ))}
            </fieldset>

            {form.kind === "upstream" && (
              <>
                <fieldset className="re-list" id="re-upstreams" aria-describedby={described("upstreams")}>
                  <legend>Forward to</legend>
                  {form.upstreams.map((row, index) => {
                    const hint = hints[index];
                    const hintId = `re-upstream-hint-${row.id}`;
                    return (
                      <div className="re-list-row" key={row.id}>
                        <div className="re-list-input">
                          <input
                            aria-label={index === 0 ? "Upstream" : `Upstream ${index + 1}`}
                            value={row.text}
                            placeholder="5173, localhost:5173 or http://127.0.0.1:8000/base"
                            spellCheck={false}
                            autoComplete="off"
                            aria-invalid={errors.upstreams ? true : undefined}
                            aria-describedby={[errors.upstreams ? "re-upstreams-error" : "", hint ? hintId : ""].join(" ").trim() || undefined}
                            onChange={(event) => {
                              const text = event.currentTarget.value;
                              set(
                                "upstreams",
                                form.upstreams.map((r) => (r.id === row.id ? { ...r, text } : r)),
                                "upstreams",
                              );
                            }}
                          />
                          {hint && (
                            <span id={hintId} className={hint.tone === "ok" ? "re-upstream-ok" : "re-upstream-problem"}>
                              {hint.text}
                            </span>
                          )}
                        </div>
                        {form.upstreams.length > 1 && (
                          <button
                            type="button"
                            className="re-icon-button"
                            aria-label={`Remove upstream ${index + 1}`}
                            title="Remove this upstream"
                            onClick={() => { set("upstreams", form.upstreams.filter((r) => r.id !== row.id), "upstreams"); }}
                          >
                            ×
                          </button>
                        )}
                      </div>
                    );
                  })}
                  {errors.upstreams && <FieldError id="re-upstreams-error" message={errors.upstreams} />}
                  <button
                    type="button"
                    className="re-secondary re-small"
                    onClick={() => { set("upstreams", [...form.upstreams, upstreamRow()]); }}
                  >
                    Add upstream
                  </button>
                </fieldset>

                <BalancingEditor
                  value={form.balancing}
                  several={form.upstreams.filter((row) => row.text.trim() !== "").length > 1}
                  error={fieldError("balancing")}
                  onChange={(next) => { set("balancing", next, "balancing"); }}
                />

                <fieldset className="re-choice">
                  <legend>Host header sent upstream</legend>
                  <label>
                    <input
                      type="radio"
                      name="upstream_host"
                      checked={!form.upstreamHost}
                      onChange={() => { set("upstreamHost", false); }}
                    />
                    Keep the browser&apos;s (<code>{hostShown}</code>)
                  </label>
                  <label>
                    <input
                      type="radio"
                      name="upstream_host"
                      checked={form.upstreamHost}
                      onChange={() => { set("upstreamHost", true); }}
                    />
                    Rewrite to the upstream&apos;s (<code>{upstreamAuthority}</code>)
                  </label>
                  <p className="hint re-hint">Rewrite when the server only answers to its own name (e.g. a Vite host check).</p>
                </fieldset>

                <Field id="re-timeout" label="Timeout (seconds)" error={fieldError("timeout")} errorId="re-timeout-error">
                  <input
                    id="re-timeout"
                    name="timeout"
                    inputMode="decimal"
                    className="re-number"
                    value={form.timeoutSecs}
                    placeholder="60"
                    aria-invalid={errors.timeout ? true : undefined}
                    aria-describedby={described("timeout", "re-timeout-hint")}
                    onChange={(event) => { set("timeoutSecs", event.currentTarget.value, "timeout"); }}
                  />
                </Field>
                <p className="hint re-hint" id="re-timeout-hint">
                  How long to wait for the response headers. Empty: 60 s. Streams and long downloads are not cut.
                </p>
              </>
            )}

            {form.kind === "static" && (
              <>
                <Field id="re-static-dir" label="Folder (absolute path)" error={fieldError("staticDir")} errorId="re-staticDir-error">
                  <div className="re-with-button">
                    <input
                      id="re-static-dir"
                      name="static_dir"
                      value={form.staticDir}
                      placeholder="/home/you/site/dist"
                      spellCheck={false}
                      autoComplete="off"
                      aria-invalid={errors.staticDir ? true : undefined}
                      aria-describedby={described("staticDir")}
                      onChange={(event) => { set("staticDir", event.currentTarget.value, "staticDir"); }}
                    />
                    {desktop && (
                      <button type="button" onClick={() => void chooseFolder()}>
                        Choose…
                      </button>
                    )}
                  </div>
                </Field>
                <Toggle label="Single-page app: unknown page paths get index.html" checked={form.spa} onChange={(v) => { set("spa", v); }} />
                <Toggle label="List a folder's files when it has no index.html" checked={form.dirListing} onChange={(v) => { set("dirListing", v); }} />
                <Toggle label="Follow symbolic links that lead outside the folder" checked={form.followSymlinks} onChange={(v) => { set("followSymlinks", v); }} />
              </>
            )}

            {form.kind === "redirect" && (
              <>
                <Field id="re-redirect" label="Redirect to (URL)" error={fieldError("redirect")} errorId="re-redirect-error">
                  <input
                    id="re-redirect"
                    name="redirect"
                    type="url"
                    value={form.redirect}
                    placeholder="https://new.localhost"
                    spellCheck={false}
                    autoComplete="off"
                    aria-invalid={errors.redirect ? true : undefined}
                    aria-describedby={described("redirect")}
                    onChange={(event) => { set("redirect", event.currentTarget.value, "redirect"); }}
                  />
                </Field>
                <Field id="re-redirect-status" label="Status" error={fieldError("redirectStatus")} errorId="re-redirectStatus-error">
                  <select
                    id="re-redirect-status"
                    name="redirect_status"
                    value={form.redirectStatus}
                    aria-invalid={errors.redirectStatus ? true : undefined}
                    aria-describedby={described("redirectStatus")}
                    onChange={(event) => {
                      const status = REDIRECT_STATUSES.find((s) => String(s) === event.currentTarget.value);
                      if (status !== undefined) set("redirectStatus", status, "redirectStatus");
                    }}
                  >
                    <option value={307}>307 Temporary (keeps the method)</option>
                    <option value={302}>302 Found</option>
                    <option value={308}>308 Permanent (keeps the method)</option>
                    <option value={301}>301 Moved permanently</option>
                  </select>
                </Field>
                <Toggle
                  label="Keep the path and query (append them to the URL)"
                  checked={form.redirectKeepPath}
                  onChange={(v) => { set("redirectKeepPath", v); }}
                />
              </>
            )}

            {form.kind !== "static" && (
              <Toggle
                label="Strip the path prefix before forwarding"
                hint={form.path.trim() === "/" || form.path.trim() === "" ? "Only matters with a path prefix other than /." : undefined}
                checked={form.stripPrefix}
                onChange={(v) => { set("stripPrefix", v); }}
              />
            )}
          </section>

          <section className="re-section" aria-labelledby="re-headers">
            <h3 id="re-headers">Headers</h3>
            {form.kind === "upstream" && (
              <HeaderRulesEditor
                which="request"
                legend="Request headers"
                hint="Changed before the request goes upstream: remove, then set (replacing), then add."
                rows={form.requestHeaders}
                onChange={(rows) => { set("requestHeaders", rows, "requestHeaders"); }}
                error={errors.requestHeaders}
              />
            )}
            <HeaderRulesEditor
              which="response"
              legend="Response headers"
              hint="Changed before the response reaches the browser (cached responses too)."
              rows={form.responseHeaders}
              onChange={(rows) => { set("responseHeaders", rows, "responseHeaders"); }}
              error={errors.responseHeaders}
            />
            <Toggle
              label="Hide backend headers (Server, X-Powered-By…)"
              checked={form.hideBackend}
              onChange={(v) => { set("hideBackend", v); }}
            />
          </section>

          <section className="re-section" aria-labelledby="re-access">
            <h3 id="re-access">Who may use it</h3>
            <p className="hint re-hint" id="re-access-hint">
              Client addresses or CIDR ranges, separated by commas or spaces (127.0.0.1, 192.168.1.0/24, ::1). Others get
              403. A denied address is refused even when it is also allowed. Settings has the same lists for every route.
            </p>
            <Field id="re-allow-ips" label="Allowed addresses (empty: everyone)" error={fieldError("allowIps")} errorId="re-allowIps-error">
              <input
                id="re-allow-ips"
                name="allow_ips"
                value={form.allowIps}
                placeholder="everyone"
                spellCheck={false}
                autoComplete="off"
                aria-invalid={errors.allowIps ? true : undefined}
                aria-describedby={described("allowIps", "re-access-hint")}
                onChange={(event) => { set("allowIps", event.currentTarget.value, "allowIps"); }}
              />
            </Field>
            <Field id="re-deny-ips" label="Denied addresses" error={fieldError("denyIps")} errorId="re-denyIps-error">
              <input
                id="re-deny-ips"
                name="deny_ips"
                value={form.denyIps}
                placeholder="none"
                spellCheck={false}
                autoComplete="off"
                aria-invalid={errors.denyIps ? true : undefined}
                aria-describedby={described("denyIps", "re-access-hint")}
                onChange={(event) => { set("denyIps", event.currentTarget.value, "denyIps"); }}
              />
            </Field>
            <LimitField {...limitProps("rateLimit", "re-rate-limit", "rate_limit_per_sec", "Requests a second per client (empty: no limit)", "re-rate-hint")} />
            <p className="hint re-hint" id="re-rate-hint">
              Each client address may send this many a second (bursts up to the same number); more get 429 with Retry-After.
            </p>
            <LimitField {...limitProps("maxBody", "re-max-body", "max_body_bytes", "Largest request body in bytes (empty: no limit)")} />
            <LimitField {...limitProps("maxConns", "re-max-conns", "max_conns_per_ip", "Requests in flight per client (empty: no limit)", "re-conns-hint")} />
            <p className="hint re-hint" id="re-conns-hint">
              Each client address may have this many requests open at once on this route (HTTP/2 sends many over one connection, so requests are counted); more get 429.
            </p>
            <fieldset id="re-auth" className="re-auth" aria-describedby={described("basicAuth", "re-auth-hint")}>
              <legend>Basic auth users</legend>
              {form.authUsers.length === 0 && <p className="hint">None: no user name or password needed.</p>}
              {form.authUsers.map((row, index) => (
                <div className="re-auth-row" key={row.id}>
                  <input
                    aria-label={`User ${index + 1} name`}
                    name="auth_user"
                    value={row.user}
                    readOnly={row.stored}
                    placeholder="user"
                    spellCheck={false}
                    autoComplete="off"
                    onChange={(event) => {
                      const user = event.currentTarget.value;
                      set("authUsers", form.authUsers.map((r) => (r.id === row.id ? { ...r, user } : r)), "basicAuth");
                    }}
                  />
                  <input
                    aria-label={`User ${index + 1} password`}
                    name="auth_password"
                    type="password"
                    value={row.password}
                    placeholder={row.stored ? "unchanged" : "password"}
                    autoComplete="new-password"
                    onChange={(event) => {
                      const password = event.currentTarget.value;
                      set("authUsers", form.authUsers.map((r) => (r.id === row.id ? { ...r, password } : r)), "basicAuth");
                    }}
                  />
                  <button
                    type="button"
                    className="secondary"
                    aria-label={`Remove user ${row.user || index + 1}`}
                    onClick={() => { set("authUsers", form.authUsers.filter((r) => r.id !== row.id), "basicAuth"); }}
                  >
                    Remove
                  </button>
                </div>
              ))}
              <button
                type="button"
                className="secondary"
                onClick={() => { set("authUsers", [...form.authUsers, { id: nextRowId(), user: "", password: "", stored: false }], "basicAuth"); }}
              >
                Add user
              </button>
              {errors.basicAuth && <p className="re-field-error" role="alert" id="re-basicAuth-error">{errors.basicAuth}</p>}
            </fieldset>
            <p className="hint re-hint" id="re-auth-hint">
              Requests need one of these user names and passwords (HTTP basic auth, else 401). Stored passwords are never shown; leave a password empty to keep it.
            </p>
          </section>

          <section className="re-section" aria-labelledby="re-share">
            <h3 id="re-share">Share on your network</h3>
            <label className="re-toggle">
              <input
                id="re-shared"
                type="checkbox"
                role="switch"
                name="shared"
                checked={form.shared}
                disabled={form.host.trim().startsWith("*.")}
                aria-invalid={errors.shared ? true : undefined}
                aria-describedby={described("shared", "re-share-hint")}
                onChange={(event) => { set("shared", event.currentTarget.checked, "shared"); }}
              />
              <span>
                Share on your network
                <span className="re-toggle-hint" id="re-share-hint">
                  {form.host.trim().startsWith("*.")
                    ? "Only a route with an exact name can be shared."
                    : "Phones and other devices on your Wi-Fi open it at this machine's address (HTTPS, a port of its own); everything else stays on this machine."}
                </span>
              </span>
            </label>
            {errors.shared && <FieldError id="re-shared-error" message={errors.shared} />}
            {form.shared && (
              <>
                <Field id="re-share-for" label="For how long" error={undefined} errorId="re-shareFor-error">
                  <select
                    id="re-share-for"
                    name="share_for"
                    value={form.shareFor}
                    onChange={(event) => { set("shareFor", event.currentTarget.value); }}
                  >
                    {editing?.shared && editing.share_expires_at != null && (
                      <option value={KEEP_EXPIRY}>As now (until {new Date(editing.share_expires_at).toLocaleTimeString()})</option>
                    )}
                    {SHARE_DURATIONS.map((choice) => (
                      <option key={choice.value} value={choice.value}>
                        {choice.label}
                      </option>
                    ))}
                  </select>
                </Field>
                <Field
                  id="re-share-allow-ips"
                  label="Devices allowed (empty: private networks)"
                  error={fieldError("shareAllowIps")}
                  errorId="re-shareAllowIps-error"
                >
                  <input
                    id="re-share-allow-ips"
                    name="share_allow_ips"
                    value={form.shareAllowIps}
                    placeholder="10/8, 172.16/12, 192.168/16, fc00::/7 …"
                    spellCheck={false}
                    autoComplete="off"
                    aria-invalid={errors.shareAllowIps ? true : undefined}
                    aria-describedby={described("shareAllowIps")}
                    onChange={(event) => { set("shareAllowIps", event.currentTarget.value, "shareAllowIps"); }}
                  />
                </Field>
              </>
            )}
          </section>

          <section className="re-section" aria-labelledby="re-perf">
            <h3 id="re-perf">Cache and compression</h3>
            {form.kind === "upstream" && (
              <>
                <Toggle
                  label="Cache responses like a shared HTTP cache (CDN)"
                  checked={form.cache}
                  onChange={(v) => { set("cache", v); }}
                />
                {form.cache && (
                  <Field id="re-cache-ttl" label="Cache responses without caching headers for (seconds)" error={fieldError("cacheTtl")} errorId="re-cacheTtl-error">
                    <input
                      id="re-cache-ttl"
                      name="cache_ttl_secs"
                      inputMode="numeric"
                      className="re-number"
                      value={form.cacheTtlSecs}
                      placeholder="off"
                      aria-invalid={errors.cacheTtl ? true : undefined}
                      aria-describedby={described("cacheTtl")}
                      onChange={(event) => { set("cacheTtlSecs", event.currentTarget.value, "cacheTtl"); }}
                    />
                  </Field>
                )}
              </>
            )}
            <Toggle label="Compress responses (zstd, br or gzip)" checked={form.compress} onChange={(v) => { set("compress", v); }} />
          </section>

          <section className="re-section" aria-labelledby="re-behaviour">
            <h3 id="re-behaviour">Behaviour</h3>
            <Toggle label="Enabled" hint="A disabled route stays saved but matches nothing." checked={form.enabled} onChange={(v) => { set("enabled", v); }} />
            <Toggle
              label="Redirect plain HTTP to HTTPS"
              hint="When the HTTPS listener is on."
              checked={form.httpsRedirect}
              onChange={(v) => { set("httpsRedirect", v); }}
            />
            <Toggle label="Record traffic in the inspector" checked={form.capture} onChange={(v) => { set("capture", v); }} />
          </section>

          {errors.form && (
            <p id="re-form-error" role="alert" className="error" tabIndex={-1}>
              {errors.form}
            </p>
          )}
        </div>

        <footer className="re-footer">
          {editing && (
            <button type="button" className="re-danger" onClick={() => { onDelete(editing); }}>
              Delete…
            </button>
          )}
          <span className="re-spacer" />
          <button type="button" className="re-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={saving}>
            {saving ? "Saving…" : editing ? "Save changes" : "Add route"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/** The optional limits: a whole number as typed, empty for none. */
type LimitKey = "rateLimit" | "maxBody" | "maxConns";

interface LimitFieldProps {
  id: string;
  name: string;
  label: string;
  value: string;
  error: string | undefined;
  errorId: string;
  describedBy: string | undefined;
  onChange: (text: string) => void;
}

function LimitField({ id, name, label, value, error, errorId, describedBy, onChange }: LimitFieldProps) {
  return (
    <Field id={id} label={label} error={error} errorId={errorId}>
      <input
        id={id}
        name={name}
        inputMode="numeric"
        className="re-number"
        value={value}
        placeholder="no limit"
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
        onChange={(event) => { onChange(event.currentTarget.value); }}
      />
    </Field>
  );
}

function FieldError({ id, message }: { id: string; message: string }) {
  return (
    <p id={id} role="alert" className="re-field-error">
      {message}
    </p>
  );
}

interface FieldProps {
  id: string;
  label: string;
  error: string | undefined;
  errorId: string;
  grow?: boolean;
  children: ReactNode;
}

function Field({ id, label, error, errorId, grow, children }: FieldProps) {
  return (
    <div className={grow ? "re-field re-grow" : "re-field"}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error && <FieldError id={errorId} message={error} />}
    </div>
  );
}

interface ToggleProps {
  label: string;
  hint?: string | undefined;
  checked: boolean;
  onChange: (value: boolean) => void;
}

function Toggle({ label, hint, checked, onChange }: ToggleProps) {
  return (
    <label className="re-toggle">
      <input type="checkbox" role="switch" checked={checked} onChange={(event) => { onChange(event.currentTarget.checked); }} />
      <span>
        {label}
        {hint && <span className="re-toggle-hint">{hint}</span>}
      </span>
    </label>
  );
}
