/**
 * An OpenFeature server provider on the
 * flag client. A subpath of its own, so that an application without
 * `@openfeature/server-sdk` (an optional peer dependency) never loads it.
 *
 * @module @raftline/feature-flags/openfeature
 */

export { RaftlineProvider } from './provider';
export type { RaftlineProviderOptions } from './provider';
