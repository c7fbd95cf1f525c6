// One captured exchange: read it in full (bodies decoded), and replay it as captured or edited.
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type RequestDetail = components["schemas"]["RequestDetail"];
export type Exchange = components["schemas"]["Exchange"];
export type DecodedBody = components["schemas"]["DecodedBody"];
export type ReplayEdits = components["schemas"]["ReplayEdits"];
export type Replayed = components["schemas"]["Replayed"];
export type WebSocketStats = components["schemas"]["WebSocketStats"];

/** The exchange `id` with its bodies decoded; a 404 `ApiError` once it was cleared or trimmed. */
export async function getExchange(id: number, signal: AbortSignal | null = null): Promise<RequestDetail> {
  return unwrap(await client.GET("/api/v1/requests/{id}", { params: { path: { id } }, signal }));
}

/**
 * Send exchange `id` through the proxy again. Without `edits` it goes as captured; with them,
 * the given fields replace the captured ones. A refused edit is an `ApiError` naming its field.
 */
export async function replayExchange(id: number, edits: ReplayEdits = {}): Promise<Replayed> {
  return unwrap(await client.POST("/api/v1/requests/{id}/replay", { params: { path: { id } }, body: edits }));
}
