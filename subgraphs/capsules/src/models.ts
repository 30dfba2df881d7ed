import type { CapsuleDefinition, RunEventType } from '@somaagent/capsule-contract';

export interface CapsuleRow {
  id: string;
  name: string;
  version: string;
  description: string | null;
  source: string;
  definition: CapsuleDefinition;
  created_by: string;
  created_at: Date | string;
  cursor_ts: string;
}

export interface CapsuleModel {
  id: string;
  name: string;
  version: string;
  description: string | null;
  source: string;
  definition: CapsuleDefinition;
  inputsSchema: unknown;
  capabilities: string[];
  createdBy: string;
  createdAt: string;
}

export const toCapsule = (r: CapsuleRow): CapsuleModel => ({
  id: r.id,
  name: r.name,
  version: r.version,
  description: r.description,
  source: r.source,
  definition: r.definition,
  inputsSchema: r.definition.inputs ?? null,
  capabilities: r.definition.capabilities ?? [],
  createdBy: r.created_by,
  createdAt: new Date(r.created_at).toISOString(),
});

export interface RunRow {
  id: string;
  capsule_id: string;
  status: CapsuleRunModel['status'];
  inputs: unknown;
  output: unknown;
  error: string | null;
  engine: string;
  started_by: string;
  last_sequence: string | number;
  created_at: Date | string;
  updated_at: Date | string;
  finished_at: Date | string | null;
  cursor_ts: string;
}

export interface CapsuleRunModel {
  id: string;
  capsuleId: string;
  status: 'RUNNING' | 'AWAITING_APPROVAL' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  inputs: unknown;
  output: unknown;
  error: string | null;
  engine: string;
  startedBy: string;
  lastSequence: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export const toRun = (r: RunRow): CapsuleRunModel => ({
  id: r.id,
  capsuleId: r.capsule_id,
  status: r.status,
  inputs: r.inputs,
  output: r.output,
  error: r.error,
  engine: r.engine,
  startedBy: r.started_by,
  lastSequence: Number(r.last_sequence),
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
  finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
});

export interface CapsuleRunEventModel {
  sequence: number;
  runId: string;
  type: RunEventType;
  stepKey: string | null;
  payload: unknown;
  occurredAt: string;
}
