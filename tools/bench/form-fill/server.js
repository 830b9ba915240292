#!/usr/bin/env node
// server.js -- a zero-dependency HTTP server for the form-fill benchmark and
// the valgrind run: a CFDI-style self-invoicing form (GET /), its submission
// (POST /facturar, checked on the server) and a result page with a UUID.
// Listens on 127.0.0.1, on PORT or a free port; prints "port N" on stdout.
'use strict';
const http = require('http');
const crypto = require('crypto');

const REGIMENES = [
  ['601', 'General de Ley Personas Morales'],
  ['603', 'Personas Morales con Fines no Lucrativos'],
  ['605', 'Sueldos y Salarios e Ingresos Asimilados a Salarios'],
  ['606', 'Arrendamiento'],
  ['612', 'Personas Físicas con Actividades Empresariales y Profesionales'],
  ['616', 'Sin obligaciones fiscales'],
  ['621', 'Incorporación Fiscal'],
  ['626', 'Régimen Simplificado de Confianza'],
];
const USOS = [
  ['G01', 'Adquisición de mercancías'],
  ['G02', 'Devoluciones, descuentos o bonificaciones'],
  ['G03', 'Gastos en general'],
  ['I01', 'Construcciones'],
  ['D01', 'Honorarios médicos, dentales y gastos hospitalarios'],
  ['S01', 'Sin efectos fiscales'],
  ['CP01', 'Pagos'],
];

