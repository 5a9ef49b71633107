import fc from 'fast-check';
import { KeyedHeap } from '../src/heap';

/** One operation on the heap and on its model. */
type Op =
  | { readonly kind: 'push'; readonly id: number; readonly key: number }
  | { readonly kind: 'pop' }
  | { readonly kind: 'remove'; readonly id: number }
  | { readonly kind: 'update'; readonly id: number; readonly key: number };

const id = fc.integer({ min: 0, max: 40 });
const key = fc.integer({ min: -5, max: 5 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), id, key }),
  fc.record({ kind: fc.constant('pop' as const) }),
  fc.record({ kind: fc.constant('remove' as const), id }),
  fc.record({ kind: fc.constant('update' as const), id, key }),
);

/** The model: the smallest (key, id) pair, by a scan. */
function smallest(model: Map<number, number>): number | undefined {
  let best: [number, number] | undefined;
  for (const [i, k] of model) if (!best || k < best[1] || (k === best[1] && i < best[0])) best = [i, k];
  return best?.[0];
}

describe('KeyedHeap', () => {
  it('pops, peeks, removes and updates as a sorted list of (key, id) would', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new KeyedHeap();
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'push') {
            if (model.has(o.id)) expect(() => heap.push(o.id, o.key)).toThrow(RangeError);
            else {
              heap.push(o.id, o.key);
              model.set(o.id, o.key);
            }
          } else if (o.kind === 'pop') {
            const want = smallest(model);
            expect(heap.pop()).toBe(want);
            if (want !== undefined) model.delete(want);
          } else if (o.kind === 'remove') {
            expect(heap.remove(o.id)).toBe(model.delete(o.id));
          } else {
            heap.update(o.id, o.key);
            model.set(o.id, o.key);
          }
          expect(heap.size).toBe(model.size);
          expect(heap.peek()).toBe(smallest(model));
          expect(heap.peekKey()).toBe(model.get(smallest(model) ?? -1));
          for (const [i, k] of model) expect(heap.keyOf(i)).toBe(k);
        }
        const drained: number[] = [];
        for (let next = heap.pop(); next !== undefined; next = heap.pop()) drained.push(next);
        const sorted = [...model].sort((a, b) => a[1] - b[1] || a[0] - b[0]).map(([i]) => i);
        expect(drained).toEqual(sorted);
      }),
      { numRuns: 300 },
    );
  });
});
