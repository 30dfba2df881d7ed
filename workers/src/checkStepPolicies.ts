import type { PolicyInput, PolicySubject } from '@somaagent/policy';
import type { ActivitiesDeps, ExecuteStepArgs, RunStarter, StepGate } from './ActivitiesDeps';
import { StepPolicyDenied, StepPolicyUnavailable } from './stepErrors';

/**
 * Asks the policy engine about the step before its work runs: `constitution.tool` for a tool
 * call, `constitution.model` for a model call, then every policy the capsule (and the capsules
 * around it) names. The first denial ends the step.
 */
export async function checkStepPolicies(
  deps: Pick<ActivitiesDeps, 'policy' | 'chat'>,
  args: ExecuteStepArgs,
  gate: StepGate,
  starter: RunStarter | null,
): Promise<void> {
  const subject: PolicySubject | null = starter
    ? {
        subject: starter.subject,
        tenantId: starter.tenantId,
        roles: starter.roles,
        capabilities: starter.capabilities,
        platformAdmin: starter.platformAdmin,
        authMethod: starter.authMethod,
      }
    : null;
  const spec = args.spec;
  const tool = args.kind === 'toolCall' ? { name: String(spec.tool), arguments: spec.args ?? {} } : undefined;
  const model =
    args.kind === 'modelCall'
      ? { name: String(spec.model ?? deps.chat?.defaultModel), maxTokens: Number(spec.maxTokens ?? 256) }
      : undefined;
  const common = {
    subject,
    resource: { tenantId: args.tenantId, type: 'capsuleStep' },
    args: { capsule: gate.capsule, version: gate.version, step: { id: args.key, kind: args.kind } },
    ...(tool ? { tool } : {}),
    ...(model ? { model } : {}),
  };
  const questions: PolicyInput[] = [
    ...(tool ? [{ policy: 'constitution.tool', ...common }] : []),
    ...(model ? [{ policy: 'constitution.model', ...common }] : []),
    ...gate.policies.map((policy) => ({ policy, ...common })),
  ];
  if (!deps.policy) {
    // See ActivitiesDeps.policy: without an engine the constitution is not consulted, but a
    // policy the capsule itself names cannot be honoured, so its steps are denied.
    if (gate.policies.length === 0) return;
    const policy = gate.policies[0]!;
    throw new StepPolicyDenied(
      `step "${args.key}" denied by policy ${policy}: no policy engine is configured for capsule runs, so it cannot be checked`,
      policy,
      ['no policy engine is configured for capsule runs'],
    );
  }
  const decisions = deps.policy.forRequest();
  for (const question of questions) {
    const decision = await decisions.decide(question);
    if (decision.allow) continue;
    const why = decision.reasons.join('; ') || 'denied';
    if (decision.unavailable) {
      throw new StepPolicyUnavailable(
        `step "${args.key}" could not be checked against policy ${question.policy}: ${why}`,
        question.policy,
      );
    }
    throw new StepPolicyDenied(
      `step "${args.key}" denied by policy ${question.policy}: ${why}`,
      question.policy,
      decision.reasons,
    );
  }
}
