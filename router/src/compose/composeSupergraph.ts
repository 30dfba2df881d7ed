import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const SupergraphConfig = z.object({
  federation_version: z.string().optional(),
  subgraphs: z.record(
    z.string(),
    z.object({ routing_url: z.string().url(), schema: z.object({ file: z.string() }) }),
  ),
});

export interface SubgraphDefinition {
  name: string;
  routingUrl: string;
  schemaFile: string;
  sdl: string;
}

/** Reads supergraph.yaml and every subgraph schema it lists. */
export function readSupergraphConfig(configPath: string): SubgraphDefinition[] {
  const parsed = SupergraphConfig.parse(parseYaml(readFileSync(configPath, 'utf8')));
  const base = dirname(configPath);
  return Object.entries(parsed.subgraphs).map(([name, def]) => {
    const schemaFile = resolve(base, def.schema.file);
    return { name, routingUrl: def.routing_url, schemaFile, sdl: readFileSync(schemaFile, 'utf8') };
  });
}

export class CompositionFailed extends Error {
  readonly code = 'ERR_COMPOSITION_FAILED';
}

/** Composes the subgraphs into supergraph SDL with Apollo's composition (Federation v2). */
export function composeSupergraph(subgraphs: readonly SubgraphDefinition[]): string {
  const result = composeServices(
    subgraphs.map((s) => ({ name: s.name, url: s.routingUrl, typeDefs: parse(s.sdl) })),
  );
  if (result.errors) {
    throw new CompositionFailed(
      `composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`,
    );
  }
  return `${result.supergraphSdl.trimEnd()}\n`;
}
