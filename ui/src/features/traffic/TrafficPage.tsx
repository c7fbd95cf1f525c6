// PLACEHOLDER (replaced by the Traffic page's implementation before this lands).
import { ExchangeDetail } from "./detail/ExchangeDetail";

export function TrafficPage({ exchange }: { exchange: number | null }) {
  return (
    <section className="panel">
      <h1>Traffic</h1>
      {exchange !== null && (
        <ExchangeDetail
          id={exchange}
          onClose={() => {
            window.location.hash = "#/traffic";
          }}
        />
      )}
    </section>
  );
}
