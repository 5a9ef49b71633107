/**
 * Scaffolds a raftline project (`npm create raftline@latest my-service`).
 *
 * @module create-raftline
 */

export { scaffold, packageNameProblem, ownVersion, ScaffoldError, TOOL_RANGES } from './scaffold';
export type { ScaffoldOptions, ScaffoldResult } from './scaffold';
export { projectFiles } from './templates';
export type { TemplateValues } from './templates';
export { parseArgs, run } from './main';
export type { Parsed, Output } from './main';
