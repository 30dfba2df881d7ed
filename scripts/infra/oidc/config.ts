/**
 * Shared between the OIDC engine (which writes `clients.json` and exports the env) and the
 * provider process (`server.ts`, which reads it).
 */

/** Resource indicator (RFC 8707) of the SomaAgent API; oidc-provider requires an absolute URI. */
export const OIDC_RESOURCE = 'urn:somaagent';
/** `aud` of every access token issued for `OIDC_RESOURCE`. */
export const OIDC_AUDIENCE = 'somaagent';
/** Scopes the SomaAgent API understands; a token carries the requested subset in `scope`. */
export const OIDC_SCOPES = ['soma:read', 'soma:write', 'soma:admin'] as const;
export const OIDC_CLIENT_ID = 'somaagent-test';
/** Tenant put in `soma_tenant` when the token request names none. */
export const OIDC_DEFAULT_TENANT = '00000000-0000-4000-8000-000000000001';

export interface OidcClientConfig {
  client_id: string;
  client_secret: string;
  /** Space-separated scopes this client may request. */
  scope: string;
  /** Default value of the `soma_tenant` claim in this client's access tokens. */
  soma_tenant: string;
}

export interface OidcServerConfig {
  clients: OidcClientConfig[];
}
