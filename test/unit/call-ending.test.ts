import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CallEnding, type Ending } from '../../src/realtime/session/call-ending.ts';

/** Which reason a call is written with when Twilio's stream end races our own REST update. */
function ending(options: { throughTimeoutMs?: number } = {}) {
  const finished: Ending[] = [];
  const calls = new CallEnding(async (end) => void finished.push(end), pino({ level: 'silent' }), options);
  return { calls, finished };
}

/** A REST call the test answers when it chooses. */
function restCall() {
  let answer: (ending: Ending | null) => void = () => {};
  const answered = new Promise<Ending | null>((resolve) => (answer = resolve));
  return { act: () => answered, answer };
}

describe('CallEnding', () => {
  it('keeps the first reason', async () => {
    const { calls, finished } = ending();
    await Promise.all([calls.end('caller silent'), calls.end('internal error', true), calls.streamEnded('stop')]);
    expect(finished).toEqual([{ reason: 'caller silent', failed: false }]);
  });

  it('takes a stop nobody asked for as the caller hanging up, a bare close as a lost stream', async () => {
    const a = ending();
    await a.calls.streamEnded('stop');
    const b = ending();
    await b.calls.streamEnded('close');
    expect([a.finished, b.finished]).toEqual([[{ reason: 'caller hung up', failed: false }], [{ reason: 'media stream lost', failed: false }]]);
  });

  it('writes a stop that comes before the REST answer with the answer’s reason, once it has come', async () => {
    const { calls, finished } = ending();
    const rest = restCall();
    const through = calls.endThrough('transferred', rest.act);
    const stopped = calls.streamEnded('stop');
    expect(calls.started).toBe(true);
    expect(finished).toEqual([]);
    rest.answer({ reason: 'transfer failed', failed: true });
    await Promise.all([through, stopped]);
    expect(finished).toEqual([{ reason: 'transfer failed', failed: true }]);
  });

  it('writes the intended reason when the REST answer never comes', async () => {
    const { calls, finished } = ending({ throughTimeoutMs: 20 });
    void calls.endThrough('hung up by a supervisor', restCall().act);
    await calls.streamEnded('close');
    expect(finished).toEqual([{ reason: 'hung up by a supervisor', failed: false }]);
  });

  it('goes on when Twilio refused the update (null, or a throw): a later stop is the caller’s', async () => {
    const { calls, finished } = ending();
    await calls.endThrough('transferred', async () => null);
    await calls.endThrough('hung up by a supervisor', () => Promise.reject(new Error('Twilio 21220')));
    expect(calls.started).toBe(false);
    await calls.streamEnded('stop');
    expect(finished).toEqual([{ reason: 'caller hung up', failed: false }]);
  });

  it('finishes nothing for a socket that never became a call', async () => {
    const { calls, finished } = ending();
    calls.abandon();
    await calls.streamEnded('close');
    expect(finished).toEqual([]);
  });
});
