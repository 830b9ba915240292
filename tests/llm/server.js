// A stand-in for an OpenAI-compatible chat-completions endpoint, for tests. Zero
// dependencies (node's http module). It checks each request and answers from a script:
//   node tests/llm/server.js --script replies.json [--key K] [--forbid S]... [--parent PID]
// replies.json: [{ "status": 200, "content": "...", "delay_ms": 0 }, ...] used in order
// (the last one repeats). A request is refused (HTTP 400, counted) when it is not a POST to
// /v1/chat/completions with JSON carrying model and messages, when --key is given and the
// Authorization header is not "Bearer K", or when its body contains a --forbid string.
// GET /__requests: [{ok, problem, body}] of every request so far. Prints one line once
// ready: "llm listening http://127.0.0.1:PORT".
'use strict';
const http = require('http');
const fs = require('fs');

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const forbid = args.flatMap((a, i) => (a === '--forbid' ? [args[i + 1]] : []));
const script = JSON.parse(fs.readFileSync(opt('--script'), 'utf8'));
const key = opt('--key');
const parent = opt('--parent');
const seen = [];
let next = 0;

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/__requests') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(seen));
    }
    let problem = null, parsed = null;
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') problem = 'not POST /v1/chat/completions';
    else if (key && req.headers.authorization !== 'Bearer ' + key) problem = 'bad Authorization header';
    else {
      try { parsed = JSON.parse(body); } catch (e) { problem = 'body is not JSON'; }
      if (parsed && (typeof parsed.model !== 'string' || !Array.isArray(parsed.messages))) problem = 'no model or messages';
      for (const f of forbid) if (body.includes(f)) problem = 'forbidden text in the request';
    }
    seen.push({ ok: !problem, problem, body: parsed });
    if (problem) { res.writeHead(400, { 'Content-Type': 'application/json' }); return res.end(JSON.stringify({ error: { message: problem } })); }
    const r = script[Math.min(next++, script.length - 1)];
    setTimeout(() => {
      res.writeHead(r.status || 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion', model: parsed.model,
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: r.content || '' } }],
        usage: { prompt_tokens: Math.ceil(body.length / 4), completion_tokens: Math.ceil((r.content || '').length / 4),
                 total_tokens: Math.ceil(body.length / 4) + Math.ceil((r.content || '').length / 4) } }));
    }, r.delay_ms || 0);
  });
});
server.listen(0, '127.0.0.1', () => { console.log('llm listening http://127.0.0.1:' + server.address().port); });
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (parent) setInterval(() => { try { process.kill(Number(parent), 0); } catch (e) { process.exit(0); } }, 500).unref();
