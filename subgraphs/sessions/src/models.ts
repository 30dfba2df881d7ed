import type { SessionEventPayload } from './SessionEventFeed';
import type { MessageRow, PersonaRow, SessionRow } from './SessionStore';

/** GraphQL-facing shapes (codegen mappers): rows mapped once, relations resolved by field. */
export interface PersonaModel {
  id: string;
  name: string;
  provider: PersonaRow['provider'];
  model: string;
  systemPrompt: string;
  temperature: number;
  maxTokens: number;
  recallK: number;
  createdAt: string;
}

export interface SessionModel {
  id: string;
  userId: string;
  personaId: string;
  model: string;
  title: string | null;
  status: SessionRow['status'];
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; costUsd: number };
  lastSequence: number;
  createdAt: string;
  updatedAt: string;
}

export interface MessageModel {
  id: string;
  sessionId: string;
  role: MessageRow['role'];
  content: string;
  status: MessageRow['status'];
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  latencyMs: number | null;
  timeToFirstTokenMs: number | null;
  finishReason: string | null;
  citations: { marker: number; score: number; memoryItem: { id: string } }[];
  createdAt: string;
}

export type SessionEventModel = { sequence: number; sessionId: string } & SessionEventPayload;

const iso = (d: Date) => new Date(d).toISOString();

export const toPersona = (r: PersonaRow): PersonaModel => ({
  id: r.id,
  name: r.name,
  provider: r.provider,
  model: r.model,
  systemPrompt: r.system_prompt,
  temperature: r.temperature,
  maxTokens: r.max_tokens,
  recallK: r.recall_k,
  createdAt: iso(r.created_at),
});

export const toSession = (r: SessionRow): SessionModel => {
  const promptTokens = Number(r.prompt_tokens);
  const completionTokens = Number(r.completion_tokens);
  return {
    id: r.id,
    userId: r.user_id,
    personaId: r.persona_id,
    model: r.model,
    title: r.title,
    status: r.status,
    usage: {
      promptTokens,
      completionTokens,
      totalTokens: promptTokens + completionTokens,
      costUsd: Number(r.cost_usd),
    },
    lastSequence: Number(r.last_sequence),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
};

export const toMessage = (r: MessageRow): MessageModel => ({
  id: r.id,
  sessionId: r.session_id,
  role: r.role,
  content: r.content,
  status: r.status,
  promptTokens: r.prompt_tokens,
  completionTokens: r.completion_tokens,
  costUsd: Number(r.cost_usd),
  latencyMs: r.latency_ms,
  timeToFirstTokenMs: r.ttft_ms,
  finishReason: r.finish_reason,
  citations: (typeof r.citations === 'string' ? JSON.parse(r.citations) : (r.citations ?? [])).map(
    (c: { marker: number; score: number; memoryItemId: string }) => ({
      marker: c.marker,
      score: c.score,
      memoryItem: { id: c.memoryItemId },
    }),
  ),
  createdAt: iso(r.created_at),
});
