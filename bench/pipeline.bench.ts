/**
 * `npm run bench:pipeline [-- --calls 1000 --concurrency 32 --warmup 50]` — what the
 * post-call pipeline carries: N finished calls, each taken from Twilio's signed recording
 * callback to a verified `call.completed` webhook at the business's receiver, through
 * Callwatch in a child process (ROLE=all: the callback handler, pg-boss and its workers on
 * Postgres) and, in the same run, through a bare pipeline of the benchmark's own
 * (bench/bare-pipeline.ts: the same requests per call, nothing durable — the baseline).
 * The stand-ins (Twilio REST, OpenAI REST, instant) and the receiver run in this process,
 * with `concurrency` calls in flight end to end. Measures calls per second, latency
 * callback → webhook, CPU of each pipeline process and of Postgres; checks that every call
 * was delivered exactly once, signed and answered 200, and exits 1 otherwise (leaving
 * BENCHMARKS.md alone). Prints a table and writes it into BENCHMARKS.md. After the measured
 * rounds, one 40-minute two-channel call goes through Callwatch alone: its wall time, its
 * OpenAI transcription requests and the bytes they uploaded (section bench:pipeline-long-call).
 *
 * WORKER_CONCURRENCY in the environment reaches Callwatch (its figures go to a section of
 * their own); BENCH_CHILD_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) reaches
 * both pipeline processes.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql as raw } from 'kysely';
import { type Orm } from '../src/core/db.ts';
import { migrate, openOrm } from '../src/database.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { sql } from '../src/entities/sql.ts';
import { startOpenAIApiStandIn, type OpenAIApiStandIn } from '../src/sandbox/openai-api.server.ts';
import { startTwilioApiStandIn, type TwilioApiStandIn } from '../src/sandbox/twilio-api.server.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../src/sandbox/webhook-receiver.ts';
import { twilioAccountSid, twilioAuthToken } from '../test/support/twilio.ts';
import { deadline, numberOptions, until } from './support/args.ts';
import { startBenchDatabase, type BenchDatabase } from './support/database.ts';
import { Arrivals, driveRound, PipelineTally } from './support/pipeline-load.ts';
import { measureLongCall, renderLongCallReport, type LongCallFigures } from './support/pipeline-long-call.ts';
import { renderPipelineReport, type PipelineFigures } from './support/pipeline-report.ts';
import { registerRecordings, seedFinishedCalls, seedPipelineBusiness, type SeededCall } from './support/pipeline-seed.ts';
import { startBarePipeline, startCallwatchPipeline, type PipelineTarget, type PipelineWorld } from './support/pipeline-targets.ts';
import { parentPid } from './support/process-usage.ts';
import { writeSection } from './support/report.ts';

const defaults = { calls: 1000, concurrency: 32, warmup: 50 };
const options = numberOptions('npm run bench:pipeline -- [--calls 1000] [--concurrency 32] [--warmup 50]', defaults);
/** The measured calls of each pipeline are cut into this many rounds, the two taking turns. */
const rounds = 4;

const transcript = 'סוכן: שלום, הגעת לאינסטלציה גולן. לקוחה: יש לי נזילה בתל אביב, זה דחוף, התקציב 500 שקל.';
const summary = 'הלקוחה מתל אביב דיווחה על נזילה דחופה; תקציב 500 ₪. יש לחזור אליה היום.';

/** One pipeline under test, its calls (warm-up first) and what measuring it found. */
interface Contender {
  target: PipelineTarget;
  calls: SeededCall[];
  tally: PipelineTally;
}

