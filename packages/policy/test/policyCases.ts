import type { PolicyInput, PolicySubject } from '../src/index';

/** One allow/deny case; every evaluator must decide it exactly so (reasons included). */
export interface PolicyCase {
  name: string;
  input: PolicyInput;
  allow: boolean;
  reasons: string[];
}

const member: PolicySubject = {
  subject: 'user-1',
  tenantId: 'tenant-a',
  roles: ['member'],
  capabilities: ['sessions:read', 'identity:users:read'],
  platformAdmin: false,
  authMethod: 'password',
};
const admin: PolicySubject = { ...member, subject: 'user-2', roles: ['admin'], capabilities: ['*'] };
const platform: PolicySubject = {
  subject: 'platform-admin',
  tenantId: null,
  roles: [],
  capabilities: ['*'],
  platformAdmin: true,
  authMethod: 'platform_key',
};

/** The table both evaluators run (packages/policy/test/policyEvaluator.contract.test.ts). */
export const POLICY_CASES: PolicyCase[] = [
  {
    name: 'unknown policy → default deny',
    input: { policy: 'no.such.policy', subject: admin },
    allow: false,
    reasons: ['no policy named "no.such.policy": denied by default'],
  },
  {
    name: 'empty policy name → default deny',
    input: { policy: '', subject: admin },
    allow: false,
    reasons: ['no policy named "": denied by default'],
  },
  { name: 'public, anonymous', input: { policy: 'public', subject: null }, allow: true, reasons: [] },
  {
    name: 'capability held',
    input: { policy: 'capability', subject: member, required: ['sessions:read'] },
    allow: true,
    reasons: [],
  },
  {
    name: 'capability missing',
    input: { policy: 'capability', subject: member, required: ['sessions:read', 'personas:write'] },
    allow: false,
    reasons: ['missing capability "personas:write": ask a tenant admin to grant it'],
  },
  {
    name: "'*' holds every capability",
    input: { policy: 'capability', subject: admin, required: ['personas:write', 'sessions:write'] },
    allow: true,
    reasons: [],
  },
  {
    name: 'capability, anonymous',
    input: { policy: 'capability', subject: null, required: ['sessions:read'] },
    allow: false,
    reasons: ['sign in first: this needs an access token'],
  },
  {
    name: 'tenant member acting on own tenant',
    input: { policy: 'tenant.member', subject: member, resource: { tenantId: 'tenant-a' } },
    allow: true,
    reasons: [],
  },
  {
    name: 'tenant member acting on another tenant',
    input: { policy: 'tenant.member', subject: admin, resource: { tenantId: 'tenant-b' } },
    allow: false,
    reasons: ['the resource belongs to another tenant'],
  },
  {
    name: 'owner without a resource tenant',
    input: { policy: 'tenant.owner', subject: member },
    allow: false,
    reasons: ['the resource names no tenant, so its owner cannot be checked'],
  },
  {
    name: 'platform admin only: tenant admin refused',
    input: { policy: 'platform.admin', subject: admin },
    allow: false,
    reasons: ['platform administrators only'],
  },
  {
    name: 'platform admin only: platform admin',
    input: { policy: 'platform.admin', subject: platform },
    allow: true,
    reasons: [],
  },
  {
    name: 'operation: a mutation under the default constitution',
    input: { policy: 'operation', subject: member, operation: { type: 'mutation', name: 'M' } },
    allow: true,
    reasons: [],
  },
  {
    name: 'constitution: default-forbidden tool',
    input: { policy: 'constitution.tool', subject: member, tool: { name: 'shell.exec' } },
    allow: false,
    reasons: ['tool "shell.exec" is forbidden by the tenant\'s constitution'],
  },
  {
    name: 'constitution: permitted tool',
    input: { policy: 'constitution.tool', subject: member, tool: { name: 'web.fetch' } },
    allow: true,
    reasons: [],
  },
  {
    name: 'constitution: too many tokens per request',
    input: { policy: 'constitution.model', subject: member, model: { name: 'soma-tiny', maxTokens: 5000 } },
    allow: false,
    reasons: ["5000 tokens per request exceed the tenant's limit of 4096"],
  },
  {
    name: 'constitution: persona arguments within limits',
    input: {
      policy: 'constitution.persona',
      subject: member,
      args: { input: { model: 'soma-tiny', maxTokens: 256 } },
    },
    allow: true,
    reasons: [],
  },
  {
    name: 'constitution: persona arguments without a model',
    input: { policy: 'constitution.persona', subject: member, args: { model: 'flat' } },
    allow: false,
    reasons: ['a model request must name its model'],
  },
  {
    name: 'constitution: blocked content categories',
    input: { policy: 'constitution.content', subject: member, content: { categories: ['malware', 'csam'] } },
    allow: false,
    reasons: [
      'content category "csam" is blocked by the tenant\'s constitution',
      'content category "malware" is blocked by the tenant\'s constitution',
    ],
  },
];
