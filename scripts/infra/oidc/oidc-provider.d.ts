// oidc-provider ships no type declarations and @types/oidc-provider lags behind v9; this
// declares only the surface scripts/infra/oidc/server.ts uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface KoaContextWithOIDC {
    oidc: {
      client?: { clientId: string; [metadata: string]: unknown };
      body?: Record<string, unknown>;
      params?: Record<string, unknown>;
    };
  }

  export interface AccessTokenLike {
    kind: string;
    clientId?: string;
    scope?: string;
  }

  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
    jwt?: { sign?: { alg?: string; kid?: string } };
  }

  export interface Configuration {
    clients?: Record<string, unknown>[];
    jwks?: { keys: Record<string, unknown>[] };
    scopes?: string[];
    extraClientMetadata?: {
      properties?: string[];
      validator?: (
        ctx: KoaContextWithOIDC,
        key: string,
        value: unknown,
        metadata: Record<string, unknown>,
      ) => void;
    };
    extraTokenClaims?: (
      ctx: KoaContextWithOIDC,
      token: AccessTokenLike,
    ) => Promise<Record<string, unknown> | undefined> | Record<string, unknown> | undefined;
    features?: Record<string, unknown>;
    ttl?: Record<string, number | ((...args: unknown[]) => number)>;
    [option: string]: unknown;
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    issuer: string;
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export const errors: {
    InvalidRequest: new (description?: string) => Error;
    InvalidTarget: new (description?: string) => Error;
    InvalidClientMetadata: new (description?: string) => Error;
  };

  export default Provider;
}
