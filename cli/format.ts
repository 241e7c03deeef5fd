/** Human-readable output for the CLI: tables and key/value blocks. Never shows a secret, hash or salt. */

import type { PublicClient } from "../src/clients/record.ts";

function when(unix: number | null): string {
  return unix === null ? "never" : new Date(unix * 1000).toISOString().replace(".000Z", "Z");
}

/** How a key client authenticates, in a few words. */
function keysSummary(client: PublicClient): string {
  if (client.federation !== null) return `federated: ${client.federation.issuer}`;
  if (client.jwks_uri !== null) return `jwks_uri: ${client.jwks_uri}`;
  const count = client.jwks?.keys.length ?? 0;
  return `jwks: ${count} key${count === 1 ? "" : "s"}`;
}

/** How an mTLS client is recognized, in a few words. */
function certificateSummary(client: PublicClient): string {
  const count = client.tls_client_certificate_thumbprints.length;
  if (client.token_endpoint_auth_method === "self_signed_tls_client_auth") {
    return `self-signed: ${count} certificate${count === 1 ? "" : "s"}`;
  }
  const [field, value] = mtlsSubject(client) ?? ["", ""];
  return `${field.replace("tls_client_auth_", "")}: ${value}`;
}

function mtlsSubject(client: PublicClient): [string, string] | undefined {
  const pairs: [string, string | null][] = [
    ["tls_client_auth_subject_dn", client.tls_client_auth_subject_dn],
    ["tls_client_auth_san_dns", client.tls_client_auth_san_dns],
    ["tls_client_auth_san_uri", client.tls_client_auth_san_uri],
    ["tls_client_auth_san_ip", client.tls_client_auth_san_ip],
    ["tls_client_auth_san_email", client.tls_client_auth_san_email],
  ];
  const found = pairs.find(([, value]) => value !== null);
  return found === undefined ? undefined : [found[0], found[1] as string];
}

function secretsSummary(client: PublicClient, now: number): string {
  if (client.token_endpoint_auth_method === "private_key_jwt") return `none (${keysSummary(client)})`;
  if (client.token_endpoint_auth_method !== "client_secret_basic") return `none (${certificateSummary(client)})`;
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

function keyDetails(c: PublicClient): [string, string][] {
  const subject = mtlsSubject(c);
  if (subject !== undefined) return [subject];
  if (c.token_endpoint_auth_method === "self_signed_tls_client_auth") {
    return [["tls_client_certificate_thumbprints", c.tls_client_certificate_thumbprints.join(", ")]];
  }
  if (c.federation !== null) {
    return [
      ["federated_issuer", c.federation.issuer],
      ["federated_subject", c.federation.subject],
      ["federated_audience", c.federation.audience ?? "(keymint's issuer)"],
    ];
  }
  if (c.jwks_uri !== null) return [["jwks_uri", c.jwks_uri]];
  if (c.jwks !== null) {
    return [["jwks", c.jwks.keys.map((k) => `${k.alg}${k.kid === undefined ? "" : ` kid=${k.kid}`}`).join(", ")]];
  }
  return [];
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
    ["dpop_bound_access_tokens", c.dpop_bound_access_tokens ? "yes (DPoP proof required)" : "no"],
    [
      "tls_client_certificate_bound_access_tokens",
      c.tls_client_certificate_bound_access_tokens ? "yes (mutual TLS required)" : "no",
    ],
    ["claims", Object.keys(c.claims).length === 0 ? "-" : JSON.stringify(c.claims)],
    ["token_endpoint_auth_method", c.token_endpoint_auth_method],
    ...keyDetails(c),
    ["secrets", secretsSummary(c, now)],
    ["tokens_revoked_before", c.tokens_revoked_before === null ? "-" : when(c.tokens_revoked_before)],
    ["created_at", c.created_at],
    ["updated_at", c.updated_at],
    ["secret_rotated_at", c.secret_rotated_at],
  ];
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}
