// Installing the CA on a phone: a QR code of the proxy's `/ca.crt` (served without a login)
// on this machine's network address, and the steps for iOS and Android.
import { toString as qrSvg } from "qrcode";
import { useEffect, useState } from "react";
import { phoneDownload } from "./ca";
import { CommandBlock, CopyButton } from "./CopyButton";

function QrCode({ url }: { url: string }) {
  const [svg, setSvg] = useState<{ url: string; src: string } | null>(null);
  useEffect(() => {
    let live = true;
    qrSvg(url, { type: "svg", margin: 2, errorCorrectionLevel: "M", color: { dark: "#000000", light: "#ffffff" } })
      .then((text) => {
        if (live) setSvg({ url, src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}` });
      })
      .catch(() => {
        if (live) setSvg(null);
      });
    return () => {
      live = false;
    };
  }, [url]);
  if (svg?.url !== url) return <div className="qr qr-pending" aria-hidden="true" />;
  return <img className="qr" src={svg.src} width={192} height={192} alt={`QR code of ${url}`} data-url={url} />;
}

/** Why there is no QR code: no network address, or an engine that does not report them. */
function NoAddress({ known, port }: { known: boolean; port: string }) {
  return known ? (
    <p className="muted">This machine has no network address right now: connect it to the phone&apos;s Wi-Fi.</p>
  ) : (
    <p className="muted">
      This Portico does not report the machine&apos;s network addresses. On the phone, open{" "}
      <code>http://ADDRESS:{port}/ca.crt</code> with this machine&apos;s address on your Wi-Fi (<code>ip addr</code> or{" "}
      <code>ipconfig</code> shows it).
    </p>
  );
}

interface Props {
  httpListeners: readonly string[];
  /** This machine's non-loopback addresses, when the engine reports them. */
  networkAddresses: readonly string[] | undefined;
}

export function PhonePanel({ httpListeners, networkAddresses }: Props) {
  const download = phoneDownload(httpListeners, networkAddresses);
  const url = download.kind === "reachable" || download.kind === "loopback" ? download.url : null;

  return (
    <section className="panel" aria-labelledby="phone-title">
      <h2 id="phone-title">On a phone or tablet</h2>
      <div className="phone">
        <div className="phone-code">
          {url !== null ? <QrCode url={url} /> : <div className="qr qr-none">No address to show</div>}
        </div>
        <div className="phone-text">
          {download.kind === "reachable" && (
            <p>
              Scan the code with the phone&apos;s camera (on the same Wi-Fi as this machine), or open this address in its
              browser:
            </p>
          )}
          {download.kind === "loopback" && (
            <div className="notice" role="note">
              <p>
                <strong>A phone cannot reach this yet:</strong> Portico&apos;s HTTP listener only accepts connections from
                this machine ({httpListeners.join(", ")}). Start it on every interface, then scan the code:
              </p>
              <CommandBlock command={`portico serve --http ${download.listenAll}`} label="Copy the serve command" />
              <p className="muted">
                or set <strong>HTTP listen address</strong> to <code>{download.listenAll}</code> in{" "}
                <a href="#/settings">Settings</a> (applies at the next start). Anyone on your network can then reach your
                routes.
              </p>
              {download.url === null && <NoAddress known={networkAddresses !== undefined} port={download.listenAll.split(":")[1] ?? ""} />}
            </div>
          )}
          {download.kind === "offline" && (
            <div className="notice" role="note">
              <p>The HTTP listener accepts connections from the network (port {download.port}).</p>
              <NoAddress known={networkAddresses !== undefined} port={String(download.port)} />
            </div>
          )}
          {download.kind === "none" && (
            <p className="notice" role="note">
              Portico has no HTTP listener, which is where phones download the CA from.
            </p>
          )}
          {url !== null && (
            <p className="fingerprint-row">
              <a href={url} className="path" data-testid="phone-url">
                {url}
              </a>
              <CopyButton text={url} label="Copy the download address" />
            </p>
          )}
          <div className="platforms">
            <div>
              <h3>iPhone and iPad</h3>
              <ol>
                <li>Open the address in Safari and allow the download.</li>
                <li>
                  Settings → <strong>Profile Downloaded</strong> → Install.
                </li>
                <li>
                  Settings → General → About → <strong>Certificate Trust Settings</strong>: turn on full trust for the
                  Portico CA.
                </li>
              </ol>
            </div>
            <div>
              <h3>Android</h3>
              <ol>
                <li>Open the address in the browser to download the certificate.</li>
                <li>
                  Settings → Security → Encryption &amp; credentials → <strong>Install a certificate</strong> →{" "}
                  <strong>CA certificate</strong>, and pick the downloaded file.
                </li>
                <li>Apps trust it only if they opt in to user CAs; Chrome does.</li>
              </ol>
            </div>
          </div>
        </div>
      </div>
    </section>
  );
}
