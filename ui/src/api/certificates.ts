// The CA and its trust stores (`/api/v1/ca…`): read, trust, untrust, rotate.
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type CaReport = components["schemas"]["CaReport"];
export type StoreStatus = components["schemas"]["StoreStatus"];
export type StoreChange = components["schemas"]["StoreChange"];
export type RotationReport = components["schemas"]["RotationReport"];
export type TrustStore = components["schemas"]["TrustStore"];
export type TrustState = components["schemas"]["TrustState"];

/** The root certificate as PEM, for the browser to download (same-origin, with the session). */
export const CA_PEM_URL = "/api/v1/ca.pem";

/** The CA and, per trust store on this machine, whether it trusts the CA. */
export async function getCa(signal: AbortSignal | null = null): Promise<CaReport> {
  return unwrap(await client.GET("/api/v1/ca", { signal }));
}

/** Install the CA in every store Portico manages; what happened to each comes back. */
export async function trustCa(): Promise<StoreChange[]> {
  return unwrap(await client.POST("/api/v1/ca/trust"));
}

/** Remove from every store exactly what `trustCa` added. */
export async function untrustCa(): Promise<StoreChange[]> {
  return unwrap(await client.POST("/api/v1/ca/untrust"));
}

/** Replace the CA with a new one, moving trust from the old root to the new one. */
export async function rotateCa(): Promise<RotationReport> {
  return unwrap(await client.POST("/api/v1/ca/rotate"));
}
