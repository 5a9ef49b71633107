/**
 * Raftline's Transport port over NATS (nats.js v3).
 *
 * @module @raftline/transport-nats
 */

export { NatsTransport } from './transport';
export { NatsRaftClient, serveClients, DEFAULT_CLIENT_OPTIONS, CLIENT_SERVER_LIMITS } from './client';
export { MachineClient, connectClient } from './typed-client';
// Raised by the client and by replicas alike; defined in core.
export { PayloadTooLargeError } from '@raftline/core';
export { JetStreamMirror, mirrorCommitted } from './mirror';
export {
  COMMITTED_HEADERS,
  decodeCommittedRecord,
  decodeCommittedPosition,
  encodeCommittedRecord,
} from './committed';
export { readCommitted } from './committed-reader';
export {
  registerReplicaService,
  discoverReplicas,
  REPLICA_SERVICE_NAME,
  REPLICA_SERVICE_VERSION,
  REPLICA_ENDPOINTS,
} from './service';
export { serveAdmin } from './admin-server';
export { AdminClient } from './admin-client';
export { ADMIN_OPERATIONS, MAX_ADMIN_TIMEOUT_MS } from './admin-wire';
export {
  AdminError,
  AdminPermissionError,
  AdminUnavailableError,
  AdminTimeoutError,
  AdminRefusedError,
  AdminRequestError,
  RemoteAdminError,
} from './admin-errors';
export { connectNats, DEFAULT_CONNECTION_OPTIONS } from './connection';
export { credsFileOptions } from './credentials';
export {
  groupSubjects,
  checkToken,
  committedStreamName,
  SUBJECT_ROOT,
  CLIENT_QUEUE,
  ADMIN_QUEUE,
} from './subjects';
export { FrameCodec, PROTOCOL_VERSION, MAC_BYTES } from './frame';
export { DROP_REASONS } from './drops';
export {
  SubjectTokenError,
  TransportStateError,
  RemoteCommandError,
  OutcomeUnknownError,
  LeaderUnavailableError,
  CommittedStreamError,
  DuplicateNodeError,
} from './errors';

export type { NatsTransportOptions, NatsTransportStats, SendDropReason } from './transport';
export type { GroupSubjects } from './subjects';
export type { LiveInstance } from './errors';
export type {
  NatsRaftClientOptions,
  ClientServer,
  ClientServerOptions,
  ProposingNode,
  ServedNode,
  CommandReceipt,
  QueryReceipt,
  SubmitOptions,
  QuerySendOptions,
} from './client';
export type {
  MachineClientOptions,
  CommandCallOptions,
  QueryCallOptions,
  SessionInfo,
  ArgsOf,
  ResultOf,
} from './typed-client';
export type { MirrorOptions, MirrorSource, MirrorStatus } from './mirror';
export type { CommittedRecord, RecordOutcome } from './committed';
export type { ReadCommittedOptions, CommittedMessage } from './committed-reader';
export type {
  ReplicaServiceOptions,
  ReplicaService,
  ReplicaStats,
  StatusSource,
  DiscoveredReplica,
} from './service';
export type {
  AdminServerOptions,
  AdminServer,
  AdminNode,
  MembershipOutcome,
  TransferOutcome,
} from './admin-server';
export type { AdminClientOptions, AdminCallOptions, SnapshotOutcome } from './admin-client';
export type { GroupStatus, ReplicaReport } from './admin-group';
export type { ReplicaStatus, AdminMembers, FollowerLag, ReplicaDrops } from './admin-status';
export type { VerifyReport, DigestAnswer } from './admin-verify';
export type { AdminOperation, AdminRequests } from './admin-wire';
export type {
  NatsConnection,
  NodeConnectionOptions,
  ConnectionOptions,
  Msg,
  Subscription,
  JetStreamOptions,
  StreamConfig,
} from './nats';
export type { Frame, FrameHeader, RaftFrame, ChunkFrame, FrameCodecOptions } from './frame';
export type { DropReason } from './drops';
