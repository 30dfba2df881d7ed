import { randomUUID } from 'node:crypto';
import { capsulesMigrations, SqlCapsuleRunStore } from '@somaagent/capsules';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { JournalWorkflowEngine, workflowsMigrations } from '@somaagent/workflows';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../src/activities';
import { capsuleRunWorkflow } from '../src/capsuleRunWorkflow';
import { runRow, seedRun } from './support';

/**
 * A modelCall step through the sessions domain's ChatModel port against the harness's real
 * llama.cpp server. Its model is tiny and untrained: this checks the mechanics (tokens counted by
 * the engine, finish reason, the text stored as the step output), never the text's meaning.
 */
const llm = inject('llm');
let db: PgliteSqlDatabase;
let engine: JournalWorkflowEngine;
let model: OpenAICompatibleChatModel;

beforeAll(async () => {
  db = await PgliteSqlDatabase.open(undefined, { vector: false });
  await db.migrate([...workflowsMigrations, ...capsulesMigrations]);
  model = OpenAICompatibleChatModel.fromUrl(llm.baseUrl, llm.apiKey);
  engine = new JournalWorkflowEngine(db, {
    workflows: { capsuleRun: capsuleRunWorkflow },
    activities: createActivities({
      store: new SqlCapsuleRunStore(db),
      chat: { model, defaultModel: llm.model },
    }),
  }).startWorker();
});
afterAll(async () => {
  await engine?.[Symbol.asyncDispose]();
  await model?.[Symbol.asyncDispose]();
  await db?.[Symbol.asyncDispose]();
});

describe('modelCall step on the ChatModel port (harness llama.cpp server)', () => {
  it('stores the completion, its token counts and finish reason as the step output', async () => {
    const tenant = randomUUID();
    const input = await seedRun(
      db,
      tenant,
      {
        name: 'ask',
        version: '1.0.0',
        steps: [
          { id: 'draft', kind: 'modelCall', prompt: 'Say something about {{inputs.topic}}', maxTokens: 12 },
        ],
        outputs: { draft: '{{steps.draft.output}}' },
      },
      { topic: 'durable workflows' },
    );
    await engine.start('capsuleRun', input.runId, input);
    const output = (await engine.result(input.runId)) as {
      draft: { text: string; promptTokens: number; completionTokens: number; finishReason: string };
    };
    expect(typeof output.draft.text).toBe('string');
    expect(output.draft.promptTokens).toBeGreaterThan(0);
    expect(output.draft.completionTokens).toBeGreaterThan(0);
    expect(output.draft.completionTokens).toBeLessThanOrEqual(12);
    expect(['stop', 'length']).toContain(output.draft.finishReason);
    const row = await runRow(db, tenant, input.runId);
    expect(row.steps).toEqual([{ step_key: 'draft', status: 'COMPLETED', attempts: 1 }]);
  });
});
