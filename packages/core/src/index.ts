// @raftline/core: the pure Raft protocol, its configuration and errors.

// errors
export { RaftlineError, ConfigError, NotLeaderError } from './errors';

// protocol
export { RaftProtocol } from './protocol/raft';
export { defaultConfig, validateConfig, configProblems } from './protocol/config';
export { seededRandom } from './protocol/random';
export { NONE, MESSAGE_TYPES } from './protocol/types';
export type { ProtocolOptions, Proposed } from './protocol/raft';
export type { ProtocolConfig } from './protocol/config';
export type { RandomSource } from './protocol/random';
export type {
  AppendRequest,
  AppendResponse,
  Entry,
  EntryType,
  FollowerProgress,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  Message,
  MessageType,
  NodeId,
  ProtocolStatus,
  Ready,
  Role,
  SoftState,
  VoteRequest,
  VoteResponse,
} from './protocol/types';
