// PLACEHOLDER (replaced by the Certificates page's implementation before this lands).
export function CertificatesPage() {
  return (
    <section className="panel">
      <h1>Certificates</h1>
    </section>
  );
}
