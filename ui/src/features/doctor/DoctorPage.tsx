// The Doctor page: runs the engine's checks (every route, or one host from a route's "Check"
// link) and lists what is wrong with its fix, problems first, with a button for the fixes
// Portico can apply itself (send the upstream's own Host, trust the CA).
import { useEffect, useState } from "react";
import { trustCa } from "../../api/certificates";
import { patchRoute } from "../../api/client";
import { runDoctor, type DoctorAction, type DoctorReport, type Finding } from "../../api/doctor";
import { CopyButton } from "../certificates/CopyButton";
import { actionHint, actionLabel, findingKey, partition, summary } from "./doctor";
import "./doctor.css";

const STATUS_LABEL = { error: "Error", warn: "Warning", ok: "OK" } as const;

/** The page for `host` (or every route); the shell gives each host its own instance. */
export function DoctorPage({ host }: { host: string | null }) {
  // `run` counts the runs asked for; an answer remembers which run it belongs to, so a run
  // under way shows the previous report with "Checking…".
  const [run, setRun] = useState(0);
  const [result, setResult] = useState<{ run: number; report?: DoctorReport; error?: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    runDoctor(host, controller.signal)
      .then((report) => {
        setResult({ run, report });
      })
      .catch((err: unknown) => {
        if (!controller.signal.aborted) setResult({ run, error: err instanceof Error ? err.message : String(err) });
      });
    return () => {
      controller.abort();
    };
  }, [host, run]);

  const running = result?.run !== run;
  const report = result?.report;
  const error = result !== null && result.run === run ? (result.error ?? null) : null;
  const again = () => {
    setRun((n) => n + 1);
  };

  const apply = async (action: DoctorAction) => {
    setNotice(null);
    if (action.kind === "enable_upstream_host") {
      const route = await patchRoute(action.route_id, { upstream_host: true });
      setNotice(`${route.host} now sends its upstream's own address as Host. Checked again below.`);
    } else {
      const changes = await trustCa();
      const failed = changes.filter((c) => c.result === "failed");
      setNotice(
        failed.length === 0
          ? "The CA is trusted. Restart browsers that were open so they reload their trust stores."
          : `Some stores could not be changed: ${failed.map((c) => `${c.store.kind}: ${c.detail ?? "failed"}`).join("; ")}`,
      );
    }
    again();
  };

  const { problems, working } = report ? partition(report.findings) : { problems: [], working: [] };

  return (
    <div className="doctor">
      <header className="page-head">
        <h1>Doctor</h1>
        <p className="muted">
          Checks why a route does not work: whether its name reaches this machine, whether browsers trust Portico&apos;s CA,
          whether the listeners have their ports, and whether the upstream answers and accepts the route&apos;s host. The
          same checks run from a terminal: <code>portico doctor{host !== null ? ` ${host}` : ""}</code>.
        </p>
        <p className="doctor-scope">
          {host !== null ? (
            <span>
              Checking <strong>{host}</strong>. <a href="#/doctor">Check every route</a>
            </span>
          ) : (
            <span>Checking every enabled route.</span>
          )}
          <button type="button" className="secondary" onClick={again} disabled={running}>
            {running ? "Checking…" : "Run again"}
          </button>
        </p>
      </header>

      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {error !== null && (
        <p role="alert" className="error">
          Cannot run the checks: {error}
        </p>
      )}
      {report === undefined && error === null && <p className="muted">Checking… (upstreams are asked for real)</p>}

      {report && (
        <>
          <p className={`doctor-summary ${report.errors > 0 ? "bad" : report.warnings > 0 ? "warn" : "good"}`} data-testid="doctor-summary">
            {summary(report)}
          </p>
          {problems.length > 0 && (
            <section aria-labelledby="doctor-problems" className="panel">
              <h2 id="doctor-problems">Problems</h2>
              <ul className="findings">
                {problems.map((finding, i) => (
                  <FindingItem key={findingKey(finding, i)} finding={finding} onApply={apply} />
                ))}
              </ul>
            </section>
          )}
          {working.length > 0 && (
            <section aria-labelledby="doctor-working" className="panel">
              <details open={problems.length === 0}>
                <summary>
                  <h2 id="doctor-working">Working ({working.length})</h2>
                </summary>
                <ul className="findings">
                  {working.map((finding, i) => (
                    <FindingItem key={findingKey(finding, i)} finding={finding} onApply={apply} />
                  ))}
                </ul>
              </details>
            </section>
          )}
        </>
      )}
    </div>
  );
}

function FindingItem({ finding, onApply }: { finding: Finding; onApply: (action: DoctorAction) => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const action = finding.action;
  return (
    <li className={`finding finding-${finding.status}`} data-check={finding.check} data-status={finding.status}>
      <p className="finding-head">
        <span className={`finding-status status-${finding.status}`}>{STATUS_LABEL[finding.status]}</span>{" "}
        <strong className="finding-subject">{finding.subject}</strong> <code className="finding-check">{finding.check}</code>
      </p>
      <p className="finding-message">{finding.message}</p>
      {finding.fix !== null && (
        <div className="finding-fix">
          <span className="muted">Fix:</span>
          <pre>
            <code>{finding.fix}</code>
          </pre>
          <CopyButton text={finding.fix} label={`Copy the fix for ${finding.subject}`} />
        </div>
      )}
      {action !== null && (
        <p className="finding-action">
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              setFailure(null);
              onApply(action)
                .catch((err: unknown) => {
                  setFailure(err instanceof Error ? err.message : String(err));
                })
                .finally(() => {
                  setBusy(false);
                });
            }}
          >
            {actionLabel(action)}
          </button>{" "}
          <span className="muted">{actionHint(action)}</span>
        </p>
      )}
      {failure !== null && (
        <p role="alert" className="error">
          {failure}
        </p>
      )}
    </li>
  );
}
