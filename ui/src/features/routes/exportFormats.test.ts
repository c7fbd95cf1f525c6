import { describe, expect, it } from "vitest";
import { EXPORT_CHOICES, choiceFor, exportCommand, valueOf } from "./exportFormats";

describe("export choices", () => {
  it("cover Portico's document and every proxy format the API knows", () => {
    expect(EXPORT_CHOICES.map((c) => c.format)).toEqual([null, "caddyfile", "nginx", "traefik", "k8s-ingress"]);
    expect(new Set(EXPORT_CHOICES.map((c) => c.fileName)).size).toBe(EXPORT_CHOICES.length);
  });

  it("round-trip through the menu's value", () => {
    for (const choice of EXPORT_CHOICES) expect(choiceFor(valueOf(choice))).toBe(choice);
    expect(choiceFor("nonsense").format).toBeNull();
  });

  it("name the terminal command", () => {
    expect(exportCommand(choiceFor("portico"))).toBe("portico export > portico-export.json");
    expect(exportCommand(choiceFor("nginx"))).toBe("portico export --format nginx > portico.nginx.conf");
  });
});
