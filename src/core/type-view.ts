/**
 * `IsViewOf<P, S>` is `true` when P reads a part of S: every property P has, S has too
 * (under the same name), with a type S allows there, all the way down — P may leave
 * properties out and may be narrower (a required field S leaves optional, two of S's
 * five literals). A parser's output type checked this way against a vendor SDK's type
 * breaks the build when the SDK renames or retypes a field the parser reads, while the
 * parser still keeps only the fields it needs.
 *
 * Unions in S: a P object is compared with the members of S it can be (those whose
 * `type` admits P's `type`; all of them when P has no `type`), taken together — a
 * property any of them has, with any of their types, is accepted. Arrays are compared
 * element by element.
 */
export type IsViewOf<P, S> = AllTrue<ViewOf<P, S>>;

type Primitive = string | number | bigint | boolean | symbol | null | undefined;

/** `true | false` per member of P; distributes over P's union. */
type ViewOf<P, S> = P extends unknown ? MemberViewOf<P, S> : never;

type MemberViewOf<P, S> = P extends Primitive
  ? [P] extends [S]
    ? true
    : false
  : P extends readonly (infer E)[]
    ? [Extract<S, readonly unknown[]>] extends [never]
      ? false
      : ViewOf<E, ElementOf<Extract<S, readonly unknown[]>>>
    : P extends object
      ? ObjectViewOf<P, Candidates<P, Exclude<Extract<S, object>, readonly unknown[]>>>
      : false;

type ObjectViewOf<P, C> = [C] extends [never]
  ? false
  : [Exclude<keyof P, KeysOf<C>>] extends [never]
    ? AllTrue<{ [K in keyof P]: ViewOf<P[K], ValueAt<C, K>> }[keyof P]>
    : false;

/** The members of S that P can be, by their `type` discriminant when P has one. */
type Candidates<P, S> = 'type' extends keyof P
  ? S extends unknown
    ? 'type' extends keyof S
      ? [Extract<P['type'], S['type']>] extends [never]
        ? never
        : S
      : never
    : never
  : S;

type KeysOf<C> = C extends unknown ? keyof C : never;
type ValueAt<C, K> = C extends unknown ? (K extends keyof C ? C[K] : never) : never;
type ElementOf<A> = A extends readonly (infer E)[] ? E : never;
type AllTrue<T> = false extends T ? false : true;
