// Copying text to the clipboard, and a command shown as a copyable code block.
import { useEffect, useState } from "react";
import { copyText } from "../../lib/clipboard";

/** A button that copies `text`; it says "Copied" for a moment, or how to copy by hand. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");

  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => {
      setState("idle");
    }, 2_000);
    return () => {
      clearTimeout(timer);
    };
  }, [state]);

  const copy = async () => {
    setState((await copyText(text)) ? "copied" : "failed");
  };

  return (
    <button type="button" className="copy secondary" aria-label={label} onClick={() => void copy()}>
      <span aria-live="polite">{state === "copied" ? "Copied" : state === "failed" ? "Select to copy" : "Copy"}</span>
    </button>
  );
}

/** A shell command in a code block, with a copy button. */
export function CommandBlock({ command, label }: { command: string; label: string }) {
  return (
    <div className="command">
      <pre>
        <code>{command}</code>
      </pre>
      <CopyButton text={command} label={label} />
    </div>
  );
}
