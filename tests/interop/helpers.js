// helpers.js -- shared by the interop tests: a private redis-server on a free
// loopback port, the C binary (AF_BIN) as worker/producer, small waits.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const IORedis = require('ioredis');

const AF_BIN = process.env.AF_BIN;
if (!AF_BIN || !fs.existsSync(AF_BIN)) {
  throw new Error('AF_BIN must name the built autofactura binary (got ' + AF_BIN + ')');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function waitFor(fn, { timeout = 20000, every = 25, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(every);
  }
}

// Start redis-server; extra args e.g. ['--appendonly', 'yes'].
async function startRedis({ port, dir, extra = [] } = {}) {
  port = port || await freePort();
  dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'af-redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], { stdio: 'ignore' });
  const r = { port, dir, proc, url: `redis://127.0.0.1:${port}`,
    connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null } };
  await waitFor(async () => {
    try {
      const c = new IORedis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0,
        retryStrategy: () => null });
      c.on('error', () => {});
      await c.connect();
      await c.ping();
      c.disconnect();
      return true;
    } catch { return false; }
  }, { what: 'redis-server on ' + port });
  r.stop = () => new Promise(res => {
    if (proc.exitCode !== null || proc.signalCode) return res();
    proc.once('exit', () => res());
    proc.kill('SIGKILL');
  });
  return r;
}

function tmpFile(name, text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-interop-'));
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

// Sanitizer reports seen in any worker's stderr (an ASan build as AF_BIN).
const sanitizerReports = [];

// Run `autofactura worker`; resolves {code, stdout, stderr} on exit.
function cWorker(redis, args, { env = {} } = {}) {
  const p = spawn(AF_BIN, ['worker', ...args], {
    env: { ...process.env, AF_REDIS_URL: redis.url, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  p.stdout.on('data', d => { stdout += d; });
  p.stderr.on('data', d => { stderr += d; });
  p.done = new Promise(resolve => p.on('exit', (code, signal) => {
    if (/AddressSanitizer|LeakSanitizer|runtime error:/.test(stderr)) sanitizerReports.push(stderr);
    resolve({ code, signal, stdout, stderr });
  }));
  p.output = () => ({ stdout, stderr });
  return p;
}

function cEnqueue(redis, queue, data, opts, name) {
  const args = ['enqueue', '--queue', queue, '--data', JSON.stringify(data)];
  if (opts) args.push('--opts', JSON.stringify(opts));
  if (name) args.push('--name', name);
  return execFileSync(AF_BIN, args, { env: { ...process.env, AF_REDIS_URL: redis.url },
    encoding: 'utf8' }).trim();
}

// The events stream as [{id, ms, event, ...fields}].
async function events(client, queue) {
  const raw = await client.xrange(`bull:${queue}:events`, '-', '+');
  return raw.map(([id, f]) => {
    const o = { id, ms: Number(id.split('-')[0]) };
    for (let i = 0; i < f.length; i += 2) o[f[i]] = f[i + 1];
    return o;
  });
}

module.exports = { sanitizerReports, AF_BIN, freePort, sleep, waitFor, startRedis, tmpFile, cWorker, cEnqueue, events };
