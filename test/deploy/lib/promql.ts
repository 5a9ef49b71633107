/**
 * The metric names a PromQL expression reads: enough of PromQL's lexer to
 * tell a metric name from a function, an aggregation, a keyword, a label
 * name or a string, for the expressions of a dashboard.
 */

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

/** An expression this lexer cannot read (an unclosed brace, bracket or string). */
export class PromQlSyntaxError extends Error {
  override readonly name = 'PromQlSyntaxError';
}

/**
 * Lists the metric names an expression selects, each once, in order of appearance.
 * @throws PromQlSyntaxError for an unclosed string, `{` or `[`
 */
export function metricNamesIn(expr: string): string[] {
  const names: string[] = [];
  let i = 0;
  // After `by`/`without`/`on`/`ignoring`/`group_left`/`group_right`, a parenthesized label list.
  let labelList = false;
  const skipTo = (close: string, from: number): number => {
    let at = from;
    while (at < expr.length && expr[at] !== close) {
      const c = expr[at]!;
      if (c === '"' || c === "'" || c === '`') at = skipString(at);
      else at++;
    }
    if (at >= expr.length) throw new PromQlSyntaxError(`unclosed ${close === '}' ? '{' : '['} in ${expr}`);
    return at + 1;
  };
  const skipString = (from: number): number => {
    const quote = expr[from]!;
    let at = from + 1;
    while (at < expr.length && expr[at] !== quote) at += expr[at] === '\\' && quote !== '`' ? 2 : 1;
    if (at >= expr.length) throw new PromQlSyntaxError(`unclosed string in ${expr}`);
    return at + 1;
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(i);
    } else if (c === '{') {
      i = skipTo('}', i + 1); // label matchers: names and values, no metrics
    } else if (c === '[') {
      i = skipTo(']', i + 1); // a range or subquery: durations
    } else if (c === '(' && labelList) {
      i = skipTo(')', i + 1);
      labelList = false;
    } else if (/[A-Za-z_:]/.test(c)) {
      const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i))!;
      const word = m[0];
      i += word.length;
      const rest = expr.slice(i).trimStart();
      if (KEYWORDS.has(word)) {
        labelList = word !== 'bool' && word !== 'offset' && !['and', 'or', 'unless'].includes(word);
      } else if (AGGREGATIONS.has(word) || rest.startsWith('(')) {
        // a function or an aggregation
      } else if (!names.includes(word)) {
        names.push(word);
      }
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.]+(?:e[+-]?[0-9]+)?[a-z]*/i.exec(expr.slice(i))!;
      i += m[0].length; // a number or a duration (5m, 1h30m)
    } else {
      i++;
    }
  }
  return names;
}

/** A histogram's series names carry a suffix: the metric they belong to, and the suffix. */
export function splitHistogramSeries(
  name: string,
): { metric: string; suffix: '_bucket' | '_sum' | '_count' } | undefined {
  const m = /^(.*)(_bucket|_sum|_count)$/.exec(name);
  return m ? { metric: m[1]!, suffix: m[2] as '_bucket' | '_sum' | '_count' } : undefined;
}
