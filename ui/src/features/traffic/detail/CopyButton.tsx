// A button that copies text and says so; when the browser refuses, the text is shown selected
// for copying by hand.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { copyText } from "../../../lib/clipboard";

interface Props {
  /** What to copy, computed on click (building it may be costly). */
  text: () => string;
  /** The button's accessible name. */
  label: string;
  /** What the confirmation says. */
  copiedMessage?: string;
  className?: string;
  children: ReactNode;
}

export function CopyButton({ text, label, copiedMessage = "Copied", className = "xd-btn-secondary", children }: Props) {
  const [state, setState] = useState<"idle" | "copied" | { manual: string }>("idle");
  const manualRef = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (state !== "copied") return;
    const timer = setTimeout(() => {
      setState("idle");
    }, 2500);
    return () => {
      clearTimeout(timer);
    };
  }, [state]);

  useEffect(() => {
    if (typeof state === "object") manualRef.current?.select();
  }, [state]);

  const copy = async () => {
    const value = text();
    setState((await copyText(value)) ? "copied" : { manual: value });
  };

  return (
    <span className="xd-copy">
      <button type="button" className={className} aria-label={label} onClick={() => void copy()}>
        {children}
      </button>
      <span role="status" className="xd-copied">
        {state === "copied" ? `✓ ${copiedMessage}` : ""}
      </span>
      {typeof state === "object" && (
        <span className="xd-manual">
          <label>
            <span className="hint">The browser refused clipboard access: press Ctrl+C (⌘C) to copy.</span>
            <textarea ref={manualRef} readOnly value={state.manual} rows={Math.min(8, state.manual.split("\n").length)} />
          </label>
          <button
            type="button"
            className="xd-btn-secondary"
            onClick={() => {
              setState("idle");
            }}
          >
            Done
          </button>
        </span>
      )}
    </span>
  );
}
