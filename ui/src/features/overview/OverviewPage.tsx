// PLACEHOLDER (replaced by the Overview page's implementation before this lands).
export function OverviewPage() {
  return (
    <section className="panel">
      <h1>Overview</h1>
    </section>
  );
}
