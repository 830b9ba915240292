// ceiling.js -- Redis's own ceiling for our job cycle: the same scripts the C
// worker runs (fetch once, then finish + take-next per job), with fixed
// tokens, written as one pipelined stream from a connection that waits for
// nothing. Jobs must be ids 1..N in the wait list (a fresh queue).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const IORedis = require('ioredis');
const N = +(process.env.N || 20000), PORT = +process.env.PORT;
const dir = process.env.SCRIPTS;
const text = n => fs.readFileSync(path.join(dir, 'prelude.lua'), 'utf8') + '\n' +
  fs.readFileSync(path.join(dir, n + '.lua'), 'utf8');
(async () => {
  const r = new IORedis({ host: '127.0.0.1', port: PORT });
  const fetch = await r.script('LOAD', text('fetch'));
  const finish = await r.script('LOAD', text('finish'));
  const p = 'bull:' + (process.env.QUEUE || 'bench') + ':';
  const now = () => String(Date.now());
  const t0 = process.hrtime.bigint();
  const BATCH = 2000;
  let pipe = r.pipeline();
  pipe.evalsha(fetch, 0, p, now(), 'b:1', '30000', '');
  let results = [];
  for (let i = 1; i <= N; i++) {
    pipe.evalsha(finish, 0, p, String(i), now(), 'b:' + i, 'completed', 'null', '0', '-1', '1000',
      '0', '-1', i < N ? '1' : '0', 'b:' + (i + 1), '30000', '');
    if (i % BATCH === 0 || i === N) {
      results = results.concat(await pipe.exec());
      pipe = r.pipeline();
    }
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const bad = results.filter(([e, v]) => e || (typeof v === 'number' && v < 0)).length;
  console.log(JSON.stringify({ jobs: N, seconds: +s.toFixed(3), jobs_per_sec: Math.round(N / s), errors: bad }));
  r.disconnect();
})();
