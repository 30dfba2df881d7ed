import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const reject = (value: unknown) =>
  new GraphQLError(
    `Micros is an integer number of micro-dollars (1 USD = 1000000), not ${JSON.stringify(value)?.slice(0, 40)}`,
    { extensions: { code: 'BAD_USER_INPUT' } },
  );

function parse(value: unknown): number {
  // Range checks (negative, absurd) are the service's, with the field named.
  if (typeof value !== 'number' || !Number.isInteger(value)) throw reject(value);
  return value;
}

/** `Micros`: integer micro-dollars as a JSON number; Int is 32-bit, too small for money. */
export const MicrosScalar = new GraphQLScalarType({
  name: 'Micros',
  description: 'An amount in integer micro-dollars (1 USD = 1000000), exact up to 2^53.',
  serialize: (value) => value,
  parseValue: parse,
  parseLiteral: (node) => {
    if (node.kind !== Kind.INT)
      throw reject(node.kind === Kind.FLOAT || node.kind === Kind.STRING ? node.value : node.kind);
    return parse(Number(node.value));
  },
});
