// The engine's status (version, listeners), polled once by the shell and read by any page.
import { createContext, useContext } from "react";
import type { Status } from "../api/client";

export const StatusContext = createContext<Status | undefined>(undefined);

/** The latest status, or `undefined` until the first load. */
export function useStatus(): Status | undefined {
  return useContext(StatusContext);
}
