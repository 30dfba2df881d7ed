import { type DocumentNode, Kind, type OperationDefinitionNode, parse, type SelectionSetNode } from 'graphql';

/** Costs of recently seen small documents (clients send the same few again and again). */
const remembered = new Map<string, number>();
const REMEMBERED_DOCUMENT_CHARS = 16_384;
const REMEMBERED_DOCUMENTS = 1_000;

/**
 * Units of work one operation costs a request budget: its root fields, each alias counted
 * (fragments spread at the root expanded), at least 1. A document that does not parse within
 * `maxTokens`, or names no operation it has, costs 1: the gateway refuses it for its own reason.
 */
export function operationCost(
  query: string | undefined,
  operationName: string | null | undefined,
  maxTokens: number,
): number {
  if (!query) return 1;
  const key = `${operationName ?? ''}\0${query}`;
  const known = remembered.get(key);
  if (known !== undefined) return known;
  let cost = 1;
  try {
    const document = parse(query, { maxTokens, noLocation: true });
    const operation = pickOperation(document, operationName);
    if (operation) cost = Math.max(1, rootFields(document, operation.selectionSet, new Set()));
  } catch {
    cost = 1;
  }
  if (key.length <= REMEMBERED_DOCUMENT_CHARS) {
    remembered.set(key, cost);
    if (remembered.size > REMEMBERED_DOCUMENTS) remembered.delete(remembered.keys().next().value!);
  }
  return cost;
}

function pickOperation(
  document: DocumentNode,
  operationName: string | null | undefined,
): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (operationName) return operations.find((o) => o.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

/** Fields of a root selection set; `seen` stops fragment cycles (validation refuses them later). */
function rootFields(document: DocumentNode, selectionSet: SelectionSetNode, seen: Set<string>): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) count++;
    else if (selection.kind === Kind.INLINE_FRAGMENT)
      count += rootFields(document, selection.selectionSet, seen);
    else {
      const name = selection.name.value;
      if (seen.has(name)) continue;
      seen.add(name);
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === name,
      );
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION)
        count += rootFields(document, fragment.selectionSet, seen);
    }
  }
  return count;
}
