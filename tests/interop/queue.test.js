// queue.test.js -- Node's bullmq (pinned in package.json) against the C queue
// (AF_BIN) on a real redis-server. Run: AF_BIN=build/autofactura node --test tests/interop
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Queue, Worker, QueueEvents, Job } = require('bullmq');
const IORedis = require('ioredis');
const h = require('./helpers');

let redis, client;
test.before(async () => {
  redis = await h.startRedis();
  client = new IORedis(redis.connection);
});
test.after(async () => {
  client.disconnect();
  await redis.stop();
  assert.deepEqual(h.sanitizerReports, [], 'no sanitizer report from any C worker');
});

const ECHO = h.tmpFile('echo.lua', `
return function(job)
  job:progress(42)
  job:log("ran by c")
  if job.data.fail then error(job.data.fail, 0) end
  return { echo = job.data, name = job.name, attemptsMade = job.attemptsMade }
end`);

test('a job added by Node Queue.add is completed by the C worker; Node reads the returnvalue', async () => {
  const q = new Queue('n2c', { connection: redis.connection });
  const qe = new QueueEvents('n2c', { connection: redis.connection });
  await qe.waitUntilReady();
  const seen = { progress: [], completed: [] };
  qe.on('progress', e => seen.progress.push(e));
  qe.on('completed', e => seen.completed.push(e));
  const job = await q.add('invoice', { rfc: 'XAXX010101000', total: 12.5, tags: ['a', 'b'] });
  const w = h.cWorker(redis, ['--queue', 'n2c', '--handler', ECHO, '--max-jobs', '1']);
  const res = await w.done;
  assert.equal(res.code, 0, res.stderr);
  const back = await Job.fromId(q, job.id);
  assert.deepEqual(back.returnvalue,
    { echo: { rfc: 'XAXX010101000', total: 12.5, tags: ['a', 'b'] }, name: 'invoice', attemptsMade: 0 });
  assert.equal(await back.getState(), 'completed');
  assert.equal(back.attemptsMade, 1);
  assert.equal(back.progress, 42);
  assert.deepEqual((await q.getJobLogs(job.id)).logs, ['ran by c']);
  await h.waitFor(() => seen.completed.length === 1 && seen.progress.length === 1, { what: 'QueueEvents' });
  assert.equal(seen.completed[0].jobId, job.id);
  assert.deepEqual(seen.completed[0].returnvalue, back.returnvalue);
  assert.equal(seen.progress[0].data, 42);
  await qe.close();
  await q.close();
});

test('a job added by the C producer is processed by Node Worker', async () => {
  const id = h.cEnqueue(redis, 'c2n', { folio: 'A-1', amount: 99.9 },
    { jobId: 'task-1234', attempts: 2, backoff: 10 }, 'automation');
  assert.equal(id, 'task-1234');
  const got = [];
  const w = new Worker('c2n', async job => {
    got.push({ id: job.id, name: job.name, data: job.data, attempts: job.opts.attempts,
      backoff: job.opts.backoff });
    if (job.attemptsMade === 0) throw new Error('first try fails');
    return { ok: job.data.folio };
  }, { connection: redis.connection });
  const q = new Queue('c2n', { connection: redis.connection });
  await h.waitFor(async () => (await q.getJobState('task-1234')) === 'completed', { what: 'completion' });
  await w.close();
  assert.deepEqual(got[0], { id: 'task-1234', name: 'automation', data: { folio: 'A-1', amount: 99.9 },
    attempts: 2, backoff: { type: 'fixed', delay: 10 } });
  assert.equal(got.length, 2);
  const job = await Job.fromId(q, 'task-1234');
  assert.deepEqual(job.returnvalue, { ok: 'A-1' });
  assert.equal(job.attemptsMade, 2);
  // adding the same custom id again is a no-op that returns the id
  assert.equal(h.cEnqueue(redis, 'c2n', { folio: 'other' }, { jobId: 'task-1234' }), 'task-1234');
  assert.equal((await Job.fromId(q, 'task-1234')).data.folio, 'A-1');
  await q.close();
});