async function main(): Promise<void> {
  deadline(120_000 + (options.calls + options.warmup) * 2 * 100, 'bench:pipeline');
  const startedAt = new Date();
  let database: BenchDatabase | undefined;
  let orm: Orm | undefined;
  let openai: OpenAIApiStandIn | undefined;
  let twilio: TwilioApiStandIn | undefined;
  let receiver: WebhookReceiver | undefined;
  const contenders: Contender[] = [];
  try {
    database = await startBenchDatabase();
    orm = await openOrm(database.url, { poolSize: 2 });
    await migrate(orm);
    openai = await startOpenAIApiStandIn({
      apiKey: 'sk-test-key',
      transcribe: () => transcript,
      respond: (request) => (request.format.type === 'json_schema' ? { city: 'ת"א', service_category: 'תיקון נזילה', fields: { budget_nis: 500, urgent: true } } : summary),
    });
    twilio = await startTwilioApiStandIn({ accountSid: twilioAccountSid, authToken: twilioAuthToken });
    const arrivals = new Arrivals();
    receiver = await startWebhookReceiver({ respond: arrivals.respond });
    const webhookUrl = `${receiver.url}/callwatch`;
    const appSecret = randomBytes(32).toString('base64url');
    const business = await seedPipelineBusiness(orm.em, webhookUrl, new SecretBox(appSecret));
    receiver.setSecret(business.webhookSecret);
    const run = Math.floor(Math.random() * 0xffff_ffff);
    const perTarget = options.warmup + options.calls;
    const seedStart = performance.now();
    const callwatchCalls = await seedFinishedCalls(orm.em, twilio, business.businessId, { count: perTarget, run, first: 0 });
    const bareCalls = registerRecordings(twilio, { run, indexes: Array.from({ length: perTarget }, (_, i) => 1_000_000 + i) });
    const seedMs = performance.now() - seedStart;
    const postgresPid = await postmasterPid(orm);

    const world: PipelineWorld = { databaseUrl: database.url, openai, twilio, webhookUrl, webhookSecret: business.webhookSecret, appSecret, businessId: business.businessId };
    contenders.push({ target: await startCallwatchPipeline(world), calls: callwatchCalls, tally: new PipelineTally() });
    contenders.push({ target: await startBarePipeline(world), calls: bareCalls, tally: new PipelineTally() });
    process.stdout.write(
      `pipeline: ${options.calls} calls (+${options.warmup} warm-up) through each of ${contenders.map((c) => c.target.name).join(', ')}; ` +
        `${options.concurrency} in flight; ${rounds} rounds each, taking turns; ${database.server}; seeded in ${(seedMs / 1000).toFixed(1)} s\n`,
    );

    for (const { target, calls, tally } of contenders) {
      await driveRound(target, calls.slice(0, options.warmup), arrivals, tally, { concurrency: options.concurrency, postgresPid, record: false });
    }
    for (let round = 0; round < rounds; round++) {
      const from = options.warmup + Math.round((options.calls * round) / rounds);
      const to = options.warmup + Math.round((options.calls * (round + 1)) / rounds);
      for (const { target, calls, tally } of rotate(contenders, round)) {
        await driveRound(target, calls.slice(from, to), arrivals, tally, { concurrency: options.concurrency, postgresPid, record: true });
      }
      process.stdout.write(`  round ${round + 1}/${rounds} done\n`);
    }

    const [callwatch, bare] = contenders as [Contender, Contender];
    const settled = await settle(orm, perTarget);
    const figures = contenders.map((contender) => figuresOf(contender, receiver as WebhookReceiver));
    figures[0]?.problems.push(...settled);
    const sent = new Set([...callwatch.calls, ...bare.calls].map((call) => call.callSid));
    const unknown = receiver.deliveries.filter((d) => !sent.has(String(d.payload?.call_id)));
    if (unknown.length > 0) figures[0]?.problems.push(`${unknown.length} webhook(s) for calls nobody sent`);

    let longCall: LongCallFigures | undefined;
    let longCallProblem: string | undefined;
    try {
      longCall = await measureLongCall(callwatch.target, { em: orm.em, twilio, openai, arrivals, businessId: business.businessId, run });
    } catch (error) {
      longCallProblem = error instanceof Error ? error.message : String(error);
    }

    for (const { target } of contenders) {
      const code = await target.child.stop();
      if (code !== 0) figures.find((f) => f.name === target.name)?.problems.push(`${target.name} exited with code ${code}:\n${target.child.output()}`);
    }
    contenders.length = 0;

    const report = renderPipelineReport(figures as [PipelineFigures, PipelineFigures], { startedAt, options, rounds, database: database.server, postgresMeasured: postgresPid !== null, workers: callwatch.target.workers ?? '' });
    process.stdout.write(`\n${report}\n`);
    // Figures of a run that lost, duplicated or mis-signed a webhook are not worth keeping.
    const problems = figures.flatMap((f) => f.problems.map((problem) => `${f.name}: ${problem}`));
    if (problems.length > 0) throw new Error(`${problems.length} problem(s), BENCHMARKS.md left as it was:\n${problems.slice(0, 20).join('\n')}`);
    const workers = process.env.WORKER_CONCURRENCY ? `-workers-${process.env.WORKER_CONCURRENCY}` : '';
    const isDefault = options.calls === defaults.calls && options.concurrency === defaults.concurrency && workers === '';
    const id = isDefault ? 'pipeline' : `pipeline:${options.calls}-calls-${options.concurrency}-in-flight${workers}`;
    writeSection(id, isDefault ? 'Post-call pipeline' : `Post-call pipeline, ${options.calls} calls, ${options.concurrency} in flight${workers.replace('-workers-', ', WORKER_CONCURRENCY=')}`, report);
    process.stdout.write(`\nwritten to BENCHMARKS.md (section bench:${id})\n`);
    if (!longCall) throw new Error(`the 40-minute call: ${longCallProblem ?? 'not measured'}`);
    const longReport = renderLongCallReport(longCall, startedAt);
    process.stdout.write(`\n${longReport}\n`);
    writeSection('pipeline-long-call', 'Post-call pipeline, one 40-minute two-channel call', longReport);
    process.stdout.write('\nwritten to BENCHMARKS.md (section bench:pipeline-long-call)\n');
  } finally {
    for (const { target } of contenders) await target.child.stop();
    await receiver?.close();
    await twilio?.close();
    await openai?.close();
    await orm?.close();
    await database?.stop();
  }
}

