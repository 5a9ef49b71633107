import type { AppendRequest, Heartbeat, Message, VoteRequest } from '@raftline/core';

/** A heartbeat from → to at term. */
export function heartbeat(from: string, to: string, term = 1, commit = 0): Heartbeat {
  return { type: 'heartbeat', from, to, term, commit };
}

/** A vote request from → to at term. */
export function vote(from: string, to: string, term = 2): VoteRequest {
  return { type: 'vote', from, to, term, lastIndex: 7, lastTerm: 1 };
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
    { ...base, type: 'vote', lastIndex: 4, lastTerm: 2 },
    { ...base, type: 'pre-vote', lastIndex: 4, lastTerm: 2 },
    { ...base, type: 'vote-resp', reject: false },
    { ...base, type: 'pre-vote-resp', reject: true },
    append(from, to, 2, 4, 3),
    { ...base, type: 'append-resp', reject: true, index: 5, hintIndex: 3, hintTerm: 2 },
    { ...base, type: 'heartbeat', commit: 2 },
    { ...base, type: 'heartbeat-resp' },
  ];
}
