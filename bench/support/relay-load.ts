import { performance } from 'node:perf_hooks';
import { until } from './args.ts';
import { sampleMachine, sampleProcess, type MachineSample, type ProcessSample } from './process-usage.ts';
import type { LiveCall } from './relay-targets.ts';
import { readTag, taggedFrame, type Direction } from './tagged-audio.ts';

const frameMs = 20;
/**
 * Every call has a turn this often (250 frames: 5 s): OpenAI's `speech_stopped`, then the
 * agent's audio under a new response and item — so a relay that measures turns (Callwatch:
 * a turn-latency observation and a turn span each) does that work at a steady 20 turns a
 * second per 100 calls, a busier conversation than most.
 */
const turnEveryFrames = 250;
/** After the last frame of a round is sent, how long stragglers get before they count as lost. */
const drainMs = 3_000;

/** What one relay did over all its rounds: raw counts and samples, summed. */
export class RelayTally {
  readonly sent: Record<Direction, number> = { up: 0, down: 0 };
  readonly received: Record<Direction, number> = { up: 0, down: 0 };
  readonly duplicated: Record<Direction, number> = { up: 0, down: 0 };
  /** Tagged frames that arrived on the wrong call, direction or round. */
  misrouted = 0;
  /** Added latency of every measured frame, ms. */
  readonly latency: Record<Direction, number[]> = { up: [], down: [] };
  /** Measured wall time, and the relay's CPU time (all of it, and the kernel's part) in it. */
  wallMs = 0;
  cpuMs = 0;
  systemMs = 0;
  /** CPU time of this process (callers + OpenAI stand-in) in the same windows. */
  generatorCpuMs = 0;
  /** /proc/stat ticks of the whole machine in the same windows. */
  readonly machine = { busy: 0, steal: 0, total: 0 };
  /** Each measured round: its wall time, the relay's CPU time in it (user + system) and the frames sent through it either way, in order. */
  readonly rounds: { wallMs: number; cpuMs: number; frames: number }[] = [];
  /** The relay's RSS, one sample a second while measured. */
  readonly rss: number[] = [];
  /** Frames sent through this relay so far: the next round's frame numbers start here. */
  nextFrame = 0;
}

interface Stream {
  call: number;
  direction: Direction;
  /** When the next frame is due (performance.now() ms). */
  due: number;
  /** Frames sent in this round. */
  sent: number;
  sentAt: Float64Array;
  received: Uint8Array;
  send: (payload: string) => void;
}

interface Window {
  at: number;
  child: ProcessSample;
  machine: MachineSample;
  self: NodeJS.CpuUsage;
}

/**
 * One round of load through one relay: every call streams `frames` tagged frames each way,
 * 50 a second. Calls are spread evenly over the 20 ms frame period, as independent calls
 * are, and the two directions of a call half a period apart. A 1 ms scheduler sends
 * whatever is due; each frame's send time is taken right before it is sent, so scheduler
 * lateness is never counted as relay latency. Frames are matched on arrival by their tag;
 * when `measured`, their latency, the relay's CPU and memory and the machine's load over
 * the round go into `into` (`tally` unless given; otherwise only the frame counts do: a
 * warm-up round). Frame numbers and counts always go on `tally`, the relay's own.
 */
