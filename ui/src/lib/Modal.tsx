// A modal dialog on the native <dialog>: the page behind is inert, Escape closes, Tab wraps
// around inside, and focus goes back where it was when the dialog goes away (or to the
// element marked `data-focus-fallback` when that is gone).
import { useEffect, useRef, type KeyboardEvent, type ReactNode } from "react";

interface Props {
  /** The id of the element naming the dialog (its heading). */
  labelledBy: string;
  describedBy?: string;
  className: string;
  role?: "dialog" | "alertdialog";
  onClose: () => void;
  children: ReactNode;
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function focusables(dialog: HTMLDialogElement): HTMLElement[] {
  return Array.from(dialog.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (element) => element.getClientRects().length > 0 && element.closest("dialog") === dialog,
  );
}

export function Modal({ labelledBy, describedBy, className, role = "dialog", onClose, children }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  // Set while unmounting: the close that follows is ours, not the user's.
  const leaving = useRef(false);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector<HTMLElement>("[data-autofocus]") ?? focusables(dialog)[0];
    first?.focus();
    leaving.current = false;
    return () => {
      leaving.current = true;
      if (dialog.open) dialog.close();
      // The opener may be gone (a deleted route's row): then the page names a fallback.
      if (opener?.isConnected) opener.focus();
      else document.querySelector<HTMLElement>("[data-focus-fallback]")?.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent<HTMLDialogElement>) => {
    if (event.key !== "Tab" || !(event.target instanceof Element)) return;
    const dialog = event.currentTarget;
    // A dialog opened on top of this one handles its own keys.
    if (event.target.closest("dialog") !== dialog) return;
    const items = focusables(dialog);
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <dialog
      ref={ref}
      className={className}
      role={role === "alertdialog" ? "alertdialog" : undefined}
      aria-modal="true"
      aria-labelledby={labelledBy}
      aria-describedby={describedBy}
      onCancel={(event) => {
        // Escape: unmount now rather than when the `close` event's task runs, so a click
        // that comes in between (reopening it) finds it gone.
        event.preventDefault();
        onClose();
      }}
      onClose={(event) => {
        // Anything else closing the dialog natively tells the owner to unmount it. A close
        // that is ours (unmounting), or stale (the dialog is open again, as after StrictMode's
        // second effect run), is not the user's.
        if (!leaving.current && !event.currentTarget.open) onClose();
      }}
      onKeyDown={onKeyDown}
    >
      {children}
    </dialog>
  );
}
