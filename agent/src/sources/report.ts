// The one error reporter every object parser takes.
import type { ObjectError } from '../state/index.ts';
import { describe, isAbsent, isMap } from './fields.ts';

/** Receives each problem: the field's full path and an `expected ..., found ...` message. */
export type ReportError = (field: string, message: string) => void;

/**
 * Collects the errors of one object (file and object named once), fields under `prefix`;
 * object parsers extend it with the readers of their own kinds.
 */
export class Reporter {
  readonly errors: ObjectError[] = [];
  private readonly file: string;
  private readonly object: string;
  private readonly prefix: string;

  constructor(file: string, object: string, prefix = '') {
    this.file = file;
    this.object = object;
    this.prefix = prefix;
  }

  add(field: string, message: string): void {
    const path = this.prefix && field ? `${this.prefix}.${field}` : this.prefix || field;
    this.errors.push({ file: this.file, object: this.object, field: path, message });
  }

  /** A map; absent (or null) is an error when required, else an empty map. */
  map(v: unknown, field: string, required: boolean): Record<string, unknown> | undefined {
    if (isMap(v)) return v;
    if (isAbsent(v) && !required) return {};
    this.add(field, `expected a map, found ${describe(v)}`);
    return undefined;
  }

  /** A list; absent (or null) is empty. */
  list(v: unknown, field: string): unknown[] {
    if (Array.isArray(v)) return v;
    if (!isAbsent(v)) this.add(field, `expected a list, found ${describe(v)}`);
    return [];
  }
}
