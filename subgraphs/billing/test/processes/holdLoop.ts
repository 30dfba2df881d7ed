// A billable caller in its own process, for crashMidHold.e2e.test.ts: four workers place holds
// (keys w<worker>-<n>, 1000 µ$ each, TTL 5 s) and settle every other one at 700 µ$, printing
// each committed step, until the test SIGKILLs it mid-flight.
import { PostgresSqlDatabase } from '@somaagent/postgres';
import pg from 'pg';
import { BudgetLedger } from '../../src/index';

const [appUrl, tenantId] = process.argv.slice(2);
if (!appUrl || !tenantId) throw new Error('usage: holdLoop <appUrl> <tenantId>');
const pool = new pg.Pool({ connectionString: appUrl, max: 4 });
const ledger = new BudgetLedger(new PostgresSqlDatabase({ appPool: pool, ownerPool: pool }));

async function worker(w: number): Promise<void> {
  for (let n = 0; ; n++) {
    const key = `w${w}-${n}`;
    const held = await ledger.hold({
      tenantId: tenantId!,
      subjects: { userId: 'ada' },
      amountMicros: 1000,
      idempotencyKey: key,
      ttlSeconds: 5,
    });
    if (!held.ok) throw new Error(`refused ${key}`);
    console.log(`held ${key} ${held.hold.holdId}`);
    if (n % 2 === 0) {
      await ledger.settle({ tenantId: tenantId!, holdId: held.hold.holdId }, 700);
      console.log(`settled ${key}`);
    }
  }
}

console.log('ready');
await Promise.all([0, 1, 2, 3].map(worker));
