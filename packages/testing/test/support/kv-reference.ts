import type { KvInput, KvOutput } from '../../src/index';

/**
 * A sequential key-value store, written independently of kvModel, that the
 * checker's tests compare it with: returns an operation's output and the
 * key's new value.
 */
export function applyKv(before: string | null, input: KvInput): { output: KvOutput; after: string | null } {
  switch (input.op) {
    case 'put':
      return { output: null, after: input.value };
    case 'get':
      return { output: before, after: before };
    case 'append':
      return { output: (before ?? '') + input.value, after: (before ?? '') + input.value };
    case 'cas':
      return before === input.expected
        ? { output: true, after: input.value }
        : { output: false, after: before };
  }
}
