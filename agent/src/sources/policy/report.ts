// The one error reporter every object parser takes.
/** Receives each problem: the field's full path and an `expected ..., found ...` message. */
export type ReportError = (field: string, message: string) => void;
