import type { z } from 'zod';

/** One variable that is wrong or missing, and what to do about it. */
export interface ConfigIssue {
  /** e.g. `SOMA_S3_BUCKET`, or `SOMA_OIDC_ISSUERS[0].issuer` inside a JSON variable. */
  variable: string;
  message: string;
}

/** The environment does not make a valid configuration; `issues` names every variable at fault. */
export class ConfigError extends Error {
  readonly code = 'ERR_INVALID_CONFIG';
  constructor(
    readonly issues: ConfigIssue[],
    readonly processName: string,
  ) {
    super(
      `${processName}: invalid configuration\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

const variableOf = (path: readonly PropertyKey[]): string =>
  path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`,
    )
    .join('');

/**
 * Parses `env` once with a process's schema. Empty values count as unset, so `SOMA_X=` turns an
 * engine off. Throws ConfigError naming each variable at fault.
 */
export function readConfig<T extends z.ZodType>(
  schema: T,
  env: NodeJS.ProcessEnv,
  processName: string,
): z.output<T> {
  const set = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(set);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({ variable: variableOf(issue.path), message: issue.message })),
    processName,
  );
}

/** For a `main`: the config, or the error's message on stderr and exit code 2. */
export function readConfigOrExit<T extends z.ZodType>(
  schema: T,
  env: NodeJS.ProcessEnv,
  processName: string,
): z.output<T> {
  try {
    return readConfig(schema, env, processName);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
}
