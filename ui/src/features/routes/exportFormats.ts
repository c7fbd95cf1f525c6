// The formats the Routes page exports to: what the menu says, the file name a download gets,
// and its type.
import type { ExportFormat } from "../../api/transfer";

export interface ExportChoice {
  /** The API's `format`, or `null` for Portico's own JSON document. */
  format: ExportFormat | null;
  label: string;
  fileName: string;
  type: string;
}

/** Portico's own document: the menu's first entry and what an unknown value means. */
export const PORTICO_CHOICE: ExportChoice = {
  format: null,
  label: "Portico (JSON, for portico import)",
  fileName: "portico-export.json",
  type: "application/json",
};

export const EXPORT_CHOICES: ExportChoice[] = [
  PORTICO_CHOICE,
  // Not text/plain: browsers give a text file without an extension a `.txt` one.
  { format: "caddyfile", label: "Caddyfile", fileName: "Caddyfile", type: "application/octet-stream" },
  { format: "nginx", label: "nginx", fileName: "portico.nginx.conf", type: "text/plain" },
  { format: "traefik", label: "Traefik (file provider, YAML)", fileName: "portico-traefik.yml", type: "application/yaml" },
  { format: "k8s-ingress", label: "Kubernetes Ingress (YAML)", fileName: "portico-ingress.yaml", type: "application/yaml" },
];

/** The choice for a `<select>` value (`"portico"` is the JSON document). */
export function choiceFor(value: string): ExportChoice {
  return EXPORT_CHOICES.find((c) => (c.format ?? "portico") === value) ?? PORTICO_CHOICE;
}

/** The `<select>` value of a choice. */
export function valueOf(choice: ExportChoice): string {
  return choice.format ?? "portico";
}

/** The command that does the same from a terminal. */
export function exportCommand(choice: ExportChoice): string {
  return choice.format === null
    ? `portico export > ${choice.fileName}`
    : `portico export --format ${choice.format} > ${choice.fileName}`;
}