test('Node and C workers share 2,000 jobs and each job runs exactly once', async () => {
  const N = 2000;
  const q = new Queue('shared', { connection: redis.connection });
  await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'n', data: { i } })));
  const cw = h.cWorker(redis, ['--queue', 'shared', '--handler', ECHO, '--concurrency', '8',
    '--name', 'c-worker']);
  let nodeRuns = 0;
  const nw = new Worker('shared', async job => {
    nodeRuns++;
    await job.log('ran by node');
    await h.sleep(1);
    return 'node';
  }, { connection: redis.connection, concurrency: 8 });
  // dashboards see both workers (CLIENT SETNAME bull:<base64 queue>[:w:<name>])
  await h.waitFor(async () => (await q.getWorkersCount()) === 2, { what: 'two workers listed' });
  await h.waitFor(async () => (await q.getCompletedCount()) === N, { timeout: 60000, what: 'all completed' });
  cw.kill('SIGTERM');
  await cw.done;
  await nw.close();
  assert.deepEqual(await q.getJobCounts('completed', 'active', 'wait', 'failed'),
    { completed: N, active: 0, wait: 0, failed: 0 });
  const ids = await q.getCompleted(0, -1);
  let byC = 0, byNode = 0;
  const pipe = client.pipeline();
  for (const j of ids) pipe.lrange(`bull:shared:${j.id}:logs`, 0, -1);
  const logs = await pipe.exec();
  for (const [, l] of logs) {
    assert.equal(l.length, 1, 'each job ran exactly once');
    if (l[0] === 'ran by c') byC++; else byNode++;
  }
  const pbs = await Promise.all(ids.slice(0, 200).map(j => client.hget(`bull:shared:${j.id}`, 'pb')));
  assert.ok(pbs.includes('c-worker'), 'jobs run by the C worker carry its name (pb)');
  assert.equal(byC + byNode, N);
  assert.equal(byNode, nodeRuns);
  assert.ok(byC > 0 && byNode > 0, `both workers took jobs (c ${byC}, node ${byNode})`);
  await q.close();
});

test('attempts and backoff are honoured; Node sees failedReason and attemptsMade', async () => {
  // Tolerance: each retry starts no earlier than its backoff and at most 300 ms later.
  const q = new Queue('retry', { connection: redis.connection });
  const qe = new QueueEvents('retry', { connection: redis.connection });
  await qe.waitUntilReady();
  const failed = [];
  qe.on('failed', e => failed.push(e));
  const expo = await q.add('x', { fail: 'portal rejected RFC' },
    { attempts: 4, backoff: { type: 'exponential', delay: 200 } });
  const fixed = await q.add('y', { fail: 'still down' }, { attempts: 3, backoff: { type: 'fixed', delay: 300 } });
  const w = h.cWorker(redis, ['--queue', 'retry', '--handler', ECHO, '--max-jobs', '2']);
  const res = await w.done;
  assert.equal(res.code, 0, res.stderr);
  const ev = await h.events(client, 'retry');
  const gaps = id => {
    const active = ev.filter(e => e.event === 'active' && e.jobId === id).map(e => e.ms);
    const delayed = ev.filter(e => e.event === 'delayed' && e.jobId === id && e.delay);
    return { active, delayed, gaps: active.slice(1).map((t, i) => t - active[i]) };
  };
  const ge = gaps(expo.id);
  assert.equal(ge.active.length, 4);
  [200, 400, 800].forEach((b, i) => {
    assert.ok(ge.gaps[i] >= b && ge.gaps[i] <= b + 300, `exponential retry ${i + 1}: ${ge.gaps[i]} ms for ${b}`);
  });
  const gf = gaps(fixed.id);
  assert.equal(gf.active.length, 3);
  gf.gaps.forEach((g, i) => assert.ok(g >= 300 && g <= 600, `fixed retry ${i + 1}: ${g} ms`));
  for (const [job, n, reason] of [[expo, 4, 'portal rejected RFC'], [fixed, 3, 'still down']]) {
    const j = await Job.fromId(q, job.id);
    assert.equal(await j.getState(), 'failed');
    assert.equal(j.failedReason, reason);
    assert.equal(j.attemptsMade, n);
    assert.equal(j.attemptsStarted, n);
    assert.equal(j.stacktrace.length, n);
  }
  await h.waitFor(() => failed.length === 2, { what: 'failed events' });
  assert.deepEqual(failed.map(f => f.failedReason).sort(), ['portal rejected RFC', 'still down']);
  // only final failures emit "failed", and they also emit retries-exhausted
  assert.equal(ev.filter(e => e.event === 'failed').length, 2);
  assert.equal(ev.filter(e => e.event === 'retries-exhausted').length, 2);
  await qe.close();
  await q.close();
});

