/**
 * A bounded regular-expression engine for `matches` conditions: patterns are
 * compiled to a Thompson NFA and matched by simulating every state at once,
 * so a match costs O(input × states) whatever the pattern (no catastrophic
 * backtracking: `(a+)+b` is as cheap as `a+b`). Patterns and inputs are
 * capped (LIMITS.patternLength, patternStates, matchInputLength).
 *
 * The dialect is the part of JavaScript's RegExp (with the `u` flag) that
 * such an engine can match, with the same meaning:
 * - literals, `.` (any code point but \n \r \u2028 \u2029), `^` and `$`
 *   (start and end of the input: no multiline);
 * - classes `[abc]`, `[^a-z]`, `[]`, `[^]`, escapes `\d \D \w \W \s \S`
 *   (inside classes too), `\t \n \r \f \v \0`, `\xHH`, `\uHHHH`, `\u{H…}`,
 *   and escaped syntax characters `\^ \$ \\ \. \* \+ \? \( \) \[ \] \{ \} \| \/`
 *   (and `\-` in a class);
 * - groups `(…)` and `(?:…)` (neither captures: a test has nothing to capture),
 *   alternation `|`;
 * - quantifiers `* + ? {n} {n,} {n,m}` (n, m ≤ LIMITS.repeatBound), greedy or lazy.
 * Refused, with UnsupportedPatternError naming the position: backreferences
 * (`\1`, `\k<name>`), lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`), named groups,
 * word boundaries (`\b`, `\B`), Unicode property escapes (`\p{…}`), and
 * anything JavaScript's `u` mode refuses (a lone `{`, `}` or `]`, an unknown escape).
 *
 * The match is a search (`RegExp.prototype.test`): anywhere in the input
 * unless anchored. With the `i` flag a character matches when it, its
 * lower-case or its upper-case form (String.prototype.toLowerCase /
 * toUpperCase of the code point) matches.
 */
import { UnsupportedPatternError } from './errors';
import { LIMITS } from './limits';
import { Parser, type CharTest, type Node } from './regex-parse';

/** A compiled pattern. */
export interface BoundedRegex {
  readonly source: string;
  readonly flags: '' | 'i';
  /** @returns whether the pattern matches somewhere in input (false for inputs over LIMITS.matchInputLength) */
  test(input: string): boolean;
}

// ---------------------------------------------------------------- NFA

const CHAR = 0;
const SPLIT = 1;
const BOL = 2;
const EOL = 3;
const MATCH = 4;

/** The NFA as parallel arrays: kind, the character test, and up to two successors. */
interface Nfa {
  readonly kind: number[];
  readonly test: (CharTest | undefined)[];
  readonly out: number[];
  readonly out2: number[];
  start: number;
  /** Scratch space of run(), made on first use. */
  buffers?: Buffers;
}

/** Builds the NFA of node (Thompson's construction); `next` is the state after it. */
function build(nfa: Nfa, node: Node, next: number, source: string): number {
  const add = (kind: number, out: number, out2 = -1, test?: CharTest): number => {
    if (nfa.kind.length >= LIMITS.patternStates) {
      throw new UnsupportedPatternError(
        source,
        0,
        `more than ${LIMITS.patternStates} states once repetitions are expanded`,
      );
    }
    nfa.kind.push(kind);
    nfa.out.push(out);
    nfa.out2.push(out2);
    nfa.test.push(test);
    return nfa.kind.length - 1;
  };
  switch (node.kind) {
    case 'char':
      return add(CHAR, next, -1, node.test);
    case 'bol':
      return add(BOL, next);
    case 'eol':
      return add(EOL, next);
    case 'seq': {
      let s = next;
      for (let i = node.items.length - 1; i >= 0; i--) s = build(nfa, node.items[i]!, s, source);
      return s;
    }
    case 'alt': {
      let s = build(nfa, node.items[node.items.length - 1]!, next, source);
      for (let i = node.items.length - 2; i >= 0; i--)
        s = add(SPLIT, build(nfa, node.items[i]!, next, source), s);
      return s;
    }
    case 'repeat': {
      let s = next;
      if (node.max === Infinity) {
        // A loop: split into (node → back to the split) or on.
        const loop = add(SPLIT, -1, next);
        nfa.out[loop] = build(nfa, node.node, loop, source);
        s = loop;
      } else {
        for (let i = node.min; i < node.max; i++) s = add(SPLIT, build(nfa, node.node, s, source), next);
      }
      for (let i = 0; i < node.min; i++) s = build(nfa, node.node, s, source);
      return s;
    }
  }
}

