import {
  type ConstArgumentNode,
  type ConstDirectiveNode,
  Kind,
  type ObjectTypeDefinitionNode,
  type ObjectTypeExtensionNode,
  parse,
} from 'graphql';

/** Identity of SomaAgent's policy spec (schema/directives/policy.graphql); any version. */
export const POLICY_SPEC_IDENTITY = 'https://somaagent.dev/policy/';

/** One policy question a field asks: `@policy(name:)` or `@requiresCapability(capabilities:)`. */
export interface FieldPolicy {
  policy: string;
  /** Capabilities, for `@requiresCapability` (policy `capability`). */
  required?: string[];
}

/** `Type.field` → the policies to ask before resolving it. */
export type PolicyDirectiveMap = ReadonlyMap<string, readonly FieldPolicy[]>;

const argument = (directive: ConstDirectiveNode, name: string): ConstArgumentNode | undefined =>
  directive.arguments?.find((a) => a.name.value === name);

/**
 * Reads the policy directives out of a supergraph's SDL. They arrive there through
 * `@composeDirective`, under the names the `@link` of the policy spec imported them as
 * (`import: [{ name: "@policy", as: "@opa" }]` is honoured).
 */
export function readPolicyDirectives(supergraphSdl: string): PolicyDirectiveMap {
  const document = parse(supergraphSdl);
  const names = { policy: '', requiresCapability: '' };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const link of definition.directives ?? []) {
      const url = argument(link, 'url')?.value;
      if (
        link.name.value !== 'link' ||
        url?.kind !== Kind.STRING ||
        !url.value.startsWith(POLICY_SPEC_IDENTITY)
      ) {
        continue;
      }
      const imports = argument(link, 'import')?.value;
      for (const item of imports?.kind === Kind.LIST ? imports.values : []) {
        let name: string | undefined;
        let as: string | undefined;
        if (item.kind === Kind.STRING) name = as = item.value;
        else if (item.kind === Kind.OBJECT) {
          for (const f of item.fields) {
            if (f.value.kind !== Kind.STRING) continue;
            if (f.name.value === 'name') name = f.value.value;
            if (f.name.value === 'as') as = f.value.value;
          }
          as ??= name;
        }
        if (name === '@policy') names.policy = as?.replace(/^@/, '') ?? '';
        if (name === '@requiresCapability') names.requiresCapability = as?.replace(/^@/, '') ?? '';
      }
    }
  }

  const policiesOf = (directives: readonly ConstDirectiveNode[] | undefined): FieldPolicy[] => {
    const out: FieldPolicy[] = [];
    for (const d of directives ?? []) {
      if (names.policy && d.name.value === names.policy) {
        const value = argument(d, 'name')?.value;
        if (value?.kind === Kind.STRING) out.push({ policy: value.value });
      } else if (names.requiresCapability && d.name.value === names.requiresCapability) {
        const value = argument(d, 'capabilities')?.value;
        const required =
          value?.kind === Kind.LIST
            ? value.values.flatMap((v) => (v.kind === Kind.STRING ? [v.value] : []))
            : value?.kind === Kind.STRING
              ? [value.value]
              : [];
        out.push({ policy: 'capability', required });
      }
    }
    return out;
  };

  const map = new Map<string, FieldPolicy[]>();
  if (!names.policy && !names.requiresCapability) return map;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.OBJECT_TYPE_EXTENSION) {
      continue;
    }
    const type = definition as ObjectTypeDefinitionNode | ObjectTypeExtensionNode;
    const onType = policiesOf(type.directives);
    for (const field of type.fields ?? []) {
      const all = [...onType, ...policiesOf(field.directives)];
      if (all.length === 0) continue;
      const key = `${type.name.value}.${field.name.value}`;
      map.set(key, [...(map.get(key) ?? []), ...all]);
    }
  }
  return map;
}
