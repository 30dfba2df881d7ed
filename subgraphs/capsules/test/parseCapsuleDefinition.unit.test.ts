import { describe, expect, it } from 'vitest';
import { parseCapsuleDefinition, validateInputs } from '../src/parseCapsuleDefinition';

const valid = `name: research-brief
version: 1.2.0
description: Recall, draft, approve, publish.
inputs:
  type: object
  required: [topic]
  properties:
    topic: { type: string, minLength: 3 }
steps:
  - id: recall
    kind: memoryRecall
    query: "{{inputs.topic}}"
  - id: draft
    kind: modelCall
    prompt: "Write about {{inputs.topic}}"
    maxTokens: 64
    retry: { maximumAttempts: 3, initialIntervalMs: 500 }
  - id: review
    kind: approval
    prompt: Publish this draft?
  - id: route
    kind: branch
    when: { path: steps.review.output.approved, equals: true }
    steps:
      - id: fan
        kind: parallel
        branches:
          - [{ id: notify, kind: toolCall, tool: soma.echo, args: { text: done } }]
          - [{ id: report, kind: artifact, name: brief.md, content: "{{steps.draft.output.text}}" }]
  - id: child
    kind: capsule
    capsule: summarize
    version: 1.0.0
outputs:
  text: "{{steps.draft.output.text}}"
`;

describe('parseCapsuleDefinition (capsule.schema.json)', () => {
  it('accepts a definition using every step kind, in YAML and in JSON', () => {
    const yaml = parseCapsuleDefinition(valid);
    expect(yaml.ok).toBe(true);
    if (!yaml.ok) return;
    expect(yaml.definition.steps.map((s) => s.kind)).toEqual([
      'memoryRecall',
      'modelCall',
      'approval',
      'branch',
      'capsule',
    ]);
    const json = parseCapsuleDefinition(JSON.stringify(yaml.definition, null, 2));
    expect(json).toEqual(yaml);
  });

  it('points at the path and line of each problem', () => {
    const broken = valid
      .replace('version: 1.2.0', 'version: 1.2.x')
      .replace('tool: soma.echo', 'tool: soma.echo, colour: red')
      .replace('    prompt: Publish this draft?\n', '');
    const r = parseCapsuleDefinition(broken);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: '/version',
          line: 2,
          message: expect.stringContaining('must match pattern'),
        }),
        expect.objectContaining({
          path: '/steps/2',
          line: 18,
          message: 'missing required property "prompt"',
        }),
        expect.objectContaining({
          path: '/steps/3/steps/0/branches/0/0',
          line: 27,
          message: 'unknown property "colour" for this step kind',
        }),
      ]),
    );
  });

  it('reports YAML syntax errors with their line, duplicate step ids and a bad inputs schema', () => {
    const syntax = parseCapsuleDefinition('name: x\nsteps: [\n');
    expect(syntax.ok).toBe(false);
    if (!syntax.ok) expect(syntax.problems[0]!.message).toMatch(/^not valid YAML\/JSON/);

    const dup = parseCapsuleDefinition(valid.replace('id: notify', 'id: draft'));
    expect(dup.ok).toBe(false);
    if (!dup.ok) {
      expect(dup.problems).toEqual([
        {
          path: '/steps/3/steps/0/branches/0/0/id',
          line: 28,
          column: 20,
          message: 'step id "draft" is used 2 times; ids must be unique in the whole definition',
        },
      ]);
    }

    const badInputs = parseCapsuleDefinition(valid.replace('type: object', 'type: objekt'));
    expect(badInputs.ok).toBe(false);
    if (!badInputs.ok) expect(badInputs.problems[0]).toMatchObject({ path: '/inputs', line: 5 });
  });

  it('validates run inputs against the capsule inputs schema', () => {
    const r = parseCapsuleDefinition(valid);
    if (!r.ok) throw new Error('valid definition refused');
    expect(validateInputs(r.definition.inputs, { topic: 'durable runs' })).toEqual({ ok: true });
    expect(validateInputs(r.definition.inputs, { topic: 'ab' })).toEqual({
      ok: false,
      problems: [{ path: '/topic', message: 'must NOT have fewer than 3 characters' }],
    });
  });
});
