// Load something now and again every `intervalMs`, until the component goes away.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../api/client";

/** Why the last load failed; `status` is the HTTP status when the API answered. */
export interface LoadError {
  message: string;
  status: number | null;
}

export interface Poll<T> {
  data: T | undefined;
  error: LoadError | undefined;
  /** Load again now (after an event said the data changed). */
  reload: () => void;
  /** Change the data locally (with what a write returned); loads already under way are dropped. */
  mutate: (update: (data: T) => T) => void;
}

function toLoadError(error: unknown): LoadError {
  if (error instanceof ApiError) return { message: error.message, status: error.status };
  const message = error instanceof Error ? error.message : String(error);
  return { message: `Cannot reach Portico's admin API (${message}). Is \`portico serve\` running?`, status: null };
}

/** `load` must be stable (a module-level function). */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, intervalMs: number): Poll<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<LoadError | undefined>(undefined);
  const [tick, setTick] = useState(0);
  // Bumped by `mutate`: a load that started before a local write must not undo it.
  const version = useRef(0);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      const started = version.current;
      try {
        const loaded = await load(controller.signal);
        if (controller.signal.aborted) return;
        if (started === version.current) {
          setData(loaded);
          setError(undefined);
        }
      } catch (caught) {
        if (controller.signal.aborted) return;
        setError(toLoadError(caught));
      }
      timer = setTimeout(() => void run(), intervalMs);
    };
    void run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [load, intervalMs, tick]);

  const reload = useCallback(() => {
    setTick((t) => t + 1);
  }, []);
  const mutate = useCallback((update: (data: T) => T) => {
    version.current += 1;
    setData((current) => (current === undefined ? current : update(current)));
  }, []);
  return { data, error, reload, mutate };
}
