// PLACEHOLDER (replaced by the Settings page's implementation before this lands).
export function SettingsPage() {
  return (
    <section className="panel">
      <h1>Settings</h1>
    </section>
  );
}
