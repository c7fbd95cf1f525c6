// JSON as a tree of disclosure buttons: small documents open completely, big ones show their
// top levels; long arrays and objects draw their children a page at a time.
import { memo, useCallback, useState } from "react";
import {
  CHILD_PAGE,
  childCount,
  childPath,
  children,
  countLabel,
  expandAll,
  initialExpansion,
  isContainer,
  preview,
  scalar,
  type JsonKey,
} from "./jsonTree";

export function JsonTree({ value }: { value: unknown }) {
  const [open, setOpen] = useState(() => initialExpansion(value));
  const toggle = useCallback((path: string) => {
    setOpen((current) => {
      const next = new Set(current);
      if (next.has(path)) next.delete(path);
      else next.add(path);
      return next;
    });
  }, []);

  return (
    <div className="jt">
      {isContainer(value) && (
        <div className="xd-toolbar">
          <button
            type="button"
            className="xd-btn-secondary xd-btn-small"
            onClick={() => {
              setOpen(expandAll(value));
            }}
          >
            Expand all
          </button>
          <button
            type="button"
            className="xd-btn-secondary xd-btn-small"
            onClick={() => {
              setOpen(new Set([""]));
            }}
          >
            Collapse all
          </button>
        </div>
      )}
      <ul className="jt-root">
        <JsonNode name={null} value={value} path="" open={open} onToggle={toggle} />
      </ul>
    </div>
  );
}

interface NodeProps {
  name: JsonKey | null;
  value: unknown;
  path: string;
  open: Set<string>;
  onToggle: (path: string) => void;
}

const JsonNode = memo(function JsonNode({ name, value, path, open, onToggle }: NodeProps) {
  const key = name === null ? null : (
    <span className={typeof name === "number" ? "jt-key jt-index" : "jt-key"}>{String(name)}</span>
  );
  if (!isContainer(value) || childCount(value) === 0) {
    const leaf = isContainer(value) ? { text: Array.isArray(value) ? "[]" : "{}", type: "null" as const } : scalar(value);
    return (
      <li className="jt-row jt-leaf">
        {key}
        {key && <span className="jt-colon">: </span>}
        <span className={`jt-${leaf.type}`}>{leaf.text}</span>
      </li>
    );
  }
  const expanded = open.has(path);
  return (
    <li className="jt-row">
      <button
        type="button"
        className="jt-toggle"
        aria-expanded={expanded}
        onClick={() => {
          onToggle(path);
        }}
      >
        <span className="jt-caret" aria-hidden="true" />
        {key ?? <span className="jt-key jt-index">{Array.isArray(value) ? "array" : "object"}</span>}
      </button>
      <span className="jt-colon">: </span>
      {!expanded && <span className="jt-preview">{preview(value)}</span>}
      <span className="jt-count"> {countLabel(value)}</span>
      {expanded && <JsonChildren value={value} path={path} open={open} onToggle={onToggle} />}
    </li>
  );
});

function JsonChildren({ value, path, open, onToggle }: Omit<NodeProps, "name">) {
  const [shown, setShown] = useState(CHILD_PAGE);
  const total = childCount(value);
  return (
    <ul className="jt-children">
      {children(value, shown).map(([key, child]) => (
        <JsonNode key={key} name={key} value={child} path={childPath(path, key)} open={open} onToggle={onToggle} />
      ))}
      {total > shown && (
        <li className="jt-row">
          <button
            type="button"
            className="xd-btn-secondary xd-btn-small"
            onClick={() => {
              setShown((n) => n + CHILD_PAGE);
            }}
          >
            Show {Math.min(CHILD_PAGE, total - shown)} more of {total - shown}
          </button>
        </li>
      )}
    </ul>
  );
}
