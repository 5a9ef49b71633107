/**
 * Export of an environment as a flagd flag-definition document: rules become
 * one `if` chain, rollouts `fractional` (with the bucketing value this store
 * hashes, so flagd assigns the same variants), segments `$evaluators`
 * referenced by `$ref`. A flag using `matches` (flagd has no regular
 * expressions) is left out and listed in `skipped`.
 */
import { UnsupportedTargetingError } from './errors';
import type { FlagdDocument, FlagdFlag } from './flagd-import';
import type {
  Condition,
  FlagRecord,
  MetadataValue,
  Rollout,
  SegmentRecord,
  Serve,
  TargetingRule,
} from './types';

/** The document, and the flags that could not be expressed in it. */
export interface FlagdExport {
  readonly document: FlagdDocument;
  readonly skipped: readonly { readonly key: string; readonly reason: string }[];
}

/** flagd's schema, named in exported documents. */
export const FLAGD_SCHEMA = 'https://flagd.dev/schema/v0/flags.json';

type Logic = unknown;

const JSONLOGIC_OP = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;

function logic(c: Condition, path: string, refs: Set<string>): Logic {
  if ('all' in c)
    return c.all.length === 0 ? true : { and: c.all.map((x, i) => logic(x, `${path}.all[${i}]`, refs)) };
  if ('any' in c)
    return c.any.length === 0 ? false : { or: c.any.map((x, i) => logic(x, `${path}.any[${i}]`, refs)) };
  if ('not' in c) return { '!': logic(c.not, `${path}.not`, refs) };
  if ('segment' in c) {
    refs.add(c.segment);
    return { $ref: c.segment };
  }
  const v = { var: c.attribute };
  switch (c.op) {
    case 'equals':
      return { '===': [v, c.value] };
    case 'in':
      return { in: [v, [...c.values]] };
    case 'contains':
      return { in: [c.value, v] };
    case 'startsWith':
      return { starts_with: [v, c.value] };
    case 'endsWith':
      return { ends_with: [v, c.value] };
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      return { [JSONLOGIC_OP[c.op]]: [v, c.value] };
    case 'semver':
      return { sem_ver: [v, c.compare, c.value] };
    case 'exists':
      return { '!=': [v, null] };
    case 'matches':
      throw new UnsupportedTargetingError('matches', path, 'flagd has no regular-expression operation');
  }
}

function fractional(key: string, r: Rollout): Logic {
  const by = r.by ?? 'targetingKey';
  const salt = r.salt ?? `${key}/`;
  const bucketing =
    salt === key && by === 'targetingKey' ? [] : salt === '' ? [{ var: by }] : [{ cat: [salt, { var: by }] }];
  // flagd takes whole weights, relative to their total: percentages if whole, else basis points.
  const whole = r.split.every((s) => Number.isInteger(s.weight));
  return {
    fractional: [
      ...bucketing,
      ...r.split.map((s) => [s.variant, whole ? s.weight : Math.round(s.weight * 100)]),
    ],
  };
}

function result(key: string, s: Serve): Logic {
  if ('variant' in s) return s.variant;
  if ('rollout' in s) return fractional(key, s.rollout);
  return null;
}

function targeting(key: string, rules: readonly TargetingRule[], refs: Set<string>): Logic | undefined {
  if (rules.length === 0) return undefined;
  const last = rules[rules.length - 1]!;
  const chained = last.when === undefined ? rules.slice(0, -1) : rules;
  const otherwise = last.when === undefined ? result(key, last.serve) : null;
  if (chained.length === 0) return otherwise;
  const args: Logic[] = [];
  chained.forEach((r, i) => args.push(logic(r.when!, `rules[${i}].when`, refs), result(key, r.serve)));
  args.push(otherwise);
  return { if: args };
}

function metadataOf(record: FlagRecord): { [key: string]: MetadataValue } | undefined {
  const d = record.definition;
  const m: { [key: string]: MetadataValue } = { ...d.metadata };
  if (d.description !== undefined && !('description' in m)) m.description = d.description;
  if (d.tags !== undefined && d.tags.length > 0 && !('tags' in m)) m.tags = d.tags.join(',');
  return Object.keys(m).length > 0 ? m : undefined;
}

/**
 * The flagd document of an environment's flags and segments (an environment
 * snapshot's, or listFlags / listSegments results). Only the segments some
 * exported flag uses become $evaluators.
 * @returns the document, and each flag left out with the reason
 */
export function toFlagd(state: {
  readonly flags: readonly FlagRecord[];
  readonly segments: readonly SegmentRecord[];
}): FlagdExport {
  const flags: Record<string, FlagdFlag> = {};
  const skipped: { key: string; reason: string }[] = [];
  const used = new Set<string>();
  for (const record of state.flags) {
    const d = record.definition;
    const refs = new Set<string>();
    try {
      const t = targeting(record.key, d.rules ?? [], refs);
      const metadata = metadataOf(record);
      flags[record.key] = {
        state: d.enabled ? 'ENABLED' : 'DISABLED',
        variants: d.variants,
        defaultVariant: d.defaultVariant,
        ...(t !== undefined ? { targeting: t } : {}),
        ...(metadata ? { metadata } : {}),
      };
      for (const r of refs) used.add(r);
    } catch (err) {
      if (!(err instanceof UnsupportedTargetingError)) throw err;
      skipped.push({ key: record.key, reason: err.message });
    }
  }
  const evaluators: Record<string, Logic> = {};
  for (const s of state.segments) {
    if (!used.has(s.name)) continue;
    try {
      evaluators[s.name] = logic(s.definition.when, `segments.${s.name}.when`, new Set());
    } catch (err) {
      if (!(err instanceof UnsupportedTargetingError)) throw err;
      for (const [key, f] of Object.entries(flags)) {
        if (JSON.stringify(f.targeting ?? null).includes(`{"$ref":${JSON.stringify(s.name)}}`)) {
          delete flags[key];
          skipped.push({ key, reason: `uses segment ${s.name}: ${err.message}` });
        }
      }
    }
  }
  return {
    document: {
      $schema: FLAGD_SCHEMA,
      flags,
      ...(Object.keys(evaluators).length > 0 ? { $evaluators: evaluators } : {}),
    },
    skipped,
  };
}
