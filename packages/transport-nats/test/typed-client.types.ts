// Type-level checks of MachineClient, compiled by `npm run typecheck` (never
// run: jest runs only *.spec.ts). Each @ts-expect-error must meet an error,
// or the typecheck fails: so these prove that wrong calls do not compile.
import type { MachineClient } from '../src/index';
import type { Inventory } from '../../../test/fixtures/inventory';

export async function typedClientTypes(client: MachineClient<Inventory>): Promise<void> {
  // Right calls compile, with the handlers' return types.
  const left: number = await client.commands.reserve('sku', 2);
  const units: number = await client.queries.available('sku');
  const receipt: { value: number; attempts: number } = await client.submit('stock', ['sku', 5]);
  const read: { value: Record<string, number>; appliedIndex: number } = await client.query('marks', [], {
    consistency: 'stale',
  });
  const lease: number = await client.queriesWith({ consistency: 'lease' }).available('sku');
  void [left, units, receipt, read, lease];

  // @ts-expect-error n must be a number
  await client.commands.reserve('sku', '2');
  // @ts-expect-error n is missing
  await client.commands.reserve('sku');
  // @ts-expect-error no such method on the machine
  await client.commands.restock('sku', 1);
  // @ts-expect-error the result is a number, not a string
  const wrong: string = await client.commands.reserve('sku', 2);
  void wrong;
  // @ts-expect-error submit's args are the handler's parameters, as a tuple
  await client.submit('reserve', ['sku']);
  // @ts-expect-error no such command name
  await client.submit('restock', ['sku', 1]);
  // @ts-expect-error a query's args are typed too
  await client.query('available', [1]);
  // @ts-expect-error consistency is one of linearizable, lease, stale
  await client.query('available', ['sku'], { consistency: 'eventual' });
  // @ts-expect-error framework members are not remote calls
  await client.commands.snapshotState();
  // @ts-expect-error private members (validators) are not remote calls
  await client.commands.checkReserve('sku', 1);
}
