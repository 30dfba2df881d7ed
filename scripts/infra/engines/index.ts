import type { Engine } from '../engine';
import { chromiumEngine } from './chromium';
import { clickhouseEngine } from './clickhouse';
import { kafkaEngine } from './kafka';
import { llmEngine } from './llm';
import { minioEngine } from './minio';
import { oidcEngine } from './oidc';
import { opaEngine } from './opa';
import { postgresEngine } from './postgres';
import { prometheusEngine } from './prometheus';
import { redisEngine } from './redis';
import { temporalEngine } from './temporal';

/**
 * Every engine the harness knows, in start order. A new engine (redis, kafka, temporal, opa,
 * clickhouse, minio, llm, prometheus, chromium) is one file in this folder implementing `Engine`, added here.
 */
export const ENGINES: readonly Engine[] = [
  postgresEngine,
  oidcEngine,
  llmEngine,
  opaEngine,
  temporalEngine,
  redisEngine,
  minioEngine,
  kafkaEngine,
  clickhouseEngine,
  prometheusEngine,
  chromiumEngine,
];

export const ENGINE_NAMES = ENGINES.map((e) => e.name);

export function engineByName(name: string): Engine {
  const engine = ENGINES.find((e) => e.name === name);
  if (!engine) throw new Error(`unknown engine "${name}"; known engines: ${ENGINE_NAMES.join(', ')}`);
  return engine;
}
