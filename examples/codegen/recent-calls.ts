import { readFileSync } from 'node:fs';
import type { CreateLeadMutation, CreateLeadMutationVariables, RecentCallsQuery, RecentCallsQueryVariables } from './generated/operations.ts';

/** The operations, sent as they are written; the generated types describe their answers. */
const document = readFileSync(new URL('operations.graphql', import.meta.url), 'utf8');

/** POSTs one operation of operations.graphql to Callwatch's /graphql with an API key. */
async function request<Data, Variables>(url: string, apiKey: string, operationName: string, variables: Variables): Promise<Data> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query: document, operationName, variables }),
  });
  const body = (await response.json()) as { data?: Data | null; errors?: { message: string }[] };
  if (!body.data) throw new Error(body.errors?.map((error) => error.message).join('; ') ?? `HTTP ${response.status}`);
  return body.data;
}

/** One line per call of a page: direction, status, who, and the summary when there is one. */
export async function callList(url: string, apiKey: string, variables: RecentCallsQueryVariables = {}): Promise<string[]> {
  const { calls } = await request<RecentCallsQuery, RecentCallsQueryVariables>(url, apiKey, 'RecentCalls', variables);
  return calls.nodes.map((call) => `${call.direction} ${call.status} ${call.lead?.fullName ?? call.lead?.phone ?? '?'}: ${call.summary ?? '(no summary yet)'}`);
}

/** Adds a lead; an invalid or duplicate phone number is an answer to show, not an exception. */
export async function addLead(url: string, apiKey: string, input: CreateLeadMutationVariables['input']): Promise<string> {
  const { createLead } = await request<CreateLeadMutation, CreateLeadMutationVariables>(url, apiKey, 'CreateLead', { input });
  switch (createLead.__typename) {
    case 'Lead':
      return `added ${createLead.phone}`;
    case 'ValidationError':
      return createLead.fieldErrors.map((error) => `${error.path.join('.')}: ${error.message}`).join('; ');
    default:
      return createLead.message;
  }
}
