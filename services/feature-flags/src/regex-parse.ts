/**
 * The parser of the bounded regular-expression dialect (see regex.ts for
 * the dialect): pattern text to a tree of character tests, sequences,
 * alternations, repetitions and anchors. With the i flag, case is folded
 * here, in each character test.
 */
import { UnsupportedPatternError } from './errors';
import { LIMITS } from './limits';

/** A test of one code point. */
export type CharTest = (cp: number) => boolean;

/** A parsed pattern. */
export type Node =
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
export class Parser {
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
