import type { ReceivedWebhook } from '../../src/sandbox/webhook-receiver.ts';
import { recordingCallbackParams } from '../../src/sandbox/twilio-webhook.ts';
import { postTwilioWebhook, twilioAccountSid } from '../../test/support/twilio.ts';
import type { SeededCall } from './pipeline-seed.ts';
import type { PipelineTarget } from './pipeline-targets.ts';
import { sampleMachine, sampleProcess, sampleProcessTree } from './process-usage.ts';

/** How long one call may take from its callback to its webhook before it counts as lost. */
const callTimeoutMs = 60_000;

/**
 * Matches webhooks arriving at the receiver to the callbacks that caused them, by Twilio
 * call SID (`call_id` in the body), on the benchmark's one clock. Its `respond` is the
 * receiver's responder: it answers 200 to a verified delivery, 401 otherwise.
 */
export class Arrivals {
  readonly #waiting = new Map<string, { sentAt: number; resolve: (latencyMs: number | null) => void }>();
  /** Calls whose webhook failed verification while a lane waited for it. */
  readonly unverified = new Set<string>();

  readonly respond = (delivery: Omit<ReceivedWebhook, 'status'>): number => {
    const callSid = typeof delivery.payload?.call_id === 'string' ? delivery.payload.call_id : '';
    const waiting = this.#waiting.get(callSid);
    if (waiting && !delivery.verified) this.unverified.add(callSid);
    waiting?.resolve(delivery.verified ? delivery.receivedAt - waiting.sentAt : null);
    return delivery.verified ? 200 : 401;
  };

  /**
   * Resolves with the latency of `callSid`'s webhook, or null when it failed verification,
   * after `timeoutMs`, or once `cancel(callSid)` is called.
   */
  expect(callSid: string, sentAt: number, timeoutMs = callTimeoutMs): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.cancel(callSid), timeoutMs);
      this.#waiting.set(callSid, {
        sentAt,
        resolve: (latencyMs) => {
          clearTimeout(timer);
          this.#waiting.delete(callSid);
          resolve(latencyMs);
        },
      });
    });
  }

  /** Stops waiting for `callSid`'s webhook: its `expect` resolves with null. */
  cancel(callSid: string): void {
    this.#waiting.get(callSid)?.resolve(null);
  }
}

/** What one target did over all its measured rounds. */
export class PipelineTally {
  calls = 0;
  wallMs = 0;
  readonly latencies: number[] = [];
  /** Callbacks answered with anything but 204, and calls whose webhook never came. */
  readonly problems: string[] = [];
  cpuMs = 0;
  systemMs = 0;
  postgresCpuMs = Number.NaN;
  generatorCpuMs = 0;
  rssBytes = 0;
  machine = { busy: 0, steal: 0, total: 0 };
}

export interface RoundOptions {
  concurrency: number;
  /** The postmaster's pid, when Postgres runs on this machine where /proc shows it. */
  postgresPid: number | null;
  /** Add this round's figures to `tally`; false for warm-up. */
  record: boolean;
}

/**
 * Sends every call's recording callback (signed as Twilio signs it) to `target` with
 * `concurrency` calls in flight end to end: each lane sends a callback, waits until that
 * call's webhook has reached the receiver, then sends the next. The round ends when the
 * last webhook has arrived; CPU of the target, of Postgres and of this process (the load
 * generator and every stand-in) is sampled around it.
 */
export async function driveRound(target: PipelineTarget, calls: SeededCall[], arrivals: Arrivals, tally: PipelineTally, options: RoundOptions): Promise<void> {
  const pid = target.child.pid;
  const from = { child: sampleProcess(pid), generator: sampleProcess(process.pid), postgres: postgresSample(options.postgresPid), machine: sampleMachine() };
  const latencies: number[] = [];
  const problems: string[] = [];
  let next = 0;
  let lost = false;
  const lane = async () => {
    // A call whose webhook never came, or came unverified, ends the run: the pipeline is broken, not slow.
    while (next < calls.length && !lost) {
      const call = calls[next++] as SeededCall;
      const params = recordingCallbackParams({ accountSid: twilioAccountSid, callSid: call.callSid, recordingSid: call.recordingSid, status: 'completed', durationSec: 1 });
      const sentAt = performance.now();
      const arrived = arrivals.expect(call.callSid, sentAt);
      const response = await postTwilioWebhook(target.child.url, '/twilio/recording', params);
      if (response.status !== 204) {
        problems.push(`${call.callSid}: the recording callback was answered ${response.status}`);
        arrivals.cancel(call.callSid);
      }
      const latency = await arrived;
      if (latency !== null) latencies.push(latency);
      else if (response.status === 204) {
        problems.push(`${call.callSid}: ${arrivals.unverified.has(call.callSid) ? 'its webhook failed signature verification' : `no webhook within ${callTimeoutMs / 1000} s`}`);
        lost = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, calls.length) }, lane));
  if (lost) throw new Error(`${target.name}: ${problems.join('; ')}\n${target.child.output()}`);
  const to = { child: sampleProcess(pid), generator: sampleProcess(process.pid), postgres: postgresSample(options.postgresPid), machine: sampleMachine() };

  tally.problems.push(...problems);
  if (!options.record) return;
  tally.calls += calls.length;
  tally.wallMs += to.child.at - from.child.at;
  tally.latencies.push(...latencies);
  tally.cpuMs += to.child.cpuMs - from.child.cpuMs;
  tally.systemMs += to.child.systemMs - from.child.systemMs;
  tally.generatorCpuMs += to.generator.cpuMs - from.generator.cpuMs;
  if (from.postgres && to.postgres) tally.postgresCpuMs = (Number.isNaN(tally.postgresCpuMs) ? 0 : tally.postgresCpuMs) + to.postgres.cpuMs - from.postgres.cpuMs;
  tally.rssBytes = Math.max(tally.rssBytes, to.child.rssBytes);
  for (const key of ['busy', 'steal', 'total'] as const) tally.machine[key] += to.machine[key] - from.machine[key];
}

function postgresSample(pid: number | null): { cpuMs: number } | null {
  if (pid === null) return null;
  try {
    return sampleProcessTree(pid);
  } catch {
    return null;
  }
}