export async function streamRound(calls: LiveCall[], pid: number, frames: number, measured: boolean, tally: RelayTally, into: RelayTally = tally): Promise<void> {
  const base = tally.nextFrame;
  tally.nextFrame += frames;
  const t0 = performance.now() + 20;
  const streams: Record<Direction, Stream[]> = { up: [], down: [] };

  for (const [i, { caller, upstream }] of calls.entries()) {
    const phase = (i / calls.length) * frameMs;
    const stream = (direction: Direction, due: number, send: (payload: string) => void): Stream => ({
      call: i,
      direction,
      due,
      sent: 0,
      sentAt: new Float64Array(frames),
      received: new Uint8Array(frames),
      send,
    });
    streams.up.push(stream('up', t0 + phase, (payload) => caller.sendMedia(payload)));
    // Each call's turns start at its own offset, so the calls' turns are spread over the period.
    const turnOffset = Math.floor((i * turnEveryFrames) / calls.length);
    let frame = base;
    streams.down.push(
      stream('down', t0 + ((phase + frameMs / 2) % frameMs), (delta) => {
        const turn = Math.floor((frame + turnOffset) / turnEveryFrames);
        const ids = `${String(i).padStart(6, '0')}_${turn}`;
        if ((frame + turnOffset) % turnEveryFrames === 0) {
          upstream.session.send({ type: 'input_audio_buffer.speech_stopped', event_id: `event_bench${i}_${frame}_stop`, audio_end_ms: frame * frameMs, item_id: `item_caller${ids}` });
        }
        upstream.session.send({ type: 'response.output_audio.delta', event_id: `event_bench${i}_${frame}`, response_id: `resp_bench${ids}`, item_id: `item_bench${ids}`, output_index: 0, content_index: 0, delta });
        frame++;
      }),
    );
    const arrive = (direction: Direction, payload: string) => {
      const at = performance.now();
      const tag = readTag(payload);
      if (!tag) return;
      const k = tag.frame - base;
      const target = streams[direction][i];
      if (tag.direction !== direction || tag.call !== i || !target || k < 0 || k >= frames) return void tally.misrouted++;
      const seen = target.received[k] ?? 0;
      target.received[k] = seen + 1;
      if (seen > 0) return void tally.duplicated[direction]++;
      tally.received[direction]++;
      if (measured) into.latency[direction].push(at - (target.sentAt[k] ?? at));
    };
    upstream.onAppend = (audio) => arrive('up', audio);
    caller.onMedia = (payload) => arrive('down', payload);
  }

  const order = [...streams.up, ...streams.down].sort((a, b) => a.due - b.due);
  const sample = (): Window => ({ at: performance.now(), child: sampleProcess(pid), machine: sampleMachine(), self: process.cpuUsage() });
  let from: Window | undefined;
  let to: Window | undefined;
  let nextRssAt = t0;
  await new Promise<void>((resolve) => {
    let cursor = 0;
    let finished = 0;
    const tick = () => {
      const now = performance.now();
      if (measured) {
        from ??= sample();
        if (now >= nextRssAt) {
          into.rss.push(sampleProcess(pid).rssBytes);
          nextRssAt += 1_000;
        }
      }
      for (;;) {
        const s = order[cursor];
        if (!s || s.due > now) break;
        if (s.sent < frames) {
          const payload = taggedFrame(s.direction, s.call, base + s.sent);
          s.sentAt[s.sent] = performance.now();
          s.send(payload);
          s.sent++;
          if (s.sent === frames) finished++;
        }
        s.due += frameMs;
        cursor = (cursor + 1) % order.length;
      }
      if (finished === order.length) {
        if (measured) to = sample();
        return resolve();
      }
      setTimeout(tick, 1);
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });

  tally.sent.up += calls.length * frames;
  tally.sent.down += calls.length * frames;
  const allIn = () => order.every((s) => s.received.every((n) => n > 0));
  await until(allIn, 'the last frames', drainMs, 10).catch(() => {});
  for (const { caller, upstream } of calls) {
    caller.onMedia = () => {};
    upstream.onAppend = () => {};
  }

  if (!from || !to) return;
  into.wallMs += to.at - from.at;
  into.cpuMs += to.child.cpuMs - from.child.cpuMs;
  into.rounds.push({ wallMs: to.at - from.at, cpuMs: to.child.cpuMs - from.child.cpuMs, frames: 2 * calls.length * frames });
  into.systemMs += to.child.systemMs - from.child.systemMs;
  into.generatorCpuMs += (to.self.user + to.self.system - from.self.user - from.self.system) / 1000;
  into.machine.busy += to.machine.busy - from.machine.busy;
  into.machine.steal += to.machine.steal - from.machine.steal;
  into.machine.total += to.machine.total - from.machine.total;
}
