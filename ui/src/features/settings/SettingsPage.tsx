// The Settings page: every engine setting grouped by what it affects, edited as a draft and
// saved as one PATCH of only the changed fields. A refused value keeps the draft and shows the
// API's message next to the field it names.
import { useCallback, useEffect, useRef, useState, type SyntheticEvent } from "react";
import { ApiError, subscribeEvents } from "../../api/client";
import { getSettings, patchSettings, type Settings } from "../../api/settings";
import { useStatus } from "../../app/status";
import {
  diffSettings,
  toDraft,
  type AddressKey,
  type DnsKey,
  type Draft,
  type FieldKey,
  type ListKey,
  type OptionalNumberKey,
  type OptionalTextKey,
  type NumberKey,
  type SwitchKey,
} from "./form";
import { AddressField, TextField, NumberInput, SuffixEditor, SwitchField } from "./fields";
import { LowPorts, SYSCTL_COMMAND } from "./LowPorts";
import { DnsPanel } from "./DnsPanel";
import { HostsSync } from "./HostsSync";
import { revealDataDir, shellError, useDesktop } from "../../platform/tauri";
import "./settings.css";

/** Settings that take effect only when `portico serve` starts again. */
const AT_NEXT_START: readonly FieldKey[] = ["http_listen", "https_listen", "admin_listen", "header_read_timeout_ms", "shutdown_grace_ms"];

const LABELS: Record<FieldKey, string> = {
  http_listen: "HTTP listen address",
  https_listen: "HTTPS listen address",
  admin_listen: "Admin listen address",
  local_suffixes: "Local suffixes",
  allow_ips: "Allowed addresses",
  deny_ips: "Denied addresses",
  rate_limit_per_sec: "Requests a second per client",
  max_body_bytes: "Largest request body (bytes)",
  max_conns_per_ip: "Open connections per client",
  lan_address: "This machine's address on your network",
  share_ca_port: "Port of the certificate page for phones",
  dns_suffixes: "DNS suffixes",
  dns_listen: "DNS responder address",
  proxy_paused: "Pause proxying",
  capture_paused: "Pause capture",
  capture_body_limit: "Body preview limit",
  capture_retention_count: "Retention count",
  capture_retention_days: "Retention days",
  capture_max_mb: "Capture size on disk",
  cache_max_mb: "Cache size",
  compress_min_bytes: "Compress from",
  default_cache: "Cache new routes",
  default_compress: "Compress new routes",
  hosts_sync: "Keep names in the hosts file",
  header_read_timeout_ms: "Header read timeout",
  shutdown_grace_ms: "Shutdown grace",
};

interface Refusal {
  field: FieldKey | null;
  message: string;
}

interface Saved {
  fields: FieldKey[];
  restart: boolean;
}

function isFieldKey(field: string | undefined): field is FieldKey {
  return field !== undefined && field in LABELS;
}