/** `items`, starting at `round` modulo their number: who goes first changes every round. */
function rotate<T>(items: T[], round: number): T[] {
  const start = round % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

/**
 * The Postgres server's main process: the parent of this connection's backend. Null when
 * /proc does not show a postgres process by that pid (a DATABASE_URL on another machine).
 */
async function postmasterPid(orm: Orm): Promise<number | null> {
  const { rows } = await raw<{ pid: number }>`select pg_backend_pid() as pid`.execute(sql(orm.em.fork()));
  const backend = rows[0]?.pid;
  const isPostgres = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
  try {
    const parent = backend === undefined || !isPostgres(backend) ? null : parentPid(backend);
    return parent !== null && isPostgres(parent) ? parent : null;
  } catch {
    return null;
  }
}

/**
 * Waits until Callwatch has recorded every delivery as delivered and every call's pipeline
 * as completed (the receiver may see a webhook just before its attempt is written), then
 * half a second more for any duplicate to show. Returns what is still missing.
 */
async function settle(orm: Orm, expected: number): Promise<string[]> {
  const counts = async () => {
    const db = sql(orm.em.fork());
    const delivered = await db.selectFrom('WebhookDelivery').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'delivered').executeTakeFirstOrThrow();
    const completed = await db.selectFrom('Call').select((eb) => eb.fn.countAll<string>().as('n')).where('pipelineStatus', '=', 'completed').executeTakeFirstOrThrow();
    return { delivered: Number(delivered.n), completed: Number(completed.n) };
  };
  await until(async () => {
    const { delivered, completed } = await counts();
    return delivered >= expected && completed >= expected;
  }, 'every delivery to be recorded', 15_000, 100).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 500));
  const { delivered, completed } = await counts();
  const problems: string[] = [];
  if (delivered !== expected) problems.push(`${delivered}/${expected} deliveries recorded as delivered`);
  if (completed !== expected) problems.push(`${completed}/${expected} calls with a completed pipeline`);
  return problems;
}

/** Sums up a contender and checks the receiver got each of its calls exactly once, verified, answered 200. */
function figuresOf({ target, calls, tally }: Contender, receiver: WebhookReceiver): PipelineFigures {
  const bySid = new Map<string, { count: number; good: number }>();
  for (const call of calls) bySid.set(call.callSid, { count: 0, good: 0 });
  for (const delivery of receiver.deliveries) {
    const seen = bySid.get(typeof delivery.payload?.call_id === 'string' ? delivery.payload.call_id : '');
    if (!seen) continue;
    seen.count++;
    if (delivery.verified && delivery.status === 200) seen.good++;
  }
  const seen = [...bySid.values()];
  const delivered = seen.filter((s) => s.count > 0).length;
  const duplicates = seen.reduce((sum, s) => sum + Math.max(0, s.count - 1), 0);
  const bad = seen.reduce((sum, s) => sum + (s.count - s.good), 0);
  const problems = [...tally.problems];
  if (delivered !== calls.length) problems.push(`${calls.length - delivered} of ${calls.length} calls got no webhook`);
  if (duplicates > 0) problems.push(`${duplicates} duplicate webhook(s)`);
  if (bad > 0) problems.push(`${bad} webhook(s) not verified or not answered 200`);
  return { name: target.name, sent: calls.length, delivered, duplicates, bad, tally, problems };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:pipeline failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
