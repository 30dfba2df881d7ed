import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CompositionFailed, composeSupergraph, readSupergraphConfig } from '../src/compose/composeSupergraph';

const root = resolve(import.meta.dirname, '../..');

describe('supergraph composition', () => {
  it('schema/supergraph.graphql is what supergraph.yaml composes to (run `npm run compose` if not)', () => {
    const fresh = composeSupergraph(readSupergraphConfig(resolve(root, 'supergraph.yaml')));
    expect(readFileSync(resolve(root, 'schema/supergraph.graphql'), 'utf8')).toBe(fresh);
  });

  it('reports composition errors instead of producing a supergraph', () => {
    const a = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query { thing: Thing } type Thing { id: ID! }`;
    const b = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query { other: Thing } type Thing { id: String! }`;
    expect(() =>
      composeSupergraph([
        { name: 'a', routingUrl: 'http://127.0.0.1:1/graphql', schemaFile: 'a', sdl: a },
        { name: 'b', routingUrl: 'http://127.0.0.1:2/graphql', schemaFile: 'b', sdl: b },
      ]),
    ).toThrow(CompositionFailed);
  });
});
