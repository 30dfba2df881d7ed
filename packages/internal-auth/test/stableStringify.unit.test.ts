import { describe, expect, it } from 'vitest';
import { signRouterEnvelope, stableStringify, verifyRouterEnvelope } from '../src/index';

describe('stableStringify', () => {
  it('sorts keys at every depth and drops undefined members, as JSON.stringify would', () => {
    expect(stableStringify({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('writes scalars, null and undefined array items like JSON', () => {
    expect(stableStringify(null)).toBe('null');
    expect(stableStringify(undefined)).toBe('null');
    expect(stableStringify('é"\n')).toBe(JSON.stringify('é"\n'));
    expect(stableStringify([undefined, null, true, 1.5])).toBe('[null,null,true,1.5]');
    expect(stableStringify({})).toBe('{}');
    expect(stableStringify([])).toBe('[]');
  });

  it('orders keys by UTF-16 code unit (upper case before lower case, non-ASCII last)', () => {
    expect(stableStringify({ é: 1, a: 2, B: 3, 'a b': 4 })).toBe('{"B":3,"a":2,"a b":4,"é":1}');
  });

  it('is independent of the order members were written in', () => {
    expect(stableStringify({ x: 1, y: [{ q: 1, p: 2 }] })).toBe(
      stableStringify({ y: [{ p: 2, q: 1 }], x: 1 }),
    );
  });

  it('an envelope signed by the router verifies whatever order the subgraph received variables in', () => {
    const claims = null;
    const envelope = signRouterEnvelope('s3cret', { query: '{ a }', variables: { b: 1, a: 2 } }, claims, 100);
    expect(
      verifyRouterEnvelope('s3cret', { query: '{ a }', variables: { a: 2, b: 1 } }, envelope, { now: 100 }),
    ).toBeNull();
  });
});
