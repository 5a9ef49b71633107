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

/** A compiled pattern. */
export interface BoundedRegex {
  readonly source: string;
  readonly flags: '' | 'i';
  /** @returns whether the pattern matches somewhere in input (false for inputs over LIMITS.matchInputLength) */
  test(input: string): boolean;
}

type CharTest = (cp: number) => boolean;

type Node =
  | { readonly kind: 'char'; readonly test: CharTest }
  | { readonly kind: 'seq'; readonly items: readonly Node[] }
  | { readonly kind: 'alt'; readonly items: readonly Node[] }
  | { readonly kind: 'repeat'; readonly node: Node; readonly min: number; readonly max: number }
  | { readonly kind: 'bol' }
  | { readonly kind: 'eol' };

const SYNTAX = new Set('^$\\.*+?()[]{}|/');
const LINE_TERMINATORS = new Set([0x0a, 0x0d, 0x2028, 0x2029]);
const SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
]);

const isDigit: CharTest = (c) => c >= 0x30 && c <= 0x39;
const isWord: CharTest = (c) =>
  isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const isSpace: CharTest = (c) => SPACE.has(c) || (c >= 0x2000 && c <= 0x200a);
const anyButNewline: CharTest = (c) => !LINE_TERMINATORS.has(c);

/** Parses the dialect into a tree; positions are code-unit offsets into the source. */
class Parser {
  private pos = 0;

  constructor(
    private readonly src: string,
    private readonly ignoreCase: boolean,
  ) {}

  /** test, or with the i flag: test of the code point or of its lower- or upper-case form. */
  private ci(test: CharTest): CharTest {
    return this.ignoreCase ? caseless(test) : test;
  }

  parse(): Node {
    const node = this.alternation();
    if (this.pos < this.src.length)
      this.fail(this.src[this.pos] === ')' ? 'unmatched )' : 'unexpected character');
    return node;
  }

