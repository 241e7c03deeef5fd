/** Human-readable output for the CLI: tables and key/value blocks. Never shows a secret, hash or salt. */

import type { PublicClient } from "../src/clients/record.ts";

function when(unix: number | null): string {
  return unix === null ? "never" : new Date(unix * 1000).toISOString().replace(".000Z", "Z");
}

function secretsSummary(client: PublicClient, now: number): string {
  return client.secrets
    .map((s, i) => {
      const label = i === 0 ? "current" : "previous";
      if (s.expires_at === null) return `${label}`;
      return `${label} (${s.expires_at <= now ? "expired" : "expires"} ${when(s.expires_at)})`;
    })
    .join(", ");
}

/** A fixed-width table, one row per client. */
export function clientTable(
  clients: readonly (PublicClient | { client_id: string; error: string })[],
  now: number,
): string {
  const header = ["CLIENT ID", "NAME", "STATUS", "SCOPES", "AUDIENCES", "TTL", "SECRETS", "UPDATED"];
  const rows = clients.map((c) =>
    "error" in c
      ? [c.client_id, `(${c.error})`, "corrupt", "", "", "", "", ""]
      : [
          c.client_id,
          c.name,
          c.enabled ? "enabled" : "disabled",
          c.scopes.join(" ") || "-",
          c.audiences.join(" ") || "(default)",
          c.ttl === null ? "default" : `${c.ttl}s`,
          secretsSummary(c, now),
          c.updated_at.replace(/\.\d+Z$/, "Z"),
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Every field of one client, one per line. */
export function clientDetails(c: PublicClient, now: number): string {
  const pairs: [string, string][] = [
    ["client_id", c.client_id],
    ["name", c.name],
    ["status", c.enabled ? "enabled" : "disabled"],
    ["grant", c.grant_types.length > 0 ? c.grant_types.join(" ") : "none (introspection only)"],
    ["scopes", c.scopes.join(" ") || "-"],
    ["audiences", c.audiences.join(" ") || "(deployment default)"],
    ["ttl", c.ttl === null ? "deployment default" : `${c.ttl} seconds`],
    ["can_introspect", c.can_introspect ? "yes" : "no"],
    ["quota", c.quota_per_minute === null ? "none" : `${c.quota_per_minute} tokens/minute`],
    ["secrets", secretsSummary(c, now)],
    ["tokens_revoked_before", c.tokens_revoked_before === null ? "-" : when(c.tokens_revoked_before)],
    ["created_at", c.created_at],
    ["updated_at", c.updated_at],
    ["secret_rotated_at", c.secret_rotated_at],
  ];
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}
