/**
 * The Raft protocol, the RaftNode runtime, the ports (with in-memory
 * implementations for tests) and the replicated state-machine API.
 *
 * @module @raftline/core
 */

// errors
export {
  RaftlineError,
  ConfigError,
  NotLeaderError,
  LeadershipLostError,
  LeadershipTransferError,
  ReadNotConfirmedError,
  MembershipChangeError,
  ProposalTimeoutError,
  NodeStoppedError,
  StateLostError,
  OverloadedError,
  CommandRejectedError,
  PayloadTooLargeError,
  CommandFailedError,
  UnknownCommandError,
  DuplicateHandlerError,
  MissingHandlerError,
  SessionExpiredError,
  CompactedError,
  OutcomeUnavailableError,
  LogGapError,
  SnapshotNotFoundError,
  DecodeError,
  DivergedError,
  ApplyTimeoutError,
} from './errors';

// option checking
export { checkKnownKeys, unknownKeyProblems } from './known-keys';
export type { KnownKeys } from './known-keys';

// codec and logging
export { pack, unpack } from './codec';
export { silentLogger } from './logger';
export type { Logger } from './logger';

// ports
export { systemClock } from './ports/clock';
export { MemoryLogStore, MemoryStableStore, MemorySnapshotStore, MemoryNetwork } from './ports/memory';
export type { Clock, Cancel } from './ports/clock';
export type { LogStore } from './ports/log-store';
export type { StableStore } from './ports/stable-store';
export { stepStoreOf } from './ports/step-store';
export type { StepStore } from './ports/step-store';
export type { SnapshotStore, SnapshotWriter, SnapshotMeta } from './ports/snapshot-store';
export type { Transport } from './ports/transport';

// node
export { RaftNode } from './node/raft-node';
export { defaultNodeConfig, resolveNodeConfig, DIVERGENCE_ACTIONS } from './node/config';
export { DIGEST_HISTORY } from './node/verification';
export { DELAY_BOUND_FROM } from './node/proposals';
export { encodeCommand, decodeCommand } from './node/command';
export type {
  RaftNodeOptions,
  ProposeOptions,
  NodeStatus,
  ReadConsistency,
  QueryOptions,
  QueryResult,
} from './node/raft-node';
export type { NodeConfig, DivergenceAction } from './node/config';
export type { ProposalLoad } from './node/status';
export type { Divergence, VerificationStatus, VerifyResult, DigestAtOptions } from './node/verification';
export type { CommandRequest, CommandEnvelope, ClientSession } from './node/command';
export type { Applier, ApplyContext, ApplyResult } from './node/applier';
export type { TickSpec } from './node/ticks';
export { OUTCOME_FILTERS } from './node/committed-feed';
export type {
  CommittedEvent,
  CommittedOptions,
  CommandOutcome,
  OutcomeKind,
  OutcomeError,
  OutcomeFilter,
} from './node/committed-feed';

// protocol
export { RaftProtocol } from './protocol/raft';
export { defaultConfig, validateConfig, configProblems } from './protocol/config';
export { seededRandom } from './protocol/random';
export { NONE, MESSAGE_TYPES, ENTRY_TYPES } from './protocol/types';
export type { ProtocolOptions, Proposed } from './protocol/raft';
export type { Membership, MembershipChange } from './protocol/membership';
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
  ReadState,
  SnapshotInfo,
  SnapshotRequest,
  SnapshotChunk,
  SnapshotChunkResponse,
  ReadIndexRequest,
  ReadIndexResponse,
  TimeoutNow,
  Role,
  SoftState,
  VoteRequest,
  VoteResponse,
} from './protocol/types';

// state-machine
export {
  StateMachine,
  Command,
  Query,
  Validate,
  OnRoleChange,
  OnApplied,
  Tick,
} from './state-machine/decorators';
export { buildDispatchTable } from './state-machine/dispatch';
export { isStandardSchema } from './state-machine/args';
export { ReplicatedStateMachine } from './state-machine/machine';
export { MachineHost, DEFAULT_MACHINE_HOST_OPTIONS } from './state-machine/host';
export { REGISTER_SESSION, isRegisteredSessionId } from './state-machine/sessions';
export { FRAMEWORK_COMMAND_PREFIX } from './node/command';
export { commandProxy, queryProxy } from './state-machine/proxy';
export {
  MACHINE_METRIC_LIMITS,
  MachineMetricsError,
  OTHER_LABEL_VALUE,
  RESERVED_METRIC_LABELS,
  boundedLabel,
  hasMachineMetrics,
  machineMetricProblems,
  readMachineMetrics,
} from './state-machine/metrics';
export type { DispatchTable } from './state-machine/dispatch';
export type { MachineClassDecorator, MachineMethodDecorator, TickOptions } from './state-machine/decorators';
export type {
  ArgsRule,
  ArgsSchema,
  CommandOptions,
  StandardSchemaV1,
  StandardSchemaIssue,
  StandardSchemaResult,
} from './state-machine/args';
export type { MachineHostOptions } from './state-machine/host';
export type { CommandsOf, QueriesOf, QueryRequest } from './state-machine/proxy';
export type {
  MachineMetric,
  MachineMetricSample,
  MachineMetricType,
  MachineMetrics,
} from './state-machine/metrics';

// assembly
// (the inversify wiring, replicaModule and RAFTLINE, is the subpath @raftline/core/inversify)
export { Replica } from './replica';
export type { ReplicaOptions } from './replica';
