// The page the address bar names, following back/forward and link clicks.
import { useCallback, useSyncExternalStore } from "react";
import { pageHash, parseHash, type Page } from "./router";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("hashchange", onChange);
  return () => {
    window.removeEventListener("hashchange", onChange);
  };
}

const currentHash = () => window.location.hash;

export function useHashPage(): [Page, (page: Page) => void] {
  const hash = useSyncExternalStore(subscribe, currentHash);
  const navigate = useCallback((page: Page) => {
    window.location.hash = pageHash(page);
  }, []);
  return [parseHash(hash), navigate];
}