export function SettingsPage() {
  const status = useStatus();
  const desktop = useDesktop();
  const [revealError, setRevealError] = useState<string | null>(null);
  const [base, setBase] = useState<Settings | undefined>(undefined);
  const [draft, setDraft] = useState<Draft | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<Saved | null>(null);
  const [changedElsewhere, setChangedElsewhere] = useState(false);
  const [tick, setTick] = useState(0);
  const dirtyRef = useRef(false);
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    const controller = new AbortController();
    getSettings(controller.signal)
      .then((settings) => {
        setBase(settings);
        setDraft(toDraft(settings));
        setLoadError(null);
        setRefusal(null);
        setChangedElsewhere(false);
      })
      .catch((caught: unknown) => {
        if (controller.signal.aborted) return;
        setLoadError(caught instanceof Error ? caught.message : String(caught));
      });
    return () => {
      controller.abort();
    };
  }, [tick]);

  const reload = useCallback(() => {
    setTick((t) => t + 1);
  }, []);

  // Changes from the CLI or another window: taken at once when nothing is being edited,
  // otherwise offered (taking them would silently drop the edits).
  useEffect(
    () =>
      subscribeEvents((event) => {
        if (event.type !== "settings_changed" && event.type !== "lagged") return;
        if (dirtyRef.current) setChangedElsewhere(true);
        else reload();
      }),
    [reload],
  );

  const diff = base && draft ? diffSettings(base, draft) : undefined;
  const dirty = diff !== undefined && diff.changed.length > 0;
  const invalid = diff !== undefined && Object.keys(diff.errors).length > 0;
  useEffect(() => {
    dirtyRef.current = dirty;
    if (!dirty) return;
    // Closing or reloading the tab would drop the edits: let the browser ask first.
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => {
      window.removeEventListener("beforeunload", warn);
    };
  }, [dirty]);

  const edit = useCallback(<K extends keyof Draft>(key: K, value: Draft[K]) => {
    setDraft((current) => (current === undefined ? current : { ...current, [key]: value }));
    setSaved(null);
    setRefusal((current) => (current?.field === key ? null : current));
  }, []);

  const focusField = (field: FieldKey) => {
    requestAnimationFrame(() => {
      formRef.current?.querySelector<HTMLElement>(`[data-field="${field}"]`)?.focus();
    });
  };

  const save = async (event: SyntheticEvent) => {
    event.preventDefault();
    if (!base || !draft || !diff || saving) return;
    const firstError = Object.keys(diff.errors)[0];
    if (isFieldKey(firstError)) {
      focusField(firstError);
      return;
    }
    if (Object.keys(diff.patch).length === 0) return;
    setSaving(true);
    setRefusal(null);
    setSaved(null);
    try {
      await patchSettings(diff.patch);
      const fresh = await getSettings();
      setBase(fresh);
      setDraft(toDraft(fresh));
      setChangedElsewhere(false);
      setSaved({ fields: diff.changed, restart: diff.changed.some((field) => AT_NEXT_START.includes(field)) });
    } catch (caught) {
      const message = caught instanceof Error ? caught.message : String(caught);
      const field = caught instanceof ApiError && isFieldKey(caught.field) ? caught.field : null;
      setRefusal({ field, message });
      if (field !== null) focusField(field);
    } finally {
      setSaving(false);
    }
  };

  const revert = () => {
    if (!base) return;
    setDraft(toDraft(base));
    setRefusal(null);
    setSaved(null);
  };

  const errorFor = (key: FieldKey): string | null => {
    if (refusal?.field === key) return refusal.message;
    return diff?.errors[key] ?? null;
  };
  const number = (key: NumberKey) =>
    draft && (
      <NumberInput
        name={key}
        nextStart={AT_NEXT_START.includes(key)}
        value={draft[key]}
        error={errorFor(key)}
        refused={refusal?.field === key}
        onChange={(value) => {
          edit(key, value);
        }}
      />
    );
  const address = (key: AddressKey, bound: readonly string[] | undefined, fallback: string) =>
    draft && (
      <AddressField
        name={key}
        label={LABELS[key]}
        value={draft[key]}
        bound={bound}
        fallback={fallback}
        error={errorFor(key)}
        refused={refusal?.field === key}
        onChange={(value) => {
          edit(key, value);
        }}
      />
    );
  const list = (key: ListKey | OptionalNumberKey | OptionalTextKey | DnsKey, placeholder: string, help: string) =>
    draft && (
      <TextField
        name={key}
        label={LABELS[key]}
        help={help}
        value={draft[key]}
        placeholder={placeholder}
        error={errorFor(key)}
        refused={refusal?.field === key}
        onChange={(value) => {
          edit(key, value);
        }}
      />
    );
  const toggle = (key: SwitchKey, label: string, help: string) =>
    draft && (
      <SwitchField
        name={key}
        label={label}
        help={help}
        checked={draft[key]}
        error={errorFor(key)}
        onChange={(value) => {
          edit(key, value);
        }}
      />
    );

  const listeners = status?.listeners;

  return (
    <div className="settings">
      <header className="page-head">
        <h1>Settings</h1>
        <p className="muted">
          Stored with Portico&apos;s data{status ? <> in <code>{status.data_dir}</code></> : null}
          {desktop && (
            <>
              {" "}
              (
              <button
                type="button"
                className="linklike"
                onClick={() => {
                  setRevealError(null);
                  revealDataDir().catch((err: unknown) => {
                    setRevealError(shellError(err));
                  });
                }}
              >
                show in the file manager
              </button>
              )
            </>
          )}{" "}
          and shared with the CLI (<code>portico settings</code>). Most apply at once; those
          marked <span className="tag">next start</span> apply when <code>portico serve</code> starts again.
        </p>
        {revealError !== null && (
          <p role="alert" className="error">
            Cannot show the data folder: {revealError}
          </p>
        )}
      </header>

      {loadError !== null && (
        <div role="alert" className="error">
          <p>Cannot load the settings: {loadError}</p>
          <button type="button" onClick={reload}>
            Try again
          </button>
        </div>
      )}
      {draft === undefined && loadError === null && <p className="muted">Loading settings…</p>}

      {draft && (
        <form ref={formRef} onSubmit={(event) => void save(event)} noValidate aria-label="Settings">
          {changedElsewhere && (
            <div className="notice" role="status">
              <p>
                The settings were changed elsewhere (the CLI or another window) while you were editing.{" "}
                <button type="button" className="linklike" onClick={reload}>
                  Load them
                </button>{" "}
                (discards your edits), or save yours over them.
              </p>
            </div>
          )}

          <fieldset className="panel">
            <legend>
              <h2>Listeners</h2>
            </legend>
            {toggle(
              "proxy_paused",
              "Pause proxying",
              "Every route answers 503 “Portico is paused” until you resume; the listeners stay bound and this page keeps working.",
            )}
            <p className="hint section-hint">
              Where Portico accepts connections when <code>portico serve</code> is started without <code>--http</code>,{" "}
              <code>--https</code> or <code>--admin</code> (those flags win). These apply at the next start: the running
              engine keeps its listeners. Leave one empty for the default. An address set here is bound exactly, and Portico
              does not start if it cannot bind it.
            </p>
            {address("http_listen", listeners?.http, "127.0.0.1:80, else 127.0.0.1:8080")}
            {address("https_listen", listeners?.https, "127.0.0.1:443, else 127.0.0.1:8443")}
            {address("admin_listen", listeners?.admin, "127.0.0.1:7080, else a free port")}
            <LowPorts fallbacks={listeners?.fallbacks ?? []} />
            <details className="low-ports">
              <summary>Ports below 1024 (80, 443) need privileges</summary>
              <p>
                On Linux, only administrators may listen on a port below 1024. Without that, the default listeners fall back to
                8080 and 8443 (and say so when Portico starts). To use 80 and 443, allow low ports for every program, once:
              </p>
              <pre>
                <code>{SYSCTL_COMMAND}</code>
              </pre>
              <p>or give only the command-line engine the capability (again after each upgrade):</p>
              <pre>
                <code>sudo setcap cap_net_bind_service=+ep $(which portico)</code>
              </pre>
            </details>
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Who may connect</h2>
            </legend>
            <p className="hint section-hint">
              For every route (each route has its own lists too). Client addresses or CIDR ranges, separated by commas or
              spaces: <code>127.0.0.1</code>, <code>192.168.1.0/24</code>, <code>::1</code>. Others get 403; a denied
              address is refused even when it is also allowed. Apply at once.
            </p>
            {list("allow_ips", "everyone", "When not empty, only these may use any route.")}
            {list("deny_ips", "none", "These may use no route.")}
            {list(
              "rate_limit_per_sec",
              "no limit",
              "Each client address may send this many requests a second over all routes (bursts up to the same number); more get 429 with Retry-After. Empty: no limit.",
            )}
            {list(
              "max_body_bytes",
              "no limit",
              "Request bodies larger than this get 413 on every route (a route's own limit applies too; the smaller wins). Empty: no limit.",
            )}
            {list(
              "max_conns_per_ip",
              "no limit",
              "Each client address may have this many connections open to Portico; a connection over it is answered 429 and closed. Counts connections opened after the change. Empty: no limit.",
            )}
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Sharing on your network</h2>
            </legend>
            <p className="hint section-hint">
              Routes you share (route editor, or <code>portico share HOST</code>) listen on this address, each on a port of its
              own; everything else stays on this machine. Apply at once.
            </p>
            {list(
              "lan_address",
              "found by itself",
              "The address phones on your Wi-Fi reach this machine by, e.g. 192.168.1.20. Empty: the private address the machine uses toward its network.",
            )}
            {list("share_ca_port", "a free port", "Where http://ADDRESS:PORT/ca helps a device install Portico's certificate, while a route is shared.")}
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Local suffixes</h2>
            </legend>
            <SuffixEditor
              suffixes={draft.local_suffixes}
              error={errorFor("local_suffixes")}
              refused={refusal?.field === "local_suffixes"}
              onChange={(list) => {
                edit("local_suffixes", list);
              }}
            />
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Names that resolve</h2>
            </legend>
            <p className="hint section-hint">
              A name such as <code>app.test</code> resolves on this machine only when something says where it is. Portico
              keeps the exact names of enabled routes in a marked block of the system hosts file, and never changes a line
              outside it. Applies at once.
            </p>
            {toggle(
              "hosts_sync",
              "Keep names in the hosts file",
              "Adds and removes route names in Portico's block of the hosts file as routes change. Off: Portico leaves the file alone.",
            )}
            <HostsSync status={status?.hosts} />
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Wildcard names (DNS)</h2>
            </legend>
            <p className="hint section-hint">
              <code>*.localhost</code> names already reach this machine. For another suffix, Portico&apos;s DNS responder
              answers every name under it (and the suffix itself) with 127.0.0.1 and ::1, for any program on this machine,
              once the system resolver sends the suffix to it (one-time setup below). Names outside the suffixes are refused,
              never forwarded. Prefer a reserved suffix such as <code>test</code>. Apply at once.
            </p>
            {list("dns_suffixes", "none (responder off)", "Suffixes separated by commas or spaces, e.g. test. Empty: the responder is off.")}
            {list(
              "dns_listen",
              "127.0.0.1:5354",
              "A loopback IP:PORT for UDP and TCP (5353 is mDNS). Empty: 127.0.0.1:5354.",
            )}
            <DnsPanel />
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Capture</h2>
            </legend>
            <p className="hint section-hint">What the traffic inspector records and how long it keeps it. All apply at once.</p>
            {toggle("capture_paused", "Pause capture", "Nothing is recorded while paused; proxying goes on.")}
            <div className="grid">
              {number("capture_body_limit")}
              {number("capture_retention_count")}
              {number("capture_retention_days")}
              {number("capture_max_mb")}
            </div>
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Cache and compression</h2>
            </legend>
            <div className="grid">
              {number("cache_max_mb")}
              {number("compress_min_bytes")}
            </div>
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Defaults for new routes</h2>
            </legend>
            <p className="hint section-hint">
              Used when a route is added without saying. Existing routes keep their own switches (change them on{" "}
              <a href="#/routes">Routes</a>).
            </p>
            {toggle("default_cache", "Cache new routes", "New routes cache responses their upstream allows caching.")}
            {toggle("default_compress", "Compress new routes", "New routes compress responses (gzip, Brotli, zstd) for clients that accept it.")}
          </fieldset>

          <fieldset className="panel">
            <legend>
              <h2>Timeouts</h2>
            </legend>
            <div className="grid">
              {number("header_read_timeout_ms")}
              {number("shutdown_grace_ms")}
            </div>
          </fieldset>

          <div className={dirty || saved || refusal ? "savebar savebar-active" : "savebar"}>
            <div className="savebar-text" aria-live="polite">
              {refusal && (
                <p role="alert" className="error" data-testid="save-error">
                  Not saved{refusal.field ? ` (${LABELS[refusal.field]})` : ""}: {refusal.message}
                </p>
              )}
              {!refusal && saved && (
                <p role="status" className="saved">
                  ✓ Saved {saved.fields.map((field) => LABELS[field]).join(", ")}.
                  {saved.restart && " Listener and timeout changes apply when portico serve starts again."}
                </p>
              )}
              {!refusal && !saved && dirty && (
                <p>
                  {diff.changed.length} unsaved change{diff.changed.length === 1 ? "" : "s"}
                  {invalid ? ": fix the highlighted fields to save" : ""}
                </p>
              )}
              {!refusal && !saved && !dirty && <p className="muted">No unsaved changes.</p>}
            </div>
            <div className="savebar-actions">
              <button type="button" className="secondary" onClick={revert} disabled={!dirty || saving}>
                Revert
              </button>
              <button type="submit" disabled={!dirty || invalid || saving}>
                {saving ? "Saving…" : "Save"}
              </button>
            </div>
          </div>
        </form>
      )}
    </div>
  );
}
