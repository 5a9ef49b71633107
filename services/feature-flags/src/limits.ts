/**
 * The bounds every definition is checked against before it is replicated,
 * in one place. They keep one evaluation's cost bounded (a regular
 * expression is matched in time linear in its input, a condition tree has a
 * bounded size) and one command well under a replica's maxCommandBytes.
 */
export const LIMITS = {
  /** Characters of an environment name, a flag key or a segment name. */
  nameLength: 200,
  /** Variants of one flag. */
  variants: 200,
  /** Rules of one flag. */
  rules: 500,
  /** Nesting of all / any / not. */
  conditionDepth: 16,
  /** Condition nodes in one flag's rules, or one segment. */
  conditionNodes: 5_000,
  /** Values of one `in` condition. */
  inValues: 10_000,
  /** Characters of a string literal in a condition. */
  literalLength: 4_096,
  /** Characters of a regular expression. */
  patternLength: 512,
  /** NFA states of a compiled regular expression (after expanding `{n,m}`). */
  patternStates: 4_096,
  /** A `{n,m}` bound. */
  repeatBound: 1_000,
  /** A string attribute longer than this never matches a pattern (its match costs input × states). */
  matchInputLength: 4_096,
  /** Shares of one rollout. */
  rolloutShares: 100,
  /** Nesting of an object variant's JSON. */
  jsonDepth: 32,
  /** Tags of one flag, and characters of one tag. */
  tags: 50,
  tagLength: 100,
  /** Characters of a description, an author or a reason. */
  textLength: 2_000,
  /** Entries of a flag's metadata. */
  metadataEntries: 50,
} as const;

/** Names of environments, flags and segments: letters, digits and `_ . : -`, not starting with a separator. */
export const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

/**
 * Why name is not a valid environment, flag or segment name, or undefined.
 * @param what how the message calls it (`key`, `environment`)
 */
export function nameProblem(what: string, name: unknown): string | undefined {
  if (typeof name !== 'string') return `${what} must be a string`;
  if (name.length === 0 || name.length > LIMITS.nameLength)
    return `${what} must have 1 to ${LIMITS.nameLength} characters`;
  if (!NAME_PATTERN.test(name))
    return `${what} ${JSON.stringify(name)} may hold only letters, digits and _ . : - (not first: . : -)`;
  return undefined;
}
