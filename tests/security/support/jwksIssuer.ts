import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTHeaderParameters, type JWTPayload, SignJWT } from 'jose';

export interface JwksIssuer extends AsyncDisposable {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /**
   * Signs exactly these claims and header fields (nothing is added: no default `iat`, `exp`, `typ`),
   * so a test can leave any of them out.
   */
  sign(payload: JWTPayload, header?: Partial<JWTHeaderParameters>): Promise<string>;
}

/**
 * A real token issuer under the test's control: an ES256 key pair whose public half is served as
 * a JWKS over loopback HTTP, so the router fetches and verifies exactly as against Keycloak. For
 * claims a certified provider refuses to put in a token (a numeric tenant, a day-long lifetime).
 */
export async function startJwksIssuer(audience = 'somaagent'): Promise<JwksIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = 'security-test-key';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer: `${base}/rogue`,
    audience,
    jwksUrl: `${base}/jwks.json`,
    sign: (payload, header = {}) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, ...header }).sign(privateKey),
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
