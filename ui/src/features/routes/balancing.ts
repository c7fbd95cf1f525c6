// The route editor's balancing section as state, and how it becomes the API's `balancing`
// object. No network, no React.
import type { components } from "../../api/schema";

export type Balancing = components["schemas"]["Balancing"];
export type Policy = components["schemas"]["Policy"];

/** The engine's defaults (`Balancing::default`). */
export const DEFAULT_BALANCING: Balancing = {
  policy: "round_robin",
  max_fails: 1,
  fail_cooldown_ms: 10_000,
  health_check: null,
};

/** Every policy with the words the editor shows for it, in the engine's order. */
export const POLICIES: readonly { policy: Policy; label: string; hint: string }[] = [
  { policy: "round_robin", label: "Round robin", hint: "each upstream in turn" },
  { policy: "least_conn", label: "Least connections", hint: "the one with the fewest requests in flight" },
  { policy: "random_two", label: "Random of two", hint: "two at random, the less busy one" },
  { policy: "first", label: "Failover", hint: "the first one that is up, in the listed order" },
  { policy: "ip_hash", label: "Sticky by address", hint: "the same client address, the same upstream" },
  { policy: "cookie", label: "Sticky by cookie", hint: "a cookie pins each browser to one upstream" },
];

/** The section as typed. Numbers stay text; `""` is the engine's default. */
export interface BalancingForm {
  policy: Policy;
  maxFails: string;
  cooldownSecs: string;
  /** `""`: no active health check (a TCP connect every 2 s). */
  checkPath: string;
  checkEverySecs: string;
  checkStatus: string;
}

/** The form showing `balancing` (the defaults when none). */
export function balancingForm(balancing: Balancing = DEFAULT_BALANCING): BalancingForm {
  const check = balancing.health_check;
  return {
    policy: balancing.policy,
    maxFails: balancing.max_fails === DEFAULT_BALANCING.max_fails ? "" : String(balancing.max_fails),
    cooldownSecs:
      balancing.fail_cooldown_ms === DEFAULT_BALANCING.fail_cooldown_ms ? "" : String(balancing.fail_cooldown_ms / 1000),
    checkPath: check?.path ?? "",
    checkEverySecs: check?.interval_ms == null || check.interval_ms === 5000 ? "" : String(check.interval_ms / 1000),
    checkStatus: check?.expect_status == null ? "" : String(check.expect_status),
  };
}

export type BuiltBalancing = { ok: true; value: Balancing } | { ok: false; message: string };

function number(text: string, fallback: number, min: number, max: number, scale: number): number | null {
  const trimmed = text.trim();
  if (trimmed === "") return fallback;
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return null;
  const scaled = Math.round(value * scale);
  return scaled >= min && scaled <= max ? scaled : null;
}

/** The API's `balancing` for the form, or what is wrong with it. */
export function toBalancing(form: BalancingForm): BuiltBalancing {
  const maxFails = number(form.maxFails, 1, 1, 100, 1);
  if (maxFails === null || !Number.isInteger(Number(form.maxFails.trim() || "1"))) {
    return { ok: false, message: "failures before resting: a whole number from 1 to 100" };
  }
  const cooldown = number(form.cooldownSecs, 10_000, 100, 3_600_000, 1000);
  if (cooldown === null) return { ok: false, message: "rest: seconds from 0.1 to 3600" };
  const path = form.checkPath.trim();
  if (path === "") {
    return { ok: true, value: { policy: form.policy, max_fails: maxFails, fail_cooldown_ms: cooldown, health_check: null } };
  }
  if (!path.startsWith("/") || /\s/.test(path)) {
    return { ok: false, message: "health check: a path starting with /, e.g. /health" };
  }
  const every = number(form.checkEverySecs, 5000, 500, 3_600_000, 1000);
  if (every === null) return { ok: false, message: "health check interval: seconds from 0.5 to 3600" };
  const status = form.checkStatus.trim() === "" ? null : number(form.checkStatus, 200, 100, 599, 1);
  if (form.checkStatus.trim() !== "" && (status === null || !/^\d{3}$/.test(form.checkStatus.trim()))) {
    return { ok: false, message: "health check status: an HTTP status such as 200; empty for any 2xx or 3xx" };
  }
  return {
    ok: true,
    value: {
      policy: form.policy,
      max_fails: maxFails,
      fail_cooldown_ms: cooldown,
      health_check: { path, interval_ms: every, timeout_ms: 2000, expect_status: status },
    },
  };
}

/** Whether two balancing objects mean the same. */
export function sameBalancing(a: Balancing, b: Balancing): boolean {
  const ca = a.health_check;
  const cb = b.health_check;
  const sameCheck =
    ca == null || cb == null
      ? ca == null && cb == null
      : ca.path === cb.path && ca.interval_ms === cb.interval_ms && ca.expect_status === cb.expect_status;
  return a.policy === b.policy && a.max_fails === b.max_fails && a.fail_cooldown_ms === b.fail_cooldown_ms && sameCheck;
}

/** A short description for the routes list, e.g. "failover · checked /health". */
export function describeBalancing(balancing: Balancing, upstreams: number): string | null {
  if (upstreams < 2 && balancing.health_check == null) return null;
  const parts: string[] = [];
  if (upstreams > 1) parts.push(POLICIES.find((p) => p.policy === balancing.policy)?.label.toLowerCase() ?? balancing.policy);
  if (balancing.health_check) parts.push(`checked ${balancing.health_check.path}`);
  return parts.join(" · ");
}