test('Queue.getJobCounts agrees with what the C producer and worker did', async () => {
  const q = new Queue('counts', { connection: redis.connection });
  h.cEnqueue(redis, 'counts', { n: 1 });
  h.cEnqueue(redis, 'counts', { n: 2, fail: 'nope' });
  h.cEnqueue(redis, 'counts', { n: 3 }, { priority: 2 });
  h.cEnqueue(redis, 'counts', { n: 4 }, { priority: 1 });
  h.cEnqueue(redis, 'counts', { n: 5 }, { delay: 60000 });
  h.cEnqueue(redis, 'counts', { n: 6 }, { removeOnComplete: true });
  assert.deepEqual(await q.getJobCounts('wait', 'prioritized', 'delayed', 'active'),
    { wait: 3, prioritized: 2, delayed: 1, active: 0 });
  const w = h.cWorker(redis, ['--queue', 'counts', '--handler', ECHO, '--max-jobs', '5']);
  assert.equal((await w.done).code, 0);
  assert.deepEqual(await q.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'completed', 'failed'),
    { wait: 0, prioritized: 0, delayed: 1, active: 0, completed: 3, failed: 1 });
  await q.close();
});

// The order in which one worker at concurrency 1 completes a mix of plain,
// prioritized and delayed jobs (delays long enough for a loaded machine to
// start the worker and run the others first).
async function orderOf(queue, runWorker) {
  const q = new Queue(queue, { connection: redis.connection });
  await q.pause();
  await q.add('p5', { k: 'p5' }, { priority: 5 });
  await q.add('dLong', { k: 'dLong' }, { delay: 1600 });
  await q.add('s1', { k: 's1' });
  await q.add('p1', { k: 'p1' }, { priority: 1 });
  await q.add('dShort', { k: 'dShort' }, { delay: 800 });
  await q.add('p3a', { k: 'p3a' }, { priority: 3 });
  await q.add('s2', { k: 's2' }, { lifo: true });
  await q.add('p3b', { k: 'p3b' }, { priority: 3 });
  await q.add('s3', { k: 's3' });
  await q.resume();
  await runWorker(q);
  const ev = await h.events(client, queue);
  const names = {};
  for (const e of ev) if (e.event === 'added') names[e.jobId] = e.name;
  await q.close();
  return ev.filter(e => e.event === 'completed').map(e => names[e.jobId]);
}

