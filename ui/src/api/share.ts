// Sharing a route on the local network: its LAN URL, the CA page link, expiry and QR codes.
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type ShareInfo = components["schemas"]["ShareInfo"];

/** A route's sharing as it is now. */
export async function getShare(id: number, signal: AbortSignal | null = null): Promise<ShareInfo> {
  return unwrap(await client.GET("/api/v1/routes/{id}/share", { params: { path: { id } }, signal }));
}

/** Share a route, for `forSecs` seconds or until stopped (`null`). */
export async function startShare(id: number, forSecs: number | null): Promise<ShareInfo> {
  return unwrap(
    await client.POST("/api/v1/routes/{id}/share", {
      params: { path: { id } },
      body: forSecs === null ? {} : { for_secs: forSecs },
    }),
  );
}

/** Stop sharing a route. */
export async function stopShare(id: number): Promise<ShareInfo> {
  return unwrap(await client.DELETE("/api/v1/routes/{id}/share", { params: { path: { id } } }));
}
