/**
 * A Dockerfile read into its stages and instructions (line continuations
 * joined, comments and parser directives dropped), for checks without a
 * Docker engine.
 */

export interface Instruction {
  /** Upper-case: FROM, RUN, COPY, USER, … */
  readonly keyword: string;
  readonly args: string;
  /** 1-based line of the instruction's first line. */
  readonly line: number;
}

export interface Stage {
  /** The `AS` name, if any. */
  readonly name?: string;
  /** The base image, as written (ARGs not substituted). */
  readonly from: string;
  readonly index: number;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: Readonly<Record<string, string | undefined>>;
  readonly stages: readonly Stage[];
}

/** A Dockerfile this reader refuses: an instruction before FROM (other than ARG), a FROM without an image. */
export class DockerfileSyntaxError extends Error {
  override readonly name = 'DockerfileSyntaxError';
}

/**
 * Parses a Dockerfile's text.
 * @returns its global ARGs and its stages in order
 * @throws DockerfileSyntaxError
 */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  let pending: { text: string; line: number } | undefined;
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const trimmed = raw.trim();
    if (!pending && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (pending && trimmed.startsWith('#')) continue; // comments inside a continued instruction
    const continued = /\\\s*$/.test(raw);
    const piece = continued ? raw.replace(/\\\s*$/, '') : raw;
    pending = pending
      ? { text: `${pending.text} ${piece.trim()}`, line: pending.line }
      : { text: piece.trim(), line: n + 1 };
    if (!continued) {
      const m = /^(\S+)\s*(.*)$/s.exec(pending.text)!;
      instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: pending.line });
      pending = undefined;
    }
  }
  const globalArgs: Record<string, string | undefined> = {};
  const stages: { name?: string; from: string; index: number; instructions: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new DockerfileSyntaxError(`line ${ins.line}: FROM needs an image: FROM ${ins.args}`);
      stages.push({ from: m[1]!, ...(m[2] ? { name: m[2] } : {}), index: stages.length, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') {
        throw new DockerfileSyntaxError(`line ${ins.line}: ${ins.keyword} before the first FROM`);
      }
      const [name = '', value] = ins.args.split('=', 2);
      globalArgs[name] = value;
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** The `--from=` of a COPY, if any. */
export function copyFrom(ins: Instruction): string | undefined {
  return /(?:^|\s)--from=(\S+)/.exec(ins.args)?.[1];
}

/** A COPY's sources (relative to the build context, or to the `--from` stage), flags removed. */
export function copySources(ins: Instruction): string[] {
  const words = ins.args.startsWith('[')
    ? (JSON.parse(ins.args) as string[])
    : ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
  return words.slice(0, -1);
}