test('priorities and delays order work as bullmq does', async () => {
  const nodeOrder = await orderOf('order-node', async q => {
    let n = 0;
    const w = new Worker('order-node', async () => { n++; await h.sleep(10); }, { connection: redis.connection });
    await h.waitFor(async () => n === 9 && (await q.getCompletedCount()) === 9, { what: 'node order' });
    await w.close();
  });
  const SLOW = h.tmpFile('slow.lua', 'return function(job) local x = 0; for i = 1, 200000 do x = x + i end; return x end');
  const cOrder = await orderOf('order-c', async () => {
    const w = h.cWorker(redis, ['--queue', 'order-c', '--handler', SLOW, '--max-jobs', '9']);
    assert.equal((await w.done).code, 0);
  });
  assert.deepEqual(cOrder.slice(0, 7), nodeOrder.slice(0, 7));
  assert.deepEqual(cOrder.slice(0, 7), ['s2', 's1', 's3', 'p1', 'p3a', 'p3b', 'p5']);
  assert.deepEqual(cOrder.slice(7), ['dShort', 'dLong']);
  assert.deepEqual(nodeOrder.slice(7), ['dShort', 'dLong']);
});

test('a job whose C worker was killed -9 is recovered as stalled and completed once by another worker', async () => {
  const HANG = h.tmpFile('hang.lua', `
return function(job)
  job:log("started")
  if job.data.hang and job.attemptsStarted == 1 then while true do end end
  return "done"
end`);
  const q = new Queue('stall', { connection: redis.connection });
  const job = await q.add('x', { hang: true });
  const a = h.cWorker(redis, ['--queue', 'stall', '--handler', HANG, '--lock-duration', '1000',
    '--stalled-interval', '500']);
  await h.waitFor(async () => (await q.getJobState(job.id)) === 'active', { what: 'active' });
  await h.sleep(200);
  a.kill('SIGKILL');
  await a.done;
  const b = h.cWorker(redis, ['--queue', 'stall', '--handler', HANG, '--lock-duration', '1000',
    '--stalled-interval', '500', '--max-jobs', '1']);
  const res = await b.done;
  assert.equal(res.code, 0, res.stderr);
  const j = await Job.fromId(q, job.id);
  assert.equal(await j.getState(), 'completed');
  assert.equal(j.returnvalue, 'done');
  assert.equal(j.stalledCounter, 1);
  assert.equal(j.attemptsStarted, 2);
  assert.equal(j.attemptsMade, 1);
  const ev = await h.events(client, 'stall');
  assert.equal(ev.filter(e => e.event === 'stalled').length, 1);
  assert.equal(ev.filter(e => e.event === 'completed').length, 1);
  // the hung handler is suspended every 10 ms, so its log line got out
  // before the kill; the second run logged once more
  assert.deepEqual((await q.getJobLogs(job.id)).logs, ['started', 'started']);
  await q.close();
});

test('a job with malformed data fails with a clear failedReason and the worker goes on', async () => {
  const q = new Queue('bad', { connection: redis.connection });
  // A producer that wrote garbage as data (not something bullmq itself writes).
  await client.hset('bull:bad:broken', 'name', 'x', 'data', '{not json', 'opts', '{"attempts":0}',
    'timestamp', String(Date.now()), 'delay', '0', 'priority', '0');
  await client.lpush('bull:bad:wait', 'broken');
  await q.add('ok', { fine: true });
  const w = h.cWorker(redis, ['--queue', 'bad', '--handler', ECHO, '--max-jobs', '2']);
  assert.equal((await w.done).code, 0);
  const state = await q.getJobState('broken');
  assert.equal(state, 'failed');
  const failedReason = await client.hget('bull:bad:broken', 'failedReason');
  assert.match(failedReason, /^job data is not valid JSON/);
  assert.equal(await q.getCompletedCount(), 1);
  await q.close();
});

