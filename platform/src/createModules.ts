import type { CrossDomainPortName, CrossDomainPorts } from '@somaagent/ports';
import type { ModuleRuntime, SubgraphInstance, SubgraphModule } from '@somaagent/subgraph-server';
import type { Bridge } from './bridges/index';

/** A module and what it created, in list order. */
export interface CreatedModule {
  module: SubgraphModule;
  instance: SubgraphInstance;
}

export interface CreateModulesOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any module, whatever its config, instance and needs
  modules: readonly SubgraphModule<string, any, any, any>[];
  runtime: ModuleRuntime;
  /** Settings by module name; a module without an entry gets `{}`. */
  configs: Partial<Record<string, unknown>>;
  bridges: { [K in CrossDomainPortName]: Bridge<K> };
  /** Filled in as providers are created; the runtime's lazily built workflow engine reads it. */
  ports: Partial<CrossDomainPorts>;
}

/** Why the module list cannot be wired: a needed port with no earlier provider, or a provider without a bridge. */
export class ModuleWiringError extends Error {
  override name = 'ModuleWiringError';
}

/**
 * Checks the list before anything is created: every port a module needs is provided by a module
 * earlier in the list, and every provided port has a bridge naming that module.
 */
export function checkModuleWiring(
  modules: CreateModulesOptions['modules'],
  bridges: CreateModulesOptions['bridges'],
): void {
  const names = new Set<string>();
  const provided = new Map<CrossDomainPortName, string>();
  for (const module of modules) {
    if (names.has(module.name)) throw new ModuleWiringError(`module "${module.name}" is listed twice`);
    names.add(module.name);
    for (const port of module.needs as readonly CrossDomainPortName[]) {
      if (provided.has(port)) continue;
      const later = modules.find((m) => m.provides.includes(port));
      throw new ModuleWiringError(
        later
          ? `module "${module.name}" needs port "${port}", provided by "${later.name}" which comes after it: list "${later.name}" first`
          : `module "${module.name}" needs port "${port}", which no module in the list provides`,
      );
    }
    for (const port of module.provides) {
      const bridge = bridges[port];
      if (bridge.from !== module.name) {
        throw new ModuleWiringError(
          `module "${module.name}" provides port "${port}", but its bridge adapts module "${bridge.from}" (platform/src/bridges/index.ts)`,
        );
      }
      provided.set(port, module.name);
    }
  }
}

/** Creates every module in list order, turning each provider's instance into its ports as it goes. */
export async function createModules(options: CreateModulesOptions): Promise<CreatedModule[]> {
  checkModuleWiring(options.modules, options.bridges);
  const created: CreatedModule[] = [];
  try {
    for (const module of options.modules) {
      const instance: SubgraphInstance = await module.create({
        runtime: options.runtime,
        ports: options.ports as CrossDomainPorts,
        config: options.configs[module.name] ?? {},
      });
      created.push({ module, instance });
      for (const port of module.provides) setPort(options.ports, port, options.bridges[port].adapt(instance));
    }
  } catch (error) {
    await disposeModules(created);
    throw error;
  }
  return created;
}

function setPort<K extends CrossDomainPortName>(
  ports: Partial<CrossDomainPorts>,
  port: K,
  value: CrossDomainPorts[K],
) {
  ports[port] = value;
}

/** Disposes created modules in reverse order (a consumer goes before what it consumes). */
export async function disposeModules(created: readonly CreatedModule[]): Promise<void> {
  for (const { instance } of [...created].reverse()) await instance[Symbol.asyncDispose]?.();
}

/**
 * What a process serving `target` alone must create: `target` and, transitively, the modules of
 * `modules` that provide the ports it needs, in list order. The providers are created in that
 * process over the same database but not served (the standalone worker does the same).
 */
export function modulesServing<M extends CreateModulesOptions['modules'][number]>(
  modules: readonly M[],
  target: M,
): M[] {
  const wanted = new Set<M>([target]);
  const pending = [...(target.needs as readonly CrossDomainPortName[])];
  while (pending.length) {
    const port = pending.pop()!;
    const provider = modules.find((m) => m.provides.includes(port));
    if (!provider || wanted.has(provider)) continue;
    wanted.add(provider);
    pending.push(...(provider.needs as readonly CrossDomainPortName[]));
  }
  return modules.filter((m) => wanted.has(m));
}