const esc = (s) => String(s).replace(/[&<>"']/g, (c) =>
  ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const options = (list) => list.map(([k, v]) =>
  `<option value="${k}">${k} - ${esc(v)}</option>`).join('');

const STYLE = `<style>
body{font-family:sans-serif;background:#f4f5f7;margin:0}
header{background:#1f3a5f;color:#fff;padding:12px 24px}
main{max-width:720px;margin:24px auto;background:#fff;padding:24px;border-radius:6px}
fieldset{border:1px solid #ccd;margin:0 0 16px;padding:12px}
label{display:block;margin:8px 0 2px;font-size:14px}
input,select{width:100%;box-sizing:border-box;padding:6px}
input[type=checkbox]{width:auto}
.row{display:flex;gap:12px}.row>div{flex:1}
button{background:#1f3a5f;color:#fff;border:0;padding:10px 24px;margin-top:12px}
#error{color:#b00020;min-height:1em}
</style>`;

const FORM = `<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>Facturación electrónica</title>${STYLE}</head>
<body><header><h1>Portal de autofacturación</h1></header>
<main>
<form id="factura" method="post" action="/facturar" novalidate>
<fieldset><legend>Datos del ticket</legend>
<div class="row">
<div><label for="folio">Folio del ticket</label><input id="folio" name="folio" required maxlength="20"></div>
<div><label for="total">Total (MXN)</label><input id="total" name="total" inputmode="decimal" required></div>
<div><label for="fecha">Fecha de compra</label><input id="fecha" name="fecha" type="date" required></div>
</div></fieldset>
<fieldset><legend>Datos fiscales del receptor</legend>
<label for="rfc">RFC</label><input id="rfc" name="rfc" required maxlength="13" autocomplete="off">
<label for="nombre">Nombre o razón social</label><input id="nombre" name="nombre" required>
<div class="row">
<div><label for="cp">Código postal fiscal</label><input id="cp" name="cp" required maxlength="5" inputmode="numeric"></div>
<div><label for="regimen">Régimen fiscal</label><select id="regimen" name="regimen" required>
<option value="">Seleccione…</option>${options(REGIMENES)}</select></div>
</div>
<label for="uso">Uso del CFDI</label><select id="uso" name="uso" required>
<option value="">Seleccione…</option>${options(USOS)}</select>
<label for="email">Correo electrónico</label><input id="email" name="email" type="email" required>
</fieldset>
<label><input id="acepto" name="acepto" type="checkbox" value="si"> Acepto el aviso de privacidad</label>
<div id="error"></div>
<button id="enviar" type="submit">Generar factura</button>
</form></main>
<script>
document.getElementById('rfc').addEventListener('input', (e) => {
  e.target.value = e.target.value.toUpperCase();
});
document.getElementById('factura').addEventListener('submit', (e) => {
  const f = e.target, err = document.getElementById('error');
  const bad = [];
  if (!/^[A-ZÑ&]{3,4}\\d{6}[A-Z\\d]{3}$/.test(f.rfc.value)) bad.push('RFC');
  if (!/^\\d{5}$/.test(f.cp.value)) bad.push('código postal');
  if (!/^\\d+(\\.\\d{1,2})?$/.test(f.total.value)) bad.push('total');
  if (!f.regimen.value) bad.push('régimen');
  if (!f.uso.value) bad.push('uso del CFDI');
  if (!f.acepto.checked) bad.push('aviso de privacidad');
  if (bad.length) { e.preventDefault(); err.textContent = 'Revise: ' + bad.join(', '); }
});
</script>
</body></html>`;

const RFC = /^[A-ZÑ&]{3,4}\d{6}[A-Z\d]{3}$/;

function check(f) {
  const bad = [];
  if (!f.folio) bad.push('folio');
  if (!/^\d+(\.\d{1,2})?$/.test(f.total || '')) bad.push('total');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(f.fecha || '')) bad.push('fecha');
  if (!RFC.test(f.rfc || '')) bad.push('rfc');
  if (!f.nombre) bad.push('nombre');
  if (!/^\d{5}$/.test(f.cp || '')) bad.push('cp');
  if (!REGIMENES.some(([k]) => k === f.regimen)) bad.push('regimen');
  if (!USOS.some(([k]) => k === f.uso)) bad.push('uso');
  if (!/^[^@\s]+@[^@\s]+$/.test(f.email || '')) bad.push('email');
  if (f.acepto !== 'si') bad.push('acepto');
  return bad;
}

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="es"><head><meta charset="utf-8"><title>${title}</title>${STYLE}</head>` +
          `<body><header><h1>Portal de autofacturación</h1></header><main>${body}</main></body></html>`);
}

const issued = new Map(); // uuid -> the submitted form, for its XML
const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(FORM);
    return;
  }
  if (req.method === 'POST' && path === '/facturar') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; if (body.length > 65536) req.destroy(); });
    req.on('end', () => {
      const f = Object.fromEntries(new URLSearchParams(body));
      const bad = check(f);
      if (bad.length) {
        page(res, 422, 'Error', `<p id="error">Datos inválidos: ${esc(bad.join(', '))}</p>`);
        return;
      }
      const uuid = crypto.randomUUID().toUpperCase();
      issued.set(uuid, f);
      if (issued.size > 1000) issued.delete(issued.keys().next().value);
      page(res, 200, 'Factura generada',
           `<h2 id="ok">Factura generada</h2><p>Folio fiscal (UUID): <span id="uuid">${uuid}</span></p>` +
           `<p>Receptor: ${esc(f.nombre)} · Total: $${esc(f.total)} · Uso: ${esc(f.uso)}</p>` +
           `<p>Enviada a ${esc(f.email)}</p>` +
           `<a id="xml" href="/cfdi/${uuid}.xml" download>Descargar XML</a>`);
    });
    return;
  }
  const m = /^\/cfdi\/([0-9A-F-]{36})\.xml$/.exec(path);
  if (req.method === 'GET' && m && issued.has(m[1])) {
    // a minimal stamped CFDI 4.0 for what was submitted (runs verify it)
    const f = issued.get(m[1]);
    const total = Number(f.total).toFixed(2);
    res.writeHead(200, { 'content-type': 'application/xml',
                         'content-disposition': `attachment; filename="${m[1]}.xml"` });
    res.end('<?xml version="1.0" encoding="UTF-8"?>\n<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" ' +
            `Version="4.0" SubTotal="${total}" Total="${total}" Moneda="MXN" TipoDeComprobante="I">` +
            '<cfdi:Emisor Rfc="EKU9003173C9" Nombre="BENCH" RegimenFiscal="601"/>' +
            `<cfdi:Receptor Rfc="${esc(f.rfc.toUpperCase())}" Nombre="${esc(f.nombre.toUpperCase())}" ` +
            `DomicilioFiscalReceptor="${esc(f.cp)}" RegimenFiscalReceptor="${esc(f.regimen)}" ` +
            `UsoCFDI="${esc(f.uso)}"/>` +
            '<cfdi:Complemento><tfd:TimbreFiscalDigital ' +
            'xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="1.1" ' +
            `UUID="${m[1]}"/></cfdi:Complemento></cfdi:Comprobante>\n`);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});

server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`port ${server.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
