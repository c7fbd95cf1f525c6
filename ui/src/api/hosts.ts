// Route names in the system hosts file (`/api/v1/hosts`): the state of Portico's block,
// syncing it now, and removing it (which also switches sync off).
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type HostsStatus = components["schemas"]["HostsStatus"];
export type HostsChange = components["schemas"]["HostsChange"];

/** The block against the routes. */
export async function getHosts(signal: AbortSignal | null = null): Promise<HostsStatus> {
  return unwrap(await client.GET("/api/v1/hosts", { signal }));
}

/** Write the block now; a 409 (`ApiError`) says why it cannot. */
export async function syncHosts(): Promise<HostsChange> {
  return unwrap(await client.POST("/api/v1/hosts/sync"));
}

/** Switch sync off and take the block out of the file. */
export async function removeHosts(): Promise<HostsChange> {
  return unwrap(await client.DELETE("/api/v1/hosts"));
}
