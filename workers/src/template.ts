/**
 * Templates of capsule definitions: `{{inputs.topic}}`, `{{steps.draft.output.text}}`. Pure and
 * deterministic (runs inside workflow code). A string that is exactly one placeholder yields the
 * value itself (number, object…); placeholders inside text are stringified (objects as JSON).
 */
export interface TemplateScope {
  inputs: unknown;
  steps: Record<string, { output: unknown }>;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}$/;

export function lookup(scope: TemplateScope, path: string): unknown {
  let value: unknown = scope;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function render(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) return lookup(scope, whole[1]!);
    return value.replace(PLACEHOLDER, (_, path: string) => {
      const found = lookup(scope, path);
      if (found === undefined || found === null) return '';
      return typeof found === 'string' ? found : JSON.stringify(found);
    });
  }
  if (Array.isArray(value)) return value.map((v) => render(v, scope));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, scope)]));
  }
  return value;
}
