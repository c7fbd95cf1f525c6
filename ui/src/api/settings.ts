// The engine's settings (`/api/v1/settings`): read them, change some of them.
import { client, unwrap } from "./client";
import type { components } from "./schema";

export type Settings = components["schemas"]["Settings"];
export type SettingsPatch = components["schemas"]["SettingsPatch"];

/** The stored settings, every field present. */
export async function getSettings(signal: AbortSignal | null = null): Promise<Settings> {
  return unwrap(await client.GET("/api/v1/settings", { signal }));
}

/**
 * Change the fields present in `patch` (a `null` address goes back to the default); the
 * settings after the change come back. A refused value throws an `ApiError` naming its field.
 */
export async function patchSettings(patch: SettingsPatch): Promise<Settings> {
  return unwrap(await client.PATCH("/api/v1/settings", { body: patch }));
}
