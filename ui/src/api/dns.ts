// The DNS responder for wildcard suffixes (`/api/v1/dns`): its state and this platform's
// resolver setup commands.
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type DnsSetup = components["schemas"]["DnsSetup"];
export type DnsStatus = components["schemas"]["DnsStatus"];

/** The responder's state and the resolver plan for this machine. */
export async function getDns(signal: AbortSignal | null = null): Promise<DnsSetup> {
  return unwrap(await client.GET("/api/v1/dns", { signal }));
}
