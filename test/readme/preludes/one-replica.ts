/* eslint-disable @typescript-eslint/no-unused-vars -- the README block after the prelude uses these names */
// Prelude (inlined into a generated driver, type-checked there): what a block
// that builds replica n1 on its stores needs besides them. `machine`, a small
// state machine; `transport`, n1's end of an in-process network.
import { Command, MemoryNetwork, ReplicatedStateMachine, StateMachine } from '@raftline/core';

@StateMachine('orders')
class Orders extends ReplicatedStateMachine {
  private placed = 0;

  @Command()
  place(): number {
    return ++this.placed;
  }
}

const machine = new Orders();
const transport = new MemoryNetwork().transport('n1');
