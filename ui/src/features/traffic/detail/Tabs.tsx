// Tabs per the WAI-ARIA pattern: one tab stop (the selected tab), arrows/Home/End move and
// select. Every panel stays mounted (hidden), so switching keeps each body's view and scroll.
import { useRef, type KeyboardEvent, type ReactNode } from "react";
import { tabKeyTarget } from "./tabs";

export interface TabItem<K extends string> {
  key: K;
  label: ReactNode;
  panel: ReactNode;
}

interface Props<K extends string> {
  /** Names the tab list for assistive technology. */
  label: string;
  idBase: string;
  items: TabItem<K>[];
  selected: K;
  onSelect: (key: K) => void;
}

export function Tabs<K extends string>({ label, idBase, items, selected, onSelect }: Props<K>) {
  const refs = useRef(new Map<K, HTMLButtonElement>());

  const onKeyDown = (event: KeyboardEvent<HTMLButtonElement>, index: number) => {
    const target = tabKeyTarget(event.key, index, items.length);
    const item = target === null ? undefined : items[target];
    if (item === undefined) return;
    event.preventDefault();
    onSelect(item.key);
    refs.current.get(item.key)?.focus();
  };

  return (
    <div className="xd-tabs">
      <div role="tablist" aria-label={label} className="xd-tablist">
        {items.map((item, index) => (
          <button
            key={item.key}
            ref={(node) => {
              if (node) refs.current.set(item.key, node);
              else refs.current.delete(item.key);
            }}
            type="button"
            role="tab"
            id={`${idBase}-tab-${item.key}`}
            aria-selected={item.key === selected}
            aria-controls={`${idBase}-panel-${item.key}`}
            tabIndex={item.key === selected ? 0 : -1}
            className="xd-tab"
            onClick={() => {
              onSelect(item.key);
            }}
            onKeyDown={(event) => {
              onKeyDown(event, index);
            }}
          >
            {item.label}
          </button>
        ))}
      </div>
      {items.map((item) => (
        <div
          key={item.key}
          role="tabpanel"
          id={`${idBase}-panel-${item.key}`}
          aria-labelledby={`${idBase}-tab-${item.key}`}
          hidden={item.key !== selected}
          className="xd-tabpanel"
        >
          {item.panel}
        </div>
      ))}
    </div>
  );
}
