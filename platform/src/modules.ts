import { billingModule } from '@somaagent/billing';
import { capsulesModule } from '@somaagent/capsules';
import { identityModule } from '@somaagent/identity';
import { memoryModule } from '@somaagent/memory';
import { policyModule } from '@somaagent/policy-subgraph';
import { sessionsModule } from '@somaagent/sessions';
import type { ModuleConfig } from '@somaagent/subgraph-server';

/**
 * THE list of domains. The platform migrates, creates, serves and disposes by looping over it.
 * Order matters once: a module that `needs` a port comes after the module that `provides` it
 * (startPlatform refuses to start otherwise, naming both).
 */
export const platformModules = [
  identityModule,
  memoryModule,
  sessionsModule,
  policyModule,
  capsulesModule,
  billingModule,
] as const;

export type PlatformModule = (typeof platformModules)[number];

type NameOf<M> = M extends { name: infer N extends string } ? N : never;
// biome-ignore lint/complexity/noBannedTypes: `{}` is "a config with no required field" here
type OptionalConfig<M> = {} extends ModuleConfig<M> ? true : false;

/**
 * Each module's own settings, by name: required for modules with a required setting, optional
 * for the rest (a module whose settings all have defaults needs no entry).
 */
export type ModuleConfigs<L extends readonly unknown[] = typeof platformModules> = {
  [M in L[number] as OptionalConfig<M> extends true ? never : NameOf<M>]: ModuleConfig<M>;
} & {
  [M in L[number] as OptionalConfig<M> extends true ? NameOf<M> : never]?: ModuleConfig<M>;
};
