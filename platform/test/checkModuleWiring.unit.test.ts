import { capsulesModule } from '@somaagent/capsules';
import { identityModule } from '@somaagent/identity';
import { memoryModule } from '@somaagent/memory';
import { sessionsModule } from '@somaagent/sessions';
import { describe, expect, it } from 'vitest';
import { bridges } from '../src/bridges/index';
import { checkModuleWiring, ModuleWiringError } from '../src/createModules';
import { platformModules } from '../src/modules';

describe('checkModuleWiring', () => {
  it('accepts the platform list: every needed port has an earlier provider and a bridge from it', () => {
    expect(() => checkModuleWiring(platformModules, bridges)).not.toThrow();
    expect(platformModules.map((m) => m.name)).toEqual([
      'identity',
      'memory',
      'sessions',
      'policy',
      'capsules',
      'billing',
    ]);
  });

  it('refuses a consumer listed before its provider, naming both', () => {
    expect(() => checkModuleWiring([identityModule, sessionsModule, memoryModule], bridges)).toThrow(
      new ModuleWiringError(
        'module "sessions" needs port "sessionContext", provided by "memory" which comes after it: list "memory" first',
      ),
    );
  });

  it('refuses a consumer whose port nobody in the list provides', () => {
    expect(() => checkModuleWiring([identityModule, capsulesModule], bridges)).toThrow(
      'module "capsules" needs port "capsuleRecall", which no module in the list provides',
    );
  });

  it('refuses a module listed twice', () => {
    expect(() => checkModuleWiring([memoryModule, memoryModule], bridges)).toThrow(
      'module "memory" is listed twice',
    );
  });

  it('refuses a provider whose bridge adapts another module', () => {
    const impostor = { ...identityModule, provides: ['capsuleRecall' as const] };
    expect(() => checkModuleWiring([impostor], bridges)).toThrow(
      'module "identity" provides port "capsuleRecall", but its bridge adapts module "memory"',
    );
  });
});
