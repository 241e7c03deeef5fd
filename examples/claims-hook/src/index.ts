/**
 * Example claims hook for keymint (docs/claims.md): an "entitlements" Worker that keymint calls through its
 * `CLAIMS_HOOK` service binding for every token request that passed keymint's own checks.
 *
 * - Adds `env` (the ENVIRONMENT var) to every token.
 * - Looks up the plan of the client's tenant (its static claim `tenant`) in TENANT_PLANS and adds it as `plan`.
 * - Refuses (400 invalid_scope) a token with a scope listed in PAID_SCOPES for a tenant on the "free" plan.
 *
 * Self-contained on purpose: a hook is your own Worker and shares no code with keymint, only the JSON contract.
 */

export interface HookEnv {
  /** Added to every token as `env`, e.g. "production". */
  ENVIRONMENT?: string;
  /** JSON object: tenant → plan, e.g. {"acme": "enterprise", "globex": "free"}. */
  TENANT_PLANS?: string;
  /** Space-separated scopes a "free" tenant may not get. */
  PAID_SCOPES?: string;
}

/** What keymint sends (POST, application/json). */
export interface HookRequest {
  client_id: string;
  scope: string | null;
  aud: string | string[];
  claims: Record<string, unknown>;
  token_endpoint_auth_method: string;
  dpop_jkt: string | null;
  iss: string;
  jti: string;
  iat: number;
  exp: number;
}

/** What keymint accepts back (always HTTP 200): claims to add, or a refusal. */
export type HookResponse =
  | { claims: Record<string, unknown> }
  | { error: "invalid_scope" | "unauthorized_client"; error_description?: string };

function plans(env: HookEnv): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(env.TENANT_PLANS ?? "{}");
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** The hook's decision for one token request. */
export function decide(request: HookRequest, env: HookEnv): HookResponse {
  const claims: Record<string, unknown> = {};
  if (env.ENVIRONMENT) claims.env = env.ENVIRONMENT;
  const tenant = request.claims.tenant;
  const plan = typeof tenant === "string" ? plans(env)[tenant] : undefined;
  if (plan !== undefined) {
    const paid = new Set((env.PAID_SCOPES ?? "").split(" ").filter(Boolean));
    const granted = (request.scope ?? "").split(" ").filter(Boolean);
    const blocked = granted.filter((s) => paid.has(s));
    if (plan === "free" && blocked.length > 0) {
      return {
        error: "invalid_scope",
        error_description: `The ${blocked.join(" ")} scope needs a paid plan; ask for scope without it`,
      };
    }
    claims.plan = plan;
  }
  return { claims };
}

export default {
  async fetch(request: Request, env: HookEnv): Promise<Response> {
    if (request.method !== "POST") return new Response("keymint claims hook: POST only\n", { status: 405 });
    let body: HookRequest;
    try {
      body = (await request.json()) as HookRequest;
    } catch {
      return new Response("not JSON\n", { status: 400 });
    }
    return Response.json(decide(body, env));
  },
} satisfies ExportedHandler<HookEnv>;
