import { clip, SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Connection, pageArgs, toConnection } from '@somaagent/pagination';
import type { ChatModel, SqlDatabase } from '@somaagent/ports';
import { requireCaller } from './capabilities';
import type { CreatePersonaInput, ModelProvider, QueryPersonasArgs } from './generated/resolvers-types';
import { allFieldsHandled } from './inputFields';
import type { PriceTable } from './prices';
import { type PersonaRow, type SessionStore, UUID } from './SessionStore';

export interface PersonaServiceDeps {
  db: SqlDatabase;
  store: SessionStore;
  /** The configured providers: a persona must name one of them. */
  models: Partial<Record<ModelProvider, ChatModel>>;
  /** A persona's model must have a price. */
  prices: PriceTable;
  /** Whether memory recall is configured (recallK > 0 needs it). */
  canRecall: boolean;
}

const badInput = (field: string, message: string) => new SomaError('BAD_USER_INPUT', message, { field });

/** Personas: a name, a model with its settings, a system prompt and how much memory to recall. */
export class PersonaService {
  constructor(private readonly deps: PersonaServiceDeps) {}

  async create(claims: VerifiedClaims | null, input: CreatePersonaInput): Promise<PersonaRow> {
    const caller = requireCaller(claims, 'personas:write');
    const { models, prices } = this.deps;
    const { name: givenName, provider: givenProvider, model, systemPrompt, ...settings } = input;
    const {
      temperature: givenTemperature,
      maxTokens: givenMaxTokens,
      recallK: givenRecallK,
      ...unhandled
    } = settings;
    allFieldsHandled(unhandled);
    const provider = givenProvider ?? (models.OPENAI_COMPATIBLE ? 'OPENAI_COMPATIBLE' : 'LOCAL');
    const temperature = givenTemperature ?? 0.7;
    const maxTokens = givenMaxTokens ?? 512;
    const recallK = givenRecallK ?? 0;
    const name = givenName.trim();
    if (name.length < 1 || name.length > 200) throw badInput('name', 'name must be 1-200 characters');
    if (!prices[model]) {
      throw badInput(
        'model',
        `model "${clip(model)}" is not in the price table; known: ${Object.keys(prices).join(', ')}`,
      );
    }
    if (!models[provider])
      throw badInput('provider', `provider ${clip(provider)} is not configured on this server`);
    if (systemPrompt.length > 20_000)
      throw badInput('systemPrompt', 'systemPrompt is limited to 20000 characters');
    if (!(temperature >= 0 && temperature <= 2))
      throw badInput('temperature', 'temperature must be between 0 and 2');
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 4096) {
      throw badInput('maxTokens', 'maxTokens must be an integer between 1 and 4096');
    }
    if (!Number.isInteger(recallK) || recallK < 0 || recallK > 20) {
      throw badInput('recallK', 'recallK must be an integer between 0 and 20');
    }
    if (recallK > 0 && !this.deps.canRecall)
      throw badInput('recallK', 'memory recall is not configured on this server');
    return this.deps.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      if (await this.deps.store.personaNameTaken(tx, name))
        throw new SomaError('CONFLICT', `a persona named "${name}" already exists`);
      return this.deps.store.insertPersona(tx, caller.tenantId, {
        name,
        provider,
        model,
        system_prompt: systemPrompt,
        temperature,
        max_tokens: maxTokens,
        recall_k: recallK,
      });
    });
  }

  async list(claims: VerifiedClaims | null, args: QueryPersonasArgs): Promise<Connection<PersonaRow>> {
    const caller = requireCaller(claims, 'sessions:read');
    const { first: firstArg, after: afterArg, ...unhandled } = args;
    allFieldsHandled(unhandled);
    const { first, after } = pageArgs({ first: firstArg, after: afterArg });
    return this.deps.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const page = await this.deps.store.personaPage(tx, after, first + 1);
      return toConnection(page.rows, first, page.total, (r) => r);
    });
  }

  async byId(claims: VerifiedClaims | null, id: string): Promise<PersonaRow | null> {
    const caller = requireCaller(claims, 'sessions:read');
    if (!UUID.test(id)) return null;
    return this.deps.db.withScope(
      { tenantId: caller.tenantId },
      async (tx) => (await this.deps.store.persona(tx, id)) ?? null,
    );
  }
}
