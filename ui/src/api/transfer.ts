// Export (`/api/v1/export`): Portico's JSON document, or the routes as another proxy's
// configuration (Caddyfile, nginx, Traefik, Kubernetes Ingress), as the text the API answers.
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type ExportFormat = components["schemas"]["Format"];

/** The export in `format` (`null`: Portico's JSON document, for `portico import`), as text. */
export async function exportText(format: ExportFormat | null): Promise<string> {
  const query = format === null ? {} : { format };
  return unwrap(await client.GET("/api/v1/export", { params: { query }, parseAs: "text" }));
}
