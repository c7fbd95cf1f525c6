// One body, shown by what it is: JSON as a tree (or raw), markup and code formatted (or raw),
// images drawn, other bytes as a hex dump, text as text. What was not captured or could not
// be decoded is said above it; long text is drawn in part until asked for all of it.
import { useEffect, useMemo, useState } from "react";
import type { DecodedBody } from "../../../api/exchange";
import {
  classifyBody,
  clip,
  completeness,
  RENDER_CHARS,
  VIEW_LABEL,
  viewsFor,
  type BodyKind,
  type BodyViewName,
  type SourceLanguage,
} from "./body";
import { formatBytes } from "../../../lib/format";
import { base64Length, base64ToBytes, hexDump } from "./bytes";
import { CopyButton } from "./CopyButton";
import { FORMAT_MAX, formatSource } from "./format";
import { ParamsTable } from "./HeadersTable";
import { JsonTree } from "./JsonTree";

interface Props {
  body: DecodedBody;
  /** `Request` or `Response`, for labels. */
  side: string;
}

export function BodyView({ body, side }: Props) {
  const kind = useMemo(() => classifyBody(body), [body]);
  const views = viewsFor(kind);
  const [chosen, setChosen] = useState<BodyViewName | null>(null);
  const view = chosen !== null && views.includes(chosen) ? chosen : views[0];
  const note = completeness(body);

  if (kind.kind === "none") {
    return (
      <>
        {note && <p className={note.level === "warning" ? "error" : "xd-note"}>{note.text}</p>}
        <p className="muted">
          {body.size > 0 ? `The body (${formatBytes(body.size)}) was not captured.` : `No ${side.toLowerCase()} body.`}
        </p>
      </>
    );
  }

  return (
    <div className="xd-body">
      <div className="xd-toolbar">
        <span className="muted xd-body-meta">{describe(body)}</span>
        {views.length > 1 && view !== undefined && (
          <span role="group" aria-label={`${side} body view`} className="xd-segmented">
            {views.map((name) => (
              <button
                key={name}
                type="button"
                aria-pressed={name === view}
                onClick={() => {
                  setChosen(name);
                }}
              >
                {VIEW_LABEL[name]}
              </button>
            ))}
          </span>
        )}
        {body.text !== null && body.text !== undefined && (
          <CopyButton text={() => body.text ?? ""} label={`Copy ${side.toLowerCase()} body`}>
            Copy
          </CopyButton>
        )}
      </div>
      {note && <p className={note.level === "warning" ? "error" : "xd-note"}>{note.text}</p>}
      {kind.kind === "text" && kind.note !== null && <p className="xd-note">{kind.note}</p>}
      {view !== undefined && <BodyContent kind={kind} view={view} side={side} />}
    </div>
  );
}

/** `application/json · 1.2 KiB · utf-8 · gzip`. */
function describe(body: DecodedBody): string {
  const parts = [body.mime ?? "no content type", formatBytes(body.size)];
  if (body.charset !== null && body.charset !== undefined && body.charset !== "utf-8") parts.push(body.charset);
  if (body.content_encoding !== null && body.content_encoding !== undefined && body.content_encoding !== "") {
    parts.push(body.decoded ? `${body.content_encoding}, decoded` : `${body.content_encoding}, not decoded`);
  }
  return parts.join(" · ");
}

function BodyContent({ kind, view, side }: { kind: BodyKind; view: BodyViewName; side: string }) {
  switch (kind.kind) {
    case "none":
      return null;
    case "json":
      return view === "tree" ? <JsonTree value={kind.value} /> : <ClippedText text={prettyJson(kind.text, kind.value)} />;
    case "source":
      return view === "formatted" ? (
        <FormattedSource text={kind.text} language={kind.language} />
      ) : (
        <ClippedText text={kind.text} />
      );
    case "image":
      if (view === "image") return <ImageView src={kind.src} mime={kind.mime} side={side} />;
      if (kind.text !== null) return <ClippedText text={kind.text} />;
      return <HexView base64={kind.src.slice(kind.src.indexOf(",") + 1)} />;
    case "binary":
      return <HexView base64={kind.base64} />;
    case "form":
      return view === "fields" ? <ParamsTable params={kind.fields} caption={`${side} form fields`} /> : <ClippedText text={kind.text} />;
    case "text":
      return <ClippedText text={kind.text} />;
  }
}