test('the worker waits for Redis at start and survives a Redis restart without losing jobs', async () => {
  const port = await h.freePort();
  const fs = require('node:fs'), os = require('node:os'), path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-aof-'));
  const extra = ['--appendonly', 'yes', '--appendfsync', 'always'];
  const url = `redis://127.0.0.1:${port}`;
  const SLOWISH = h.tmpFile('slowish.lua', `
return function(job)
  local x = 0
  for i = 1, 300000 do x = x + i end
  job:log("ran")
  return job.data.i
end`);
  // the worker starts first: no Redis yet
  const w = h.cWorker({ url }, ['--queue', 'restart', '--handler', SLOWISH, '--concurrency', '4',
    '--lock-duration', '1000', '--stalled-interval', '500']);
  await h.sleep(700);
  let r = await h.startRedis({ port, dir, extra });
  const q = new Queue('restart', { connection: r.connection });
  const N = 300;
  await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'j', data: { i } })));
  await h.waitFor(async () => (await q.getCompletedCount()) > 20, { what: 'progress before restart' });
  await q.close();
  await r.stop();
  await h.sleep(500);
  r = await h.startRedis({ port, dir, extra });
  const q2 = new Queue('restart', { connection: r.connection });
  const atRestart = await q2.getCompletedCount();
  assert.ok(atRestart < N, `work remained when Redis came back (${atRestart} of ${N} done)`);
  await h.waitFor(async () => (await q2.getCompletedCount()) === N, { timeout: 60000, what: 'all done after restart' });
  w.kill('SIGTERM');
  const res = await w.done;
  assert.match(res.stderr, /reconnecting/);
  assert.deepEqual(await q2.getJobCounts('completed', 'active', 'wait', 'failed'),
    { completed: N, active: 0, wait: 0, failed: 0 });
  await q2.close();
  await r.stop();
});

// Concurrency 4 settles jobs together (finish_many: one lock check and one
// delete for the lot); the outcome must be the same as one by one.
for (const conc of [1, 4]) {
  test(`removeOnComplete / removeOnFail as booleans and counts keep what bullmq keeps (concurrency ${conc})`, async () => {
    const name = `keep${conc}`;
    const q = new Queue(name, { connection: redis.connection });
    for (let i = 1; i <= 5; i++) h.cEnqueue(redis, name, { i }, { jobId: `ok-${i}`, removeOnComplete: 2 });
    for (let i = 1; i <= 3; i++) h.cEnqueue(redis, name, { i, fail: 'x' }, { jobId: `bad-${i}`, removeOnFail: true });
    await q.add('n', { i: 9, fail: 'kept' }, { jobId: 'bad-kept', removeOnFail: { count: 5, age: 3600 } });
    const w = h.cWorker(redis, ['--queue', name, '--handler', ECHO, '--max-jobs', '9',
      '--concurrency', String(conc)]);
    assert.equal((await w.done).code, 0);
    assert.deepEqual((await q.getCompleted()).map(j => j.id).sort(), ['ok-4', 'ok-5']);
    assert.equal(await client.exists(`bull:${name}:ok-1`, `bull:${name}:ok-1:logs`, `bull:${name}:bad-1`), 0);
    assert.deepEqual((await q.getFailed()).map(j => [j.id, j.failedReason]), [['bad-kept', 'kept']]);
    const ev = await h.events(client, name);
    assert.equal(ev.filter(e => e.event === 'failed').length, 4, 'removed jobs still emit their event');
    assert.equal(ev.filter(e => e.event === 'completed').length, 5);
    assert.deepEqual(await q.getJobCounts('active', 'wait', 'completed', 'failed'),
      { active: 0, wait: 0, completed: 2, failed: 1 });
    assert.equal(await client.scard(`bull:${name}:stalled`), 0);
    await q.close();
  });
}

