import type { NodeId, VerifyResult } from '@raftline/core';

/** One replica's answer to the digest operation: its digest at the marker, or why it has none. */
export type DigestAnswer =
  { readonly node: NodeId; readonly digest: string } | { readonly node: NodeId; readonly reason: string };

/** What AdminClient.verify() reports. */
export interface VerifyReport {
  /** The verification marker's log index: every digest is of the state there. */
  readonly index: number;
  /** The leader that proposed the marker. */
  readonly leaderId: NodeId;
  /**
   * The digest most replicas hold at index (on a tie, the leader's): the
   * reference the others are compared with.
   */
  readonly digest: string;
  /** True when every replica asked gave a digest, and all are equal. */
  readonly agree: boolean;
  /** Replicas whose digest differs from `digest`: their state differs there. */
  readonly disagreeing: readonly NodeId[];
  /**
   * Replicas that gave no digest (unreachable, not applied that far in time,
   * restored a snapshot past the marker, stopped applying): not compared.
   */
  readonly missing: readonly NodeId[];
  /** Each replica asked, sorted by id: its digest and whether it matches `digest`, or why it has none. */
  readonly replicas: readonly (
    | { readonly node: NodeId; readonly digest: string; readonly matches: boolean }
    | { readonly node: NodeId; readonly reason: string }
  )[];
}

/**
 * Compares the replicas' digests at one marker.
 * @returns the report: the reference digest is the most common one, the leader's on a tie
 */
export function verifyReport(
  result: VerifyResult,
  leaderId: NodeId,
  answers: readonly DigestAnswer[],
): VerifyReport {
  const counts = new Map<string, number>();
  for (const a of answers) if ('digest' in a) counts.set(a.digest, (counts.get(a.digest) ?? 0) + 1);
  counts.set(result.digest, counts.get(result.digest) ?? 0); // the leader's, even when it did not answer
  let digest = result.digest;
  for (const [d, n] of counts) if (n > counts.get(digest)!) digest = d;
  const replicas = answers.map((a) => ('digest' in a ? { ...a, matches: a.digest === digest } : a));
  const disagreeing = replicas.flatMap((r) => ('matches' in r && !r.matches ? [r.node] : []));
  const missing = replicas.flatMap((r) => ('reason' in r ? [r.node] : []));
  return {
    index: result.index,
    leaderId,
    digest,
    agree: disagreeing.length === 0 && missing.length === 0,
    disagreeing,
    missing,
    replicas,
  };
}