/** JSON indented by two spaces; the text as sent when it is already laid out over lines. */
function prettyJson(text: string, value: unknown): string {
  if (text.includes("\n")) return text;
  return JSON.stringify(value, null, 2);
}

/** Text in a monospace block, the first `RENDER_CHARS` of it until "show all". */
function ClippedText({ text }: { text: string }) {
  const [all, setAll] = useState(false);
  const { shown, hidden } = all ? { shown: text, hidden: 0 } : clip(text, RENDER_CHARS);
  return (
    <>
      <pre className="xd-pre">{shown}</pre>
      {hidden > 0 && (
        <p className="xd-note">
          Showing the first {shown.length.toLocaleString("en")} of {text.length.toLocaleString("en")} characters.{" "}
          <button
            type="button"
            className="xd-btn-secondary xd-btn-small"
            onClick={() => {
              setAll(true);
            }}
          >
            Show all
          </button>
        </p>
      )}
    </>
  );
}

function FormattedSource({ text, language }: { text: string; language: SourceLanguage }) {
  const tooLarge = text.length > FORMAT_MAX;
  const [result, setResult] = useState<{ input: string; output: string | null } | null>(null);

  useEffect(() => {
    if (tooLarge) return;
    let cancelled = false;
    formatSource(text, language).then(
      (output) => {
        if (!cancelled) setResult({ input: text, output });
      },
      () => {
        if (!cancelled) setResult({ input: text, output: null });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [text, language, tooLarge]);

  if (tooLarge) {
    return (
      <>
        <p className="xd-note">Too large to format ({formatBytes(text.length)}): shown as sent.</p>
        <ClippedText text={text} />
      </>
    );
  }
  const current = result?.input === text ? result : null;
  if (current === null) return <p className="muted">Formatting…</p>;
  if (current.output === null) {
    return (
      <>
        <p className="xd-note">Could not format this {language.toUpperCase()}: shown as sent.</p>
        <ClippedText text={text} />
      </>
    );
  }
  return <ClippedText text={current.output} />;
}

function ImageView({ src, mime, side }: { src: string; mime: string; side: string }) {
  const [size, setSize] = useState<{ src: string; width: number; height: number } | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const known = size?.src === src ? size : null;
  // Tiny images (icons, tracking pixels) are scaled up so they can be seen at all.
  const scale = known && Math.max(known.width, known.height) > 0 && Math.max(known.width, known.height) < 48
    ? Math.ceil(48 / Math.max(known.width, known.height))
    : 1;
  if (failed === src) return <p className="error">The browser cannot draw this {mime} image.</p>;
  return (
    <figure className="xd-image">
      <img
        src={src}
        alt={`${side} body: ${mime} image`}
        style={known && scale > 1 ? { width: known.width * scale, height: known.height * scale } : undefined}
        className={scale > 1 ? "xd-pixelated" : undefined}
        onLoad={(event) => {
          setSize({ src, width: event.currentTarget.naturalWidth, height: event.currentTarget.naturalHeight });
        }}
        onError={() => {
          setFailed(src);
        }}
      />
      <figcaption className="muted">
        {mime}
        {known && ` · ${known.width} × ${known.height} px`}
        {scale > 1 && ` · shown at ${scale}×`}
      </figcaption>
    </figure>
  );
}

const HEX_PAGE = 1024;

function HexView({ base64 }: { base64: string }) {
  const total = base64Length(base64);
  const [limit, setLimit] = useState(HEX_PAGE);
  const lines = useMemo(() => hexDump(base64ToBytes(base64, limit)), [base64, limit]);
  return (
    <>
      <pre className="xd-pre xd-hex">{lines.join("\n")}</pre>
      {total > limit && (
        <p className="xd-note">
          First {formatBytes(limit)} of {formatBytes(total)}.{" "}
          <button
            type="button"
            className="xd-btn-secondary xd-btn-small"
            onClick={() => {
              setLimit((n) => n * 4);
            }}
          >
            Show more
          </button>
        </p>
      )}
    </>
  );
}
