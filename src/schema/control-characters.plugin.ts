import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import { hasControlCharacters } from '../core/control-characters.ts';
import { FieldValidationError, type FieldError } from './validation-error.ts';

/**
 * Refuses control characters (core/control-characters.ts) in every string argument of
 * every field: text inputs, search terms, cursors, ids, SIDs and strings inside JSON
 * arguments (security review F13). It runs before the field's own validators, so a NUL
 * never reaches Postgres (which answered it with a 500) and a mutation answers the typed
 * `ValidationError` of its result union naming the field, like any invalid input.
 */
export class ControlCharactersPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    if (Object.keys(fieldConfig.args).length === 0) return fieldConfig;
    return {
      ...fieldConfig,
      argMappers: [
        (args) => {
          const errors: FieldError[] = [];
          findControlCharacters(args, [], errors);
          if (errors.length > 0) throw new FieldValidationError(errors);
          return args;
        },
        ...fieldConfig.argMappers,
      ],
    };
  }
}

const message = 'must not contain control characters (such as NUL)';

function findControlCharacters(value: unknown, path: string[], errors: FieldError[]): void {
  if (typeof value === 'string') {
    if (hasControlCharacters(value)) errors.push({ path, message });
    return;
  }
  if (Array.isArray(value)) return value.forEach((item, index) => findControlCharacters(item, [...path, String(index)], errors));
  if (value === null || typeof value !== 'object') return;
  // Input objects come with a null prototype, JSON arguments with Object's; a Date is neither.
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== null && prototype !== Object.prototype) return;
  for (const [key, item] of Object.entries(value)) {
    if (hasControlCharacters(key)) errors.push({ path: [...path, key], message });
    findControlCharacters(item, [...path, key], errors);
  }
}

declare global {
  export namespace PothosSchemaTypes {
    interface Plugins<Types extends SchemaTypes> {
      controlCharacters: ControlCharactersPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin('controlCharacters', ControlCharactersPlugin);