  private fail(problem: string, at = this.pos): never {
    throw new UnsupportedPatternError(this.src, at, problem);
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  private alternation(): Node {
    const items = [this.sequence()];
    while (this.peek() === '|') {
      this.pos++;
      items.push(this.sequence());
    }
    return items.length === 1 ? items[0]! : { kind: 'alt', items };
  }

  private sequence(): Node {
    const items: Node[] = [];
    for (let c = this.peek(); c !== undefined && c !== '|' && c !== ')'; c = this.peek()) {
      items.push(this.quantified(this.atom()));
    }
    return items.length === 1 ? items[0]! : { kind: 'seq', items };
  }

  private quantified(atom: Node): Node {
    const at = this.pos;
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') [min, max] = this.braces();
    else return atom;
    if (c !== '{') this.pos++;
    if (this.peek() === '?') this.pos++; // lazy: the same language
    const next = this.peek();
    if (next === '*' || next === '+' || next === '?' || next === '{') this.fail('nothing to repeat');
    if (atom.kind === 'bol' || atom.kind === 'eol') this.fail('an anchor cannot be repeated', at);
    return { kind: 'repeat', node: atom, min, max };
  }

  /** Reads `{n}`, `{n,}` or `{n,m}` at pos. */
  private braces(): [number, number] {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos, this.pos + 32));
    if (!m) this.fail('a lone { (escape it as \\{)');
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    if (min > LIMITS.repeatBound || (max !== Infinity && max > LIMITS.repeatBound))
      this.fail(`a repetition bound above ${LIMITS.repeatBound}`);
    if (max < min) this.fail('numbers out of order in {} quantifier');
    this.pos += m[0].length;
    return [min, max];
  }

  private atom(): Node {
    const at = this.pos;
    const c = this.peek()!;
    switch (c) {
      case '(':
        return this.group();
      case '[':
        return this.charClass();
      case '.':
        this.pos++;
        return { kind: 'char', test: this.ci(anyButNewline) };
      case '^':
        this.pos++;
        return { kind: 'bol' };
      case '$':
        this.pos++;
        return { kind: 'eol' };
      case '\\':
        return { kind: 'char', test: this.ci(this.escape(false)) };
      case '*':
      case '+':
      case '?':
        return this.fail('nothing to repeat', at);
      case '{':
      case '}':
      case ']':
        return this.fail(`a lone ${c} (escape it as \\${c})`, at);
      default: {
        const cp = this.src.codePointAt(this.pos)!;
        this.pos += cp > 0xffff ? 2 : 1;
        return { kind: 'char', test: this.ci((x) => x === cp) };
      }
    }
  }

  private group(): Node {
    const at = this.pos;
    this.pos++;
    if (this.peek() === '?') {
      if (this.peek(1) !== ':') {
        const what =
          this.peek(1) === '=' || this.peek(1) === '!'
            ? 'lookahead'
            : this.peek(1) === '<' && (this.peek(2) === '=' || this.peek(2) === '!')
              ? 'lookbehind'
              : this.peek(1) === '<'
                ? 'named groups (use (?:…))'
                : 'this group syntax';
        this.fail(`${what} is not supported`, at);
      }
      this.pos += 2;
    }
    const inner = this.alternation();
    if (this.peek() !== ')') this.fail('unterminated group', at);
    this.pos++;
    // A group may be repeated even when it holds only an anchor, as in RegExp: (?:$)* is valid.
    return inner.kind === 'bol' || inner.kind === 'eol' ? { kind: 'seq', items: [inner] } : inner;
  }

  private charClass(): Node {
    const at = this.pos;
    this.pos++;
    const negated = this.peek() === '^';
    if (negated) this.pos++;
    const tests: CharTest[] = [];
    const ranges: [number, number][] = [];
    while (this.peek() !== ']') {
      if (this.peek() === undefined) this.fail('unterminated character class', at);
      const start = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        const dash = this.pos;
        this.pos++;
        const end = this.classAtom();
        if (typeof start !== 'number' || typeof end !== 'number')
          this.fail('a class escape cannot bound a range', dash);
        if (end < start) this.fail('range out of order in character class', dash);
        ranges.push([start, end]);
      } else if (typeof start === 'number') ranges.push([start, start]);
      else tests.push(start);
    }
    this.pos++;
    // Case is ignored before the class is inverted, as RegExp does: /[^a]/iu does not match 'A'.
    const inClass = this.ci((cp) => {
      for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true;
      for (const t of tests) if (t(cp)) return true;
      return false;
    });
    return { kind: 'char', test: negated ? (cp) => !inClass(cp) : inClass };
  }

  /** One member of a class: a code point, or a class escape's test. */
  private classAtom(): number | CharTest {
    if (this.peek() !== '\\') {
      const cp = this.src.codePointAt(this.pos)!;
      this.pos += cp > 0xffff ? 2 : 1;
      return cp;
    }
    const at = this.pos;
    if (this.peek(1) === '-') {
      this.pos += 2;
      return 0x2d;
    }
    if (this.peek(1) === 'b') this.fail('\\b in a class (backspace) is not supported', at);
    const test = this.escape(true);
    return (test as CharTest & { cp?: number }).cp ?? test;
  }

  /** Reads an escape at pos (the backslash); single code points carry their `cp` on the test. */
  private escape(inClass: boolean): CharTest {
    const at = this.pos;
    const c = this.peek(1);
    if (c === undefined) this.fail('\\ at end of pattern', at);
    this.pos += 2;
    const single = (cp: number): CharTest => Object.assign((x: number) => x === cp, { cp });
    switch (c) {
      case 'd':
        return isDigit;
      case 'D':
        return (x) => !isDigit(x);
      case 'w':
        return isWord;
      case 'W':
        return (x) => !isWord(x);
      case 's':
        return isSpace;
      case 'S':
        return (x) => !isSpace(x);
      case 't':
        return single(0x09);
      case 'n':
        return single(0x0a);
      case 'r':
        return single(0x0d);
      case 'f':
        return single(0x0c);
      case 'v':
        return single(0x0b);
      case '0':
        if (isDigit(this.src.charCodeAt(this.pos))) this.fail('octal escapes are not supported', at);
        return single(0);
      case 'x': {
        const hex = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.pos, this.pos + 2));
        if (!hex) this.fail('\\x needs two hex digits', at);
        this.pos += 2;
        return single(parseInt(hex[0], 16));
      }
      case 'u':
        return single(this.unicodeEscape(at));
      case 'b':
      case 'B':
        return this.fail(`word boundaries (\\${c}) are not supported`, at);
      case 'k':
        return this.fail('backreferences (\\k<name>) are not supported', at);
      case 'p':
      case 'P':
        return this.fail(`Unicode property escapes (\\${c}{…}) are not supported`, at);
      default:
        if (c >= '1' && c <= '9') this.fail(`backreferences (\\${c}) are not supported`, at);
        if (SYNTAX.has(c) || (inClass && c === '-')) return single(c.charCodeAt(0));
        return this.fail(`unknown escape \\${c}`, at);
    }
  }

  private unicodeEscape(at: number): number {
    const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(this.src.slice(this.pos, this.pos + 8));
    if (braced) {
      const cp = parseInt(braced[1]!, 16);
      if (cp > 0x10ffff) this.fail('code point above U+10FFFF', at);
      this.pos += braced[0].length;
      return cp;
    }
    const hex = /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.pos, this.pos + 4));
    if (!hex) this.fail('\\u needs four hex digits or {…}', at);
    this.pos += 4;
    const hi = parseInt(hex[0], 16);
    // A surrogate pair written as two escapes is one code point, as in u mode.
    const low = /^\\u(d[c-f][0-9a-f]{2})/i.exec(this.src.slice(this.pos, this.pos + 6));
    if (hi >= 0xd800 && hi <= 0xdbff && low) {
      this.pos += 6;
      return 0x10000 + ((hi - 0xd800) << 10) + (parseInt(low[1]!, 16) - 0xdc00);
    }
    return hi;
  }
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

function caseless(test: CharTest): CharTest {
  return (cp) => {
    if (test(cp)) return true;
    const ch = String.fromCodePoint(cp);
    const lower = ch.toLowerCase();
    const upper = ch.toUpperCase();
    return (
      (lower.length <= 2 && test(lower.codePointAt(0)!)) || (upper.length <= 2 && test(upper.codePointAt(0)!))
    );
  };
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
