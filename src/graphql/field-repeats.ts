import { Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';

/** How often one response name may occur in one selection set, fragments' fields included. */
export const maxFieldRepeats = 10;
/** How many fields one selection set may gather from its fragments before it is refused unread. */
export const maxCollectedFields = 500;

/**
 * Why a parsed document would make validation quadratic, or undefined when it would not.
 * graphql-js's "fields can be merged" rule compares every pair of fields that answer under
 * the same name in one selection set — inline fragments and fragment spreads included — and
 * their sub-selections with them: 1,200 copies of `health { ready }` are 20 kB and 4,800
 * tokens, inside the size limits, yet take hundreds of milliseconds of the event loop to
 * validate, anonymous and uncached (security review F2). A real operation names a field a
 * few times at most; so each selection set's fields are gathered the way that rule gathers
 * them and counted per response name, in time linear in the gathered fields (at most
 * `maxCollectedFields` per set, which also stops fragments that spread each other into an
 * exponential tree).
 */
export function repeatedFieldProblem(document: DocumentNode): string | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  const sets: SelectionSetNode[] = [];
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const gatherSets = (set: SelectionSetNode) => {
    sets.push(set);
    for (const selection of set.selections) {
      if (selection.kind !== Kind.FRAGMENT_SPREAD && selection.selectionSet) gatherSets(selection.selectionSet);
    }
  };
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION) gatherSets(definition.selectionSet);
  }
  for (const set of sets) {
    const problem = countSet(set, fragments);
    if (problem) return problem;
  }
  return undefined;
}

function countSet(root: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>): string | undefined {
  const counts = new Map<string, number>();
  let collected = 0;
  const spreading = new Set<string>();
  const visit = (set: SelectionSetNode): string | undefined => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.alias?.value ?? selection.name.value;
        const count = (counts.get(name) ?? 0) + 1;
        counts.set(name, count);
        if (count > maxFieldRepeats) return `The document asks for \`${name}\` more than ${maxFieldRepeats} times in one selection, the limit.`;
        if (++collected > maxCollectedFields) return `One selection gathers more than ${maxCollectedFields} fields from its fragments, the limit.`;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const problem = visit(selection.selectionSet);
        if (problem) return problem;
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        // An unknown or cyclic spread is validation's to report; counting it again would not end.
        if (!fragment || spreading.has(name)) continue;
        spreading.add(name);
        const problem = visit(fragment.selectionSet);
        spreading.delete(name);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  return visit(root);
}
