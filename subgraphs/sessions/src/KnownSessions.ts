import type { ChatMessage } from '@somaagent/ports';
import type { ModelProvider } from './generated/resolvers-types';
import type { ModelUseColumns } from './SessionStore';

/** What a session's model calls are made with (its persona's; personas never change). */
export interface SessionModelUse {
  personaId: string;
  provider: ModelProvider;
  model: string;
  maxTokens: number;
  recallK: number;
  systemPrompt: string;
  temperature: number;
}

/** What this process knows of a session it answered. */
export interface KnownConversation {
  /** The recent COMPLETE messages, as the next prompt needs them. */
  history: ChatMessage[];
  /** The session's last event sequence. */
  lastSequence: number;
}

export const toModelUse = (p: ModelUseColumns): SessionModelUse => ({
  personaId: p.id,
  provider: p.provider,
  model: p.model,
  maxTokens: p.max_tokens,
  recallK: p.recall_k,
  systemPrompt: p.system_prompt,
  temperature: p.temperature,
});

/** Sessions whose model use / recent history this process keeps (oldest forgotten first). */
const CACHED_SESSIONS = 5_000;

const setBounded = <V>(map: Map<string, V>, key: string, value: V) => {
  map.delete(key);
  map.set(key, value);
  if (map.size > CACHED_SESSIONS) map.delete(map.keys().next().value!);
};

/**
 * What this process remembers of sessions, so the model request can start before the
 * transaction (time to first token). Keyed by tenant too: another tenant's request for the same
 * id must not see this tenant's persona (its model name would leak into a policy denial).
 *
 * Model use: personas and a session's persona never change, so it is looked up once per session.
 * Conversations: on a database server only a guess (the transaction reads the real history and
 * restarts the request if they differ); on an in-process database, whose only client this
 * process is, the truth (see AnswerFirst).
 */
export class KnownSessions {
  private readonly modelUses = new Map<string, SessionModelUse>();
  private readonly conversations = new Map<string, KnownConversation>();

  modelUse(tenantId: string, sessionId: string): SessionModelUse | undefined {
    return this.modelUses.get(`${tenantId}:${sessionId}`);
  }

  rememberModelUse(tenantId: string, sessionId: string, use: SessionModelUse): void {
    setBounded(this.modelUses, `${tenantId}:${sessionId}`, use);
  }

  conversation(tenantId: string, sessionId: string): KnownConversation | undefined {
    return this.conversations.get(`${tenantId}:${sessionId}`);
  }

  rememberConversation(tenantId: string, sessionId: string, conversation: KnownConversation): void {
    setBounded(this.conversations, `${tenantId}:${sessionId}`, conversation);
  }

  /** Its history is no longer known (an answer that was not stored). */
  forgetConversation(tenantId: string, sessionId: string): void {
    this.conversations.delete(`${tenantId}:${sessionId}`);
  }

  /** The session was closed. */
  forget(tenantId: string, sessionId: string): void {
    this.modelUses.delete(`${tenantId}:${sessionId}`);
    this.conversations.delete(`${tenantId}:${sessionId}`);
  }
}
