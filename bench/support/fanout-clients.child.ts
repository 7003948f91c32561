/**
 * A client process of bench:fanout, forked by `fanout-clients.ts` (Node runs it as
 * TypeScript by type stripping). It opens its share of the subscribers, says when they are
 * open and when each has had a warm-up event, and on `collect` sends back what they
 * received. It only ever listens: between `opened` and `collect` it sends nothing, so the
 * IPC channel adds no work to either process while events are measured.
 */
import { sleep, until } from './args.ts';
import type { ChildMessage, ParentMessage } from './fanout-clients.ts';
import { clockOffset, openGraphQLSubscribers, openRawSubscribers, Receipts, type Subscribers } from './fanout-subscribers.ts';

function send(message: ChildMessage): void {
  process.send?.(message);
}

let opened: { receipts: Receipts; subscribers: Subscribers; events: number } | undefined;

async function handle(message: ParentMessage): Promise<void> {
  switch (message.type) {
    case 'open': {
      const { target, count, events, firstSubscriber } = message;
      const receipts = new Receipts(count, events, firstSubscriber, () => send({ type: 'warmed' }));
      const subscribers =
        target.kind === 'raw'
          ? await openRawSubscribers(target.url, count, receipts)
          : await openGraphQLSubscribers(target.url, target.apiKey, target.callId, count, receipts);
      opened = { receipts, subscribers, events };
      send({ type: 'opened' });
      return;
    }
    case 'collect': {
      if (!opened) throw new Error('collect before open');
      const { receipts, events } = opened;
      const expected = receipts.seqs.length * events;
      // Missing receipts are reported by `problem`, not thrown: the bench prints them and exits 1.
      await until(() => receipts.received >= expected || receipts.errors.length > 0, `${expected} receipts`, message.timeoutMs, 5).catch(() => {});
      // A duplicate would arrive after the rest: give it a moment to show.
      await sleep(100);
      send({ type: 'receipts', latencies: Float64Array.from(receipts.latencies), lastReceipt: Float64Array.from(receipts.lastReceipt), problem: receipts.problem(events) });
      return;
    }
    case 'close':
      await opened?.subscribers.close();
      process.exit(0);
  }
}

process.on('message', (message) => {
  handle(message as ParentMessage).catch((error: unknown) => send({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
});
// The bench went away (crashed, or killed at its deadline): nobody will collect or close.
process.on('disconnect', () => process.exit(1));
send({ type: 'up', clockOffset: clockOffset() });
