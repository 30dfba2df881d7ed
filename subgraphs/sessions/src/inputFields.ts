/**
 * Takes the rest of a destructured generated GraphQL input (or arguments) object: it type-checks
 * only when every field was taken out, so a field added to the schema (and `codegen`) fails `tsc`
 * at the service that has to handle it instead of being ignored.
 *
 * @example
 * const { sessionId, content, ...unhandled } = input;
 * allFieldsHandled(unhandled);
 */
export const allFieldsHandled = (_unhandled: Record<string, never>): void => undefined;
