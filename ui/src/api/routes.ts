// The route editor's calls: create, change and remove a route, and the settings that give a
// new route its defaults. Built on the typed client in client.ts.
import { ApiError, client, patchRoute, problemDetail, unwrap, type Route, type RoutePatch } from "./client";
import type { components } from "./schema";

export type NewRoute = components["schemas"]["NewRoute"];
export type HeaderRules = components["schemas"]["HeaderRules"];
export type HeaderPair = components["schemas"]["HeaderPair"];
export type AuthUserInput = components["schemas"]["AuthUserInput"];
export type Settings = components["schemas"]["Settings"];

/** Add a route; the stored route (normalised, with the engine's defaults) comes back. */
export async function createRoute(route: NewRoute): Promise<Route> {
  return unwrap(await client.POST("/api/v1/routes", { body: route }));
}

/** Change only the fields in `patch`; the stored route comes back. */
export async function updateRoute(id: number, patch: RoutePatch): Promise<Route> {
  return patchRoute(id, patch);
}

/** Remove a route (answered with 204 and no body). */
export async function deleteRoute(id: number): Promise<void> {
  const { error, response } = await client.DELETE("/api/v1/routes/{id}", { params: { path: { id } } });
  if (!response.ok) {
    const problem: unknown = error;
    const field =
      typeof problem === "object" && problem !== null && "field" in problem ? String(problem.field) : undefined;
    throw new ApiError(response.status, problemDetail(error, response.status), field);
  }
}

/** The engine's settings (`default_cache` and `default_compress` shape a new route). */
export async function getSettings(signal: AbortSignal | null = null): Promise<Settings> {
  return unwrap(await client.GET("/api/v1/settings", { signal }));
}
