/** The per-service commands: `raftline queue …`, `raftline flags …`, `raftline coord …`. */
import type { Command } from 'commander';
import { coordCommands } from './coord';
import { flagsCommands } from './flags';
import { queueCommands } from './queue';

/** Adds the task-queue, feature-flags and coordinator commands to the program. */
export function serviceCommands(root: Command): void {
  queueCommands(root);
  flagsCommands(root);
  coordCommands(root);
}
