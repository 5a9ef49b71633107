import type { AppendRequest, Heartbeat, Message, VoteRequest } from '@raftline/core';

/** A heartbeat from → to at term. */
export function heartbeat(from: string, to: string, term = 1, commit = 0): Heartbeat {
  return { type: 'heartbeat', from, to, term, commit, context: '', sentAt: 0 };
}

/** A vote request from → to at term. */
export function vote(from: string, to: string, term = 2): VoteRequest {
  return { type: 'vote', from, to, term, lastIndex: 7, lastTerm: 1, transfer: false };
}

/** An append carrying `count` entries of `size` bytes each, with recognisable payloads. */
export function append(from: string, to: string, count = 3, size = 8, term = 1): AppendRequest {
  const entries = Array.from({ length: count }, (_, i) => {
    const data = new Uint8Array(size);
    for (let b = 0; b < size; b++) data[b] = (i * 31 + b) & 0xff;
    return { index: i + 1, term, type: i === 0 ? ('noop' as const) : ('normal' as const), data };
  });
  return { type: 'append', from, to, term, prevIndex: 0, prevTerm: 0, commit: 0, entries };
}

/** One message of every type, from → to. */
export function everyType(from: string, to: string): Message[] {
  const base = { from, to, term: 3 };
  return [
    { ...base, type: 'vote', lastIndex: 4, lastTerm: 2, transfer: true },
    { ...base, type: 'pre-vote', lastIndex: 4, lastTerm: 2, transfer: false },
    { ...base, type: 'vote-resp', reject: false },
    { ...base, type: 'pre-vote-resp', reject: true },
    append(from, to, 2, 4, 3),
    { ...base, type: 'append-resp', reject: true, index: 5, hintIndex: 3, hintTerm: 2 },
    { ...base, type: 'heartbeat', commit: 2, context: 'r7', sentAt: 41 },
    { ...base, type: 'heartbeat-resp', context: 'r7', sentAt: 41 },
    { ...base, type: 'timeout-now' },
    { ...base, type: 'read-index', context: 'r8', lease: true },
    { ...base, type: 'read-index-resp', context: 'r8', index: 12, reject: false },
    {
      ...base,
      type: 'snapshot',
      snapshot: { index: 40, term: 2, membership: { voters: [from, to], outgoing: [], learners: ['l1'] } },
    },
    {
      ...base,
      type: 'snapshot-chunk',
      snapshot: { index: 40, term: 2, membership: { voters: [from, to], outgoing: [], learners: ['l1'] } },
      offset: 4096,
      data: new Uint8Array([1, 2, 3, 250]),
      last: true,
      checksum: 0xdeadbeef,
    },
    { ...base, type: 'snapshot-chunk-resp', index: 40, offset: 4100, reject: false },
  ];
}
