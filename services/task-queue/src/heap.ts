/**
 * A binary min-heap of distinct numeric ids, each with a numeric key,
 * ordered by (key, id). Because ids are distinct the order is total: the
 * sequence pop() yields depends only on the set of (key, id) pairs, never on
 * the order they were pushed in. A heap rebuilt from a snapshot therefore
 * behaves exactly as the one that was snapshotted, which is what lets the
 * task queue keep its indexes out of its snapshots.
 *
 * push, pop, remove and update are O(log n); peek, has and keyOf are O(1).
 */
export class KeyedHeap {
  private readonly ids: number[] = [];
  private readonly keys: number[] = [];
  /** id → its position in the arrays. Invariant: pos.get(ids[i]) === i. */
  private readonly pos = new Map<number, number>();

  /** Number of ids held. */
  get size(): number {
    return this.ids.length;
  }

  /** Whether id is held. */
  has(id: number): boolean {
    return this.pos.has(id);
  }

  /** @returns id's key, or undefined when id is not held */
  keyOf(id: number): number | undefined {
    const i = this.pos.get(id);
    return i === undefined ? undefined : this.keys[i];
  }

  /** @returns the smallest id by (key, id), or undefined when empty */
  peek(): number | undefined {
    return this.ids[0];
  }

  /** @returns the key of peek(), or undefined when empty */
  peekKey(): number | undefined {
    return this.keys[0];
  }

  /**
   * Adds id with key.
   * @throws RangeError when id is already held (use update)
   */
  push(id: number, key: number): void {
    if (this.pos.has(id)) throw new RangeError(`heap already holds ${id}`);
    this.ids.push(id);
    this.keys.push(key);
    this.pos.set(id, this.ids.length - 1);
    this.up(this.ids.length - 1);
  }

  /** Removes and returns the smallest id, or undefined when empty. */
  pop(): number | undefined {
    const top = this.ids[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  /** Removes id. @returns whether it was held */
  remove(id: number): boolean {
    const i = this.pos.get(id);
    if (i === undefined) return false;
    this.removeAt(i);
    return true;
  }

  /** Sets id's key, adding id when it is not held. */
  update(id: number, key: number): void {
    const i = this.pos.get(id);
    if (i === undefined) return this.push(id, key);
    this.keys[i] = key;
    this.down(this.up(i));
  }

  /** Every id with its key, in no particular order (for tests and audits). */
  entries(): [number, number][] {
    return this.ids.map((id, i) => [id, this.keys[i]!]);
  }

  private removeAt(i: number): void {
    this.pos.delete(this.ids[i]!);
    const id = this.ids.pop()!;
    const key = this.keys.pop()!;
    if (i === this.ids.length) return;
    // The last one fills the hole, then finds its place.
    this.ids[i] = id;
    this.keys[i] = key;
    this.down(this.up(i));
  }

  /** Sifts the id at i up: parents larger than it move down into the hole. @returns its final position */
  private up(i: number): number {
    const { ids, keys } = this;
    const id = ids[i]!;
    const key = keys[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(key, id, keys[parent]!, ids[parent]!)) break;
      this.place(i, ids[parent]!, keys[parent]!);
      i = parent;
    }
    this.place(i, id, key);
    return i;
  }

  /** Sifts the id at i down: smaller children move up into the hole. */
  private down(i: number): void {
    const { ids, keys } = this;
    const n = ids.length;
    const id = ids[i]!;
    const key = keys[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && before(keys[r]!, ids[r]!, keys[l]!, ids[l]!) ? r : l;
      if (!before(keys[m]!, ids[m]!, key, id)) break;
      this.place(i, ids[m]!, keys[m]!);
      i = m;
    }
    this.place(i, id, key);
  }

  private place(i: number, id: number, key: number): void {
    this.ids[i] = id;
    this.keys[i] = key;
    this.pos.set(id, i);
  }
}

/** Whether (keyA, idA) comes before (keyB, idB). */
function before(keyA: number, idA: number, keyB: number, idB: number): boolean {
  return keyA < keyB || (keyA === keyB && idA < idB);
}