/**
 * Compiles pattern in the bounded dialect.
 * @returns the compiled pattern
 * @throws UnsupportedPatternError naming the position and the problem, for
 *   syntax outside the dialect, a pattern over LIMITS.patternLength
 *   characters or one whose NFA would exceed LIMITS.patternStates
 */
export function compileRegex(pattern: string, flags: '' | 'i' = ''): BoundedRegex {
  if (pattern.length > LIMITS.patternLength)
    throw new UnsupportedPatternError(pattern, 0, `longer than ${LIMITS.patternLength} characters`);
  const tree = new Parser(pattern, flags === 'i').parse();
  const nfa: Nfa = { kind: [], test: [], out: [], out2: [], start: 0 };
  const match = 0;
  nfa.kind.push(MATCH);
  nfa.out.push(-1);
  nfa.out2.push(-1);
  nfa.test.push(undefined);
  nfa.start = build(nfa, tree, match, pattern);
  return { source: pattern, flags, test: (input) => run(nfa, input) };
}

/**
 * Simulates the NFA over input's code points, adding the start state at
 * every position (a search). The buffers are the NFA's own, reused by every
 * call (evaluation is synchronous, so calls never overlap).
 */
function run(nfa: Nfa, input: string): boolean {
  if (input.length > LIMITS.matchInputLength) return false;
  const buffers = (nfa.buffers ??= newBuffers(nfa.kind.length));
  const { mark, stack } = buffers;
  let current = buffers.a;
  let next = buffers.b;
  let currentSize = 0;
  let nextSize = 0;
  const len = input.length;
  // A generation per position: a state is in the list being built iff its mark is the generation.
  if (buffers.generation > 0x3fffffff) {
    mark.fill(0);
    buffers.generation = 0;
  }
  let generation = ++buffers.generation;
  // Adds state s and its epsilon closure at offset pos to list; true on reaching MATCH.
  const addState = (list: Int32Array, size: number, s: number, pos: number): number => {
    let top = 0;
    stack[top++] = s;
    while (top > 0) {
      const t = stack[--top]!;
      if (t < 0 || mark[t] === generation) continue;
      mark[t] = generation;
      switch (nfa.kind[t]) {
        case MATCH:
          return -1;
        case SPLIT:
          stack[top++] = nfa.out2[t]!;
          stack[top++] = nfa.out[t]!;
          break;
        case BOL:
          if (pos === 0) stack[top++] = nfa.out[t]!;
          break;
        case EOL:
          if (pos === len) stack[top++] = nfa.out[t]!;
          break;
        default:
          list[size++] = t;
      }
    }
    return size;
  };
  for (let pos = 0; ;) {
    currentSize = addState(current, currentSize, nfa.start, pos);
    if (currentSize < 0) return true;
    if (pos >= len) return false;
    const cp = input.codePointAt(pos)!;
    const width = cp > 0xffff ? 2 : 1;
    generation = ++buffers.generation;
    nextSize = 0;
    for (let i = 0; i < currentSize; i++) {
      const s = current[i]!;
      if (nfa.test[s]!(cp)) {
        nextSize = addState(next, nextSize, nfa.out[s]!, pos + width);
        if (nextSize < 0) return true;
      }
    }
    pos += width;
    [current, next] = [next, current];
    currentSize = nextSize;
  }
}

interface Buffers {
  readonly mark: Int32Array;
  /** A state enters the stack at most once per closure, through at most two edges of each state. */
  readonly stack: Int32Array;
  readonly a: Int32Array;
  readonly b: Int32Array;
  generation: number;
}

function newBuffers(states: number): Buffers {
  return {
    mark: new Int32Array(states),
    stack: new Int32Array(2 * states + 1),
    a: new Int32Array(states),
    b: new Int32Array(states),
    generation: 0,
  };
}
