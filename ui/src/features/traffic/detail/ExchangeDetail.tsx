// PLACEHOLDER (replaced by the exchange detail pane's implementation before this lands).
export function ExchangeDetail({ id, onClose }: { id: number; onClose: () => void }) {
  return (
    <aside aria-label={`Exchange ${id}`}>
      <button type="button" onClick={onClose}>
        Close
      </button>
    </aside>
  );
}
