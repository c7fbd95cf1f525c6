// The Doctor page's pure logic: which findings need attention, the summary line, and the words
// on an action's button.
import type { DoctorAction, DoctorReport, Finding } from "../../api/doctor";

const RANK = { error: 0, warn: 1, ok: 2 } as const;

/** Problems first (errors, then warnings, each in the engine's order), then what works. */
export function partition(findings: Finding[]): { problems: Finding[]; working: Finding[] } {
  const problems = findings
    .map((finding, index) => ({ finding, index }))
    .filter(({ finding }) => finding.status !== "ok")
    .sort((a, b) => RANK[a.finding.status] - RANK[b.finding.status] || a.index - b.index)
    .map(({ finding }) => finding);
  return { problems, working: findings.filter((f) => f.status === "ok") };
}

/** "2 errors, 1 warning", or that everything works. */
export function summary(report: Pick<DoctorReport, "errors" | "warnings">): string {
  const { errors, warnings } = report;
  if (errors === 0 && warnings === 0) return "Everything checked works.";
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `${plural(errors, "error")}, ${plural(warnings, "warning")}.`;
}

/** The button that applies `action`. */
export function actionLabel(action: DoctorAction): string {
  switch (action.kind) {
    case "enable_upstream_host":
      return "Send the upstream's own address as Host";
    case "trust_ca":
      return "Trust the CA";
  }
}

/** What the button does, in one sentence, for its description. */
export function actionHint(action: DoctorAction): string {
  switch (action.kind) {
    case "enable_upstream_host":
      return "Turns on the route's “upstream host” option: the dev server then sees its own address (such as localhost:5173), which it accepts.";
    case "trust_ca":
      return "Installs Portico's CA in the system store and the browsers' databases; the system store may ask for your password.";
  }
}

/** A stable key for a finding in a list. */
export function findingKey(finding: Finding, index: number): string {
  return `${finding.check}|${finding.subject}|${index}`;
}
