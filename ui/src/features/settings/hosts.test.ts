import { describe, expect, it } from "vitest";
import type { HostsStatus } from "../../api/hosts";
import { describeHosts, listNames } from "./hosts";

const base: HostsStatus = {
  enabled: true,
  file: "/etc/hosts",
  in_sync: true,
  names: ["app.test"],
  missing: [],
  stale: [],
  wildcards: [],
  localhost_resolves: true,
  error: null,
  needs_elevation: false,
  command: "sudo portico hosts sync --data-dir /d",
  remove_command: "sudo portico hosts remove --data-dir /d",
};

describe("describeHosts", () => {
  it("says a block in sync resolves its names", () => {
    const view = describeHosts(base);
    expect(view).toMatchObject({ tone: "ok", offer: "none", canRemove: true });
    expect(view.text).toBe("In sync: app.test resolves to this machine through /etc/hosts.");
  });

  it("counts missing names and offers administrator rights when the engine may not write", () => {
    const view = describeHosts({
      ...base,
      in_sync: false,
      names: [],
      missing: ["a.test", "b.test"],
      needs_elevation: true,
      error: "cannot write /etc/hosts: Permission denied (os error 13)",
    });
    expect(view.tone).toBe("warn");
    expect(view.offer).toBe("elevate");
    expect(view.canRemove).toBe(false);
    expect(view.text).toBe("2 names are missing from /etc/hosts and do not resolve on this machine yet: a.test and b.test.");
  });

  it("offers a plain sync when nothing stands in the way, and shows another failure", () => {
    const view = describeHosts({ ...base, in_sync: false, stale: ["old.test"], error: "Portico's block is broken at line 3" });
    expect(view.offer).toBe("sync");
    expect(view.text).toBe("No longer needed there: old.test. Portico's block is broken at line 3");
  });

  it("says what stays in the file while sync is off", () => {
    expect(describeHosts({ ...base, enabled: false }).text).toBe("Off: Portico does not change /etc/hosts; its block there still maps app.test.");
    expect(describeHosts({ ...base, enabled: false, names: [] })).toMatchObject({ tone: "off", canRemove: false });
  });

  it("lists names in words", () => {
    expect(listNames([])).toBe("");
    expect(listNames(["a"])).toBe("a");
    expect(listNames(["a", "b", "c"])).toBe("a, b and c");
  });
});
