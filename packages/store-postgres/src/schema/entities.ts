import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The store's tables as TypeORM entities. They are the schema's description;
 * the migration in migrations.ts creates exactly these tables (a test checks
 * that TypeORM finds nothing to change), and the hot path reads and writes
 * them with plain SQL (sql.ts). bigint columns are strings here, as pg returns
 * them; log indexes stay far below 2^53.
 */

/** One Raft log entry of one node in one group. */
@Entity({ name: 'log_entry' })
export class LogEntryRow {
  @PrimaryColumn({ name: 'group_id', type: 'text', primaryKeyConstraintName: 'log_entry_pkey' })
  groupId!: string;

  @PrimaryColumn({ name: 'node_id', type: 'text', primaryKeyConstraintName: 'log_entry_pkey' })
  nodeId!: string;

  @PrimaryColumn({ name: 'idx', type: 'bigint', primaryKeyConstraintName: 'log_entry_pkey' })
  index!: string;

  @Column({ name: 'term', type: 'bigint' })
  term!: string;

  /** 0 = normal, 1 = noop (ENTRY_TYPES in sql.ts). */
  @Column({ name: 'type', type: 'smallint' })
  type!: number;

  @Column({ name: 'payload', type: 'bytea' })
  payload!: Uint8Array;
}

/** Where a node's log starts after compaction (absent: it starts at 1). */
@Entity({ name: 'log_bounds' })
export class LogBoundsRow {
  @PrimaryColumn({ name: 'group_id', type: 'text', primaryKeyConstraintName: 'log_bounds_pkey' })
  groupId!: string;

  @PrimaryColumn({ name: 'node_id', type: 'text', primaryKeyConstraintName: 'log_bounds_pkey' })
  nodeId!: string;

  @Column({ name: 'first_index', type: 'bigint' })
  firstIndex!: string;
}

/** A node's Raft hard state. */
@Entity({ name: 'hard_state' })
export class HardStateRow {
  @PrimaryColumn({ name: 'group_id', type: 'text', primaryKeyConstraintName: 'hard_state_pkey' })
  groupId!: string;

  @PrimaryColumn({ name: 'node_id', type: 'text', primaryKeyConstraintName: 'hard_state_pkey' })
  nodeId!: string;

  @Column({ name: 'term', type: 'bigint' })
  term!: string;

  @Column({ name: 'vote', type: 'text' })
  vote!: string;

  @Column({ name: 'commit_index', type: 'bigint' })
  commitIndex!: string;
}

/**
 * One snapshot write of a node. Its chunks become visible when `committed`
 * flips to true; each write has its own id, so a new snapshot of the same
 * index never touches the chunks of the committed one.
 */
@Entity({ name: 'snapshot' })
@Index('snapshot_owner_idx', ['groupId', 'nodeId', 'committed'])
export class SnapshotRow {
  @PrimaryGeneratedColumn('identity', {
    name: 'id',
    type: 'bigint',
    generatedIdentity: 'ALWAYS',
    primaryKeyConstraintName: 'snapshot_pkey',
  })
  id!: string;

  @Column({ name: 'group_id', type: 'text' })
  groupId!: string;

  @Column({ name: 'node_id', type: 'text' })
  nodeId!: string;

  @Column({ name: 'snapshot_index', type: 'bigint' })
  snapshotIndex!: string;

  @Column({ name: 'term', type: 'bigint' })
  term!: string;

  @Column({ name: 'size', type: 'bigint' })
  size!: string;

  @Column({ name: 'voters', type: 'text', array: true })
  voters!: string[];

  /** Set by commit; a reader checks it found every chunk. */
  @Column({ name: 'chunk_count', type: 'integer', default: 0 })
  chunkCount!: number;

  @Column({ name: 'committed', type: 'boolean', default: false })
  committed!: boolean;
}

/** One chunk of a snapshot, in write order. */
@Entity({ name: 'snapshot_chunk' })
export class SnapshotChunkRow {
  @PrimaryColumn({ name: 'snapshot_id', type: 'bigint', primaryKeyConstraintName: 'snapshot_chunk_pkey' })
  snapshotId!: string;

  @PrimaryColumn({ name: 'chunk_no', type: 'integer', primaryKeyConstraintName: 'snapshot_chunk_pkey' })
  chunkNo!: number;

  @Column({ name: 'data', type: 'bytea' })
  data!: Uint8Array;

  @ManyToOne(() => SnapshotRow, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'snapshot_id', foreignKeyConstraintName: 'snapshot_chunk_snapshot_fkey' })
  snapshot?: SnapshotRow;
}

/**
 * Who has a node's stores open (node-lock.ts). The row is written only under
 * the node's advisory lock; `epoch` grows by one each time a process takes the
 * lock, so a holder that lost its lock connection can tell, on taking it
 * back, whether anyone else held it meanwhile.
 */
@Entity({ name: 'node_lock' })
export class NodeLockRow {
  @PrimaryColumn({ name: 'group_id', type: 'text', primaryKeyConstraintName: 'node_lock_pkey' })
  groupId!: string;

  @PrimaryColumn({ name: 'node_id', type: 'text', primaryKeyConstraintName: 'node_lock_pkey' })
  nodeId!: string;

  @Column({ name: 'epoch', type: 'bigint' })
  epoch!: string;

  /** `pid <pid> on <host>`, for the error a second process gets. */
  @Column({ name: 'holder', type: 'text' })
  holder!: string;

  @Column({ name: 'acquired_at', type: 'timestamptz' })
  acquiredAt!: Date;
}

/** Every entity of the store, for a DataSource. */
export const storeEntities = [
  LogEntryRow,
  LogBoundsRow,
  HardStateRow,
  SnapshotRow,
  SnapshotChunkRow,
  NodeLockRow,
];
