// Pure logic of the DNS responder panel: one sentence for its state.
import type { DnsStatus } from "../../api/dns";

export interface Headline {
  text: string;
  tone: "off" | "ok" | "error" | "setup";
}

/** What the responder is doing, in one sentence, and how it should look. */
export function dnsHeadline(dns: DnsStatus): Headline {
  if (!dns.enabled) return { text: "Off: add a suffix to answer for it.", tone: "off" };
  if (dns.listening == null) {
    return { text: dns.error ?? "Starting…", tone: dns.error == null ? "off" : "error" };
  }
  const missing = dns.suffixes.filter((s) => !s.resolver_configured).length;
  const where = `Answering on ${dns.listening} (UDP and TCP)`;
  if (missing === 0) return { text: `${where}; the system resolver sends every suffix here.`, tone: "ok" };
  const which = missing === dns.suffixes.length ? "no suffix" : `${dns.suffixes.length - missing} of ${dns.suffixes.length} suffixes`;
  return { text: `${where}, but the system resolver sends ${which} here yet: run the one-time setup below.`, tone: "setup" };
}
