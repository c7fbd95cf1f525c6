// The doctor (`/api/v1/doctor`): checks that explain why a route does not work, with the fix.
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type DoctorReport = components["schemas"]["DoctorReport"];
export type Finding = components["schemas"]["DoctorFinding"];
export type DoctorStatus = components["schemas"]["DoctorStatus"];
export type DoctorAction = components["schemas"]["DoctorAction"];

/** Run every check, or only those for `host`. Upstreams are asked for real: it may take seconds. */
export async function runDoctor(host: string | null, signal: AbortSignal | null = null): Promise<DoctorReport> {
  const query = host === null ? {} : { host };
  return unwrap(await client.GET("/api/v1/doctor", { params: { query }, signal }));
}
