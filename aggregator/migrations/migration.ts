import type { Store } from '../../platform/store.js';

/** A numbered, immutable schema step. Statements must be idempotent (IF NOT EXISTS). */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: (t: Store['table']) => string[];
}
