import { describe, expect, it } from 'vitest';
import { InMemoryNonceStore } from '../src/InMemoryNonceStore';
import {
  acceptRouterEnvelope,
  EnvelopeRejected,
  signRouterEnvelope,
  verifyRouterEnvelope,
} from '../src/index';

const req = { query: '{ a }', variables: { x: 1 } };

describe('router envelope nonce', () => {
  it('each signed envelope carries a fresh nonce covered by the MAC', () => {
    const a = signRouterEnvelope('s3cret', req, null, 100);
    const b = signRouterEnvelope('s3cret', req, null, 100);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.sig).not.toBe(b.sig);
    expect(() => verifyRouterEnvelope('s3cret', req, { ...a, nonce: b.nonce }, { now: 100 })).toThrow(
      /does not match/,
    );
    expect(() => verifyRouterEnvelope('s3cret', req, { ...a, nonce: undefined }, { now: 100 })).toThrow(
      /malformed/,
    );
  });

  it('acceptRouterEnvelope accepts an envelope once', async () => {
    const nonces = new InMemoryNonceStore();
    const envelope = signRouterEnvelope('s3cret', req, null);
    expect(await acceptRouterEnvelope('s3cret', req, envelope, nonces)).toBeNull();
    await expect(acceptRouterEnvelope('s3cret', req, envelope, nonces)).rejects.toThrow(EnvelopeRejected);
    await expect(acceptRouterEnvelope('s3cret', req, envelope, nonces)).rejects.toThrow(/already used/);
  });

  it('a forged envelope does not spend the nonce of the real one', async () => {
    const nonces = new InMemoryNonceStore();
    const envelope = signRouterEnvelope('s3cret', req, null);
    await expect(
      acceptRouterEnvelope('s3cret', req, { ...envelope, sig: 'x'.repeat(43) }, nonces),
    ).rejects.toThrow(/does not match/);
    expect(await acceptRouterEnvelope('s3cret', req, envelope, nonces)).toBeNull();
  });
});
