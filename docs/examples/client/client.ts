// A minimal typed client: the operation types come from graphql-codegen run against the live
// endpoint's introspection (`npm run codegen`), so a schema change that breaks this app fails
// its type check, not its users.
import type {
  SignInMutation,
  SignInMutationVariables,
  UsersPageQuery,
  UsersPageQueryVariables,
} from './generated/graphql';

async function request<TData, TVariables>(url: string, query: string, variables: TVariables, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: TData; errors?: { message: string }[] };
}

export async function listUserEmails(url: string, tenantSlug: string, email: string, password: string) {
  const signIn = await request<SignInMutation, SignInMutationVariables>(
    url,
    'mutation SignIn($input: SignInInput!) { signIn(input: $input) { accessToken expiresAt } }',
    { input: { tenantSlug, email, password } },
  );
  const token = signIn.data?.signIn.accessToken;
  if (!token) throw new Error(signIn.errors?.[0]?.message ?? 'sign-in failed');
  const page = await request<UsersPageQuery, UsersPageQueryVariables>(
    url,
    'query UsersPage($first: Int) { viewer { subject authMethod } users(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { node { id email roles { name } } } } }',
    { first: 50 },
    token,
  );
  const emails: string[] = page.data?.users.edges.map((edge) => edge.node.email) ?? [];
  return emails;
}