// The scripts run as a Redis function library (FCALL). Flushing functions and
// scripts mid-run makes the worker load them again and resend what failed:
// every job still runs exactly once.
test('FCALL is used, and a FUNCTION FLUSH and SCRIPT FLUSH mid-run lose nothing', async () => {
  const N = 400;
  const q = new Queue('flush', { connection: redis.connection });
  await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'n', data: { i } })));
  const before = await client.info('commandstats');
  const fcalls = s => Number((/cmdstat_fcall:calls=(\d+)/.exec(s) || [0, 0])[1]);
  const w = h.cWorker(redis, ['--queue', 'flush', '--handler', ECHO, '--concurrency', '4']);
  await h.waitFor(async () => (await q.getCompletedCount()) > 50, { what: 'progress before the flush' });
  assert.ok(fcalls(await client.info('commandstats')) > fcalls(before), 'the worker calls FCALL');
  await client.call('FUNCTION', 'FLUSH');
  await client.call('SCRIPT', 'FLUSH');
  await h.waitFor(async () => (await q.getCompletedCount()) === N, { timeout: 30000, what: 'all completed' });
  w.kill('SIGTERM');
  const res = await w.done;
  assert.doesNotMatch(res.stderr, /could not be settled/);
  assert.deepEqual(await q.getJobCounts('completed', 'active', 'wait', 'failed'),
    { completed: N, active: 0, wait: 0, failed: 0 });
  const pipe = client.pipeline();
  for (const j of await q.getCompleted(0, -1)) pipe.llen(`bull:flush:${j.id}:logs`);
  for (const [, n] of await pipe.exec()) assert.equal(n, 1, 'each job ran exactly once');
  await q.close();
});

// A Redis user not allowed FUNCTION (or a Redis before 7) keeps EVALSHA.
test('without FUNCTION the worker runs its scripts by EVALSHA', async () => {
  const r = await h.startRedis();
  const c = new IORedis(r.connection);
  try {
    await c.call('ACL', 'SETUSER', 'default', '-function');
    const q = new Queue('nofn', { connection: r.connection });
    await q.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'n', data: { i } })));
    const w = h.cWorker(r, ['--queue', 'nofn', '--handler', ECHO, '--max-jobs', '20']);
    const res = await w.done;
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await q.getCompletedCount(), 20);
    const stats = await c.info('commandstats');
    assert.match(stats, /cmdstat_evalsha:calls=(\d{2,})/);
    assert.doesNotMatch(stats, /cmdstat_fcall:/);
    await q.close();
  } finally {
    c.disconnect();
    await r.stop();
  }
});

// A Lua handler runs in a coroutine suspended every 10 ms of work: a long one
// keeps its lock (renewed meanwhile) and does not hold up the worker's other
// slots.
test('a long Lua handler keeps its lock and lets the same worker run other jobs', async () => {
  const LONG = h.tmpFile('long.lua', `
return function(job)
  local x = 0
  for i = 1, job.data.n do x = x + i % 7 end
  job:log("ran")
  return x
end`);
  const q = new Queue('long', { connection: redis.connection });
  const long = await q.add('long', { n: 150000000 });
  const w1 = h.cWorker(redis, ['--queue', 'long', '--handler', LONG, '--concurrency', '2',
    '--lock-duration', '500']);
  await h.waitFor(async () => (await q.getJobState(long.id)) === 'active', { what: 'long job active' });
  await q.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'short', data: { n: 1000 + i } })));
  await h.waitFor(async () => (await q.getCompletedCount()) === 5, { what: 'short jobs done' });
  assert.equal(await q.getJobState(long.id), 'active', 'the short jobs ran beside the long one');
  // a second worker checks for stalled jobs four times a lock duration
  const w2 = h.cWorker(redis, ['--queue', 'long', '--handler', LONG, '--stalled-interval', '250']);
  await h.waitFor(async () => (await q.getJobState(long.id)) === 'completed',
    { timeout: 60000, what: 'long job completed' });
  w1.kill('SIGTERM');
  w2.kill('SIGTERM');
  assert.doesNotMatch((await w1.done).stderr, /not settled|could not be settled/);
  await w2.done;
  const job = await Job.fromId(q, long.id);
  assert.deepEqual((await q.getJobLogs(long.id)).logs, ['ran'], 'ran once');
  assert.ok(!job.stalledCounter, 'never recovered as stalled');
  assert.equal((await h.events(client, 'long')).filter(e => e.event === 'stalled').length, 0);
  await q.close();
});
