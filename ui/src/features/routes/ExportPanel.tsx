// Export the routes: Portico's JSON document (for `portico import` on another machine) or
// another proxy's configuration, downloaded as a file or copied.
import { useState } from "react";
import { exportText } from "../../api/transfer";
import { copyText } from "../../lib/clipboard";
import { saveText } from "../../lib/download";
import { EXPORT_CHOICES, PORTICO_CHOICE, choiceFor, exportCommand, valueOf } from "./exportFormats";

export function ExportPanel() {
  const [value, setValue] = useState(valueOf(PORTICO_CHOICE));
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const choice = choiceFor(value);

  const act = async (what: "download" | "copy") => {
    setBusy(true);
    setMessage(null);
    try {
      const text = await exportText(choice.format);
      if (what === "download") {
        saveText(choice.fileName, text, choice.type);
        setMessage({ text: `Saved ${choice.fileName}.`, error: false });
      } else if (await copyText(text)) {
        setMessage({ text: `Copied the ${choice.label} export.`, error: false });
      } else {
        setMessage({ text: "The browser refused to copy; use Download instead.", error: true });
      }
    } catch (err: unknown) {
      setMessage({ text: `Cannot export: ${err instanceof Error ? err.message : String(err)}`, error: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="export-title" className="panel re-export">
      <h2 id="export-title">Export</h2>
      <p className="muted">
        Every route as another proxy&apos;s configuration, or Portico&apos;s own document to import elsewhere. From a
        terminal: <code>{exportCommand(choice)}</code>.
      </p>
      <div className="re-export-row">
        <label>
          Format{" "}
          <select
            value={value}
            onChange={(event) => {
              setValue(event.currentTarget.value);
              setMessage(null);
            }}
          >
            {EXPORT_CHOICES.map((c) => (
              <option key={valueOf(c)} value={valueOf(c)}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={busy} onClick={() => void act("download")}>
          Download
        </button>
        <button type="button" className="re-secondary" disabled={busy} onClick={() => void act("copy")}>
          Copy
        </button>
      </div>
      {message !== null && (
        <p role={message.error ? "alert" : "status"} className={message.error ? "error" : "muted"}>
          {message.text}
        </p>
      )}
    </section>
  );
}
