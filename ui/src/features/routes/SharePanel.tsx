// A shared route's links for the phone: the address and the CA page, each with its QR code
// (drawn by the engine) and a copy button, the time left, and a way to stop sharing.
import { useEffect, useId, useState } from "react";
import type { Route } from "../../api/client";
import { getShare, stopShare, type ShareInfo } from "../../api/share";
import { Modal } from "../../lib/Modal";
import { CopyButton } from "../certificates/CopyButton";
import { svgSource, timeLeft } from "./share";

interface Props {
  route: Route;
  onStopped: () => void;
  onClose: () => void;
}

/** How often the panel asks the engine again (a listener that was starting is up by then). */
const REFRESH_MS = 3_000;

export function SharePanel({ route, onStopped, onClose }: Props) {
  const titleId = useId();
  const [info, setInfo] = useState<ShareInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const [stopping, setStopping] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        setInfo(await getShare(route.id, controller.signal));
        setError(null);
      } catch (caught) {
        if (controller.signal.aborted) return;
        setError(caught instanceof Error ? caught.message : String(caught));
      }
      if (!controller.signal.aborted) timer = setTimeout(() => void load(), REFRESH_MS);
    };
    void load();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [route.id, route.shared, route.share_expires_at]);

  useEffect(() => {
    const tick = setInterval(() => {
      setNow(Date.now());
    }, 1_000);
    return () => {
      clearInterval(tick);
    };
  }, []);

  const stop = async () => {
    setStopping(true);
    try {
      await stopShare(route.id);
      onStopped();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
      setStopping(false);
    }
  };

  const name = route.path === "/" ? route.host : `${route.host}${route.path}`;
  return (
    <Modal labelledBy={titleId} className="re-confirm share-panel" onClose={onClose}>
      <h2 id={titleId}>{name} on your network</h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {info === null && !error && <p className="muted">Loading…</p>}
      {info && !info.shared && <p>This route is not shared.</p>}
      {info?.shared && info.url === null && (
        <p role="alert" className="error">
          Shared, but not reachable yet: {info.problem ?? "its listener is starting"}
        </p>
      )}
      {info?.shared && info.url !== null && (
        <>
          {info.expires_at !== null && (
            <p className="share-expiry" role="timer" aria-live="off">
              Stops sharing in <strong>{timeLeft(info.expires_at, now)}</strong>
            </p>
          )}
          <div className="share-links">
            <ShareLink
              title="1. Install Portico's certificate (once per device)"
              url={info.ca_url}
              svg={info.ca_qr_svg}
              copyLabel="Copy the certificate page link"
            />
            <ShareLink title="2. Open the route" url={info.url} svg={info.qr_svg} copyLabel="Copy the shared address" />
          </div>
          <p className="muted share-who">Only devices from {info.allow_ips.join(", ")} may connect.</p>
        </>
      )}
      <footer className="re-footer">
        {info?.shared && (
          <button type="button" className="re-danger" disabled={stopping} onClick={() => void stop()}>
            {stopping ? "Stopping…" : "Stop sharing"}
          </button>
        )}
        <span className="re-spacer" />
        <button type="button" className="re-secondary" onClick={onClose} data-autofocus>
          Close
        </button>
      </footer>
    </Modal>
  );
}

interface LinkProps {
  title: string;
  url: string | null;
  svg: string | null;
  copyLabel: string;
}

function ShareLink({ title, url, svg, copyLabel }: LinkProps) {
  if (url === null) return null;
  return (
    <figure className="share-link">
      <figcaption>{title}</figcaption>
      {svg !== null && <img className="qr" src={svgSource(svg)} width={176} height={176} alt={`QR code of ${url}`} data-url={url} />}
      <div className="share-url">
        <a href={url} target="_blank" rel="noreferrer">
          <code>{url}</code>
        </a>
        <CopyButton text={url} label={copyLabel} />
      </div>
    </figure>
  );
}
