// Small presentational pieces: a coloured state badge, and an engine message with its
// `backquoted` parts shown as code.
import { splitCode, type Tone } from "./ca";

export function Badge({ label, tone }: { label: string; tone: Tone }) {
  return (
    <span className={`badge badge-${tone}`} data-tone={tone}>
      <span className="badge-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

export function Message({ text }: { text: string }) {
  return (
    <>
      {splitCode(text).map((part, i) => (part.code ? <code key={i}>{part.text}</code> : <span key={i}>{part.text}</span>))}
    </>
  );
}
