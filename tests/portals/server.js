#!/usr/bin/env node
// Bundled test portals: seven self-invoicing ("autofacturación") sites modelled on real
// Mexican vendor portals, each with its own structure, served by one zero-dependency
// server (node's http module only). They validate like real portals (RFC, CP, régimen,
// uso against the SAT catalogs in data/, ticket lookup against tickets.json), issue a
// CFDI 4.0 XML on success and record it for the tests:
//   GET /__records   issued invoices   GET /__attempts   final-step submissions
//   POST /__reset    forget everything
// Usage: node tests/portals/server.js [--port N] [--parent PID]
//   binds 127.0.0.1; N=0 (default) picks a free port; with --parent it exits once process
//   PID is gone, so a test runner killed mid-test leaves no server behind.
// PORTAL_LOG=1 in the environment logs every request on stderr.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

// ======================================================================
// Catalogs and tickets
// ======================================================================

const DATA = path.join(__dirname, 'data');

function parseCsv(text) {
  const rows = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    const cells = [];
    let cur = '', quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; }
        else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',') { cells.push(cur); cur = ''; }
      else cur += ch;
    }
    cells.push(cur);
    rows.push(cells);
  }
  const head = rows.shift();
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

const REGIMENES = parseCsv(fs.readFileSync(path.join(DATA, 'c_RegimenFiscal.csv'), 'utf8')).map((r) => ({
  code: r.code, description: r.description, fisica: r.fisica === '1', moral: r.moral === '1',
}));
const USOS = parseCsv(fs.readFileSync(path.join(DATA, 'c_UsoCFDI.csv'), 'utf8')).map((r) => ({
  code: r.code, description: r.description.replace(/\.$/, ''), fisica: r.fisica === '1', moral: r.moral === '1',
  regimenes: r.regimenes.split('|'),
}));
const REGIMEN_BY_CODE = new Map(REGIMENES.map((r) => [r.code, r]));
const USO_BY_CODE = new Map(USOS.map((u) => [u.code, u]));

const TICKETS = JSON.parse(fs.readFileSync(path.join(__dirname, 'tickets.json'), 'utf8'));

// ======================================================================
// Small helpers: time, money, escaping
// ======================================================================

// Mexico City has no daylight saving time since 2022: UTC-6 all year.
function mexicoNow() {
  return new Date(Date.now() - 6 * 3600 * 1000);
}
function isoLocal(d) {
  return d.toISOString().slice(0, 19);
}
function todayMx() {
  return isoLocal(mexicoNow()).slice(0, 10);
}
function ticketDate(t) {
  return t.date === 'today' ? todayMx() : t.date;
}

// "$1,287.40" / "1287.4" / "1287" -> 128740 (cents), or null.
function parseCents(v) {
  const s = String(v == null ? '' : v).replace(/[\s$,]/g, '');
  if (!/^\d+(\.\d{1,2})?$/.test(s)) return null;
  const [i, f = ''] = s.split('.');
  return Number(i) * 100 + Number((f + '00').slice(0, 2));
}
function money(cents) {
  return (cents / 100).toFixed(2);
}
function moneyHuman(cents) {
  const [i, f] = money(cents).split('.');
  return '$' + i.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + f;
}

function esc(s) {
  return String(s == null ? '' : s)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
const xmlAttr = esc;

function norm(v) {
  return String(v == null ? '' : v).trim();
}

// ======================================================================
// Receptor validation (SAT rules: RFC, CP, régimen by person type, uso by régimen)
// ======================================================================

const RFC_TABLE = '0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ';

function rfcCheckDigit(rfc) {
  let body = [...rfc].slice(0, -1);
  if (body.length === 11) body = [' ', ...body];
  let sum = 0;
  body.forEach((ch, i) => { sum += RFC_TABLE.indexOf(ch) * (13 - i); });
  const r = sum % 11;
  return r === 0 ? '0' : r === 1 ? 'A' : String(11 - r);
}

function normalizeRfc(v) {
  return norm(v).toUpperCase().replace(/[\s-]/g, '');
}

// Returns an error message or null.
function rfcError(rfc) {
  if (!rfc) return 'El RFC es obligatorio.';
  const chars = [...rfc];
  if (chars.length !== 12 && chars.length !== 13) {
    return 'El RFC debe tener 12 caracteres (persona moral) o 13 caracteres (persona física).';
  }
  if (!/^[A-ZÑ&]{3,4}\d{6}[A-Z\d]{2}[A\d]$/u.test(rfc)) return 'El RFC no tiene un formato válido.';
  if (rfc === 'XAXX010101000' || rfc === 'XEXX010101000') {
    return 'No es posible facturar a un RFC genérico. Captura el RFC de tu Constancia de Situación Fiscal.';
  }
  const d = rfc.slice(chars.length - 9, chars.length - 3);
  const yy = Number(d.slice(0, 2)), mm = Number(d.slice(2, 4)), dd = Number(d.slice(4, 6));
  const year = 2000 + yy;
  const date = new Date(Date.UTC(year, mm - 1, dd));
  if (mm < 1 || mm > 12 || date.getUTCMonth() !== mm - 1 || date.getUTCDate() !== dd) {
    return 'El RFC contiene una fecha inválida.';
  }
  if (rfcCheckDigit(rfc) !== chars[chars.length - 1]) {
    return 'El RFC no es válido: verifica la homoclave.';
  }
  return null;
}

function personType(rfc) {
  return [...rfc].length === 12 ? 'moral' : 'fisica';
}

const REGIMEN_CAPITAL = /(\bS\.?\s?A\.?\s?(P\.?\s?I\.?\s?)?(DE\s+C\.?\s?V\.?)?$)|(\bS\.?\s?(DE\s+)?R\.?\s?L\.?(\s+DE\s+C\.?\s?V\.?)?$)|(\bS\.?\s?C\.?$)|(\bA\.?\s?C\.?$)|(\bS\.?\s?A\.?\s?S\.?$)/;

// input: raw strings; returns { receptor (normalised), errors: {field: message} }.
function validateReceptor(input) {
  const receptor = {
    rfc: normalizeRfc(input.rfc),
    nombre: norm(input.nombre).toUpperCase().replace(/\s+/g, ' '),
    cp: norm(input.cp),
    regimen: norm(input.regimen),
    uso: norm(input.uso).toUpperCase(),
    email: norm(input.email).toLowerCase(),
  };
  const errors = {};
  const rfcErr = rfcError(receptor.rfc);
  if (rfcErr) errors.rfc = rfcErr;
  const tipo = rfcErr ? null : personType(receptor.rfc);

  if (!receptor.nombre) errors.nombre = 'El nombre o razón social es obligatorio.';
  else if (receptor.nombre.length > 254) errors.nombre = 'El nombre o razón social es demasiado largo.';
  else if (tipo === 'moral' && REGIMEN_CAPITAL.test(receptor.nombre.replace(/[,.]\s*$/, '.'))) {
    errors.nombre = 'Captura la razón social sin el régimen capital (por ejemplo, sin "S.A. DE C.V."), tal como aparece en tu Constancia de Situación Fiscal.';
  }

  if (!/^\d{5}$/.test(receptor.cp)) errors.cp = 'El código postal debe tener 5 dígitos.';

  const reg = REGIMEN_BY_CODE.get(receptor.regimen);
  if (!receptor.regimen) errors.regimen = 'Selecciona tu régimen fiscal.';
  else if (!reg) errors.regimen = `El régimen fiscal ${receptor.regimen} no existe en el catálogo del SAT.`;
  else if (tipo === 'fisica' && !reg.fisica) {
    errors.regimen = `El régimen fiscal ${reg.code} no corresponde a una persona física (RFC de 13 caracteres).`;
  } else if (tipo === 'moral' && !reg.moral) {
    errors.regimen = `El régimen fiscal ${reg.code} no corresponde a una persona moral (RFC de 12 caracteres).`;
  }

  const uso = USO_BY_CODE.get(receptor.uso);
  if (!receptor.uso) errors.uso = 'Selecciona el uso del CFDI.';
  else if (!uso) errors.uso = `El uso de CFDI ${receptor.uso} no existe en el catálogo del SAT.`;
  else if (tipo === 'fisica' && !uso.fisica) errors.uso = `El uso de CFDI ${uso.code} no aplica para personas físicas.`;
  else if (tipo === 'moral' && !uso.moral) errors.uso = `El uso de CFDI ${uso.code} no aplica para personas morales.`;
  else if (reg && !errors.regimen && !uso.regimenes.includes(reg.code)) {
    errors.uso = `El uso de CFDI ${uso.code} no es compatible con el régimen fiscal ${reg.code}.`;
  }

  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(receptor.email)) errors.email = 'El correo electrónico no es válido.';
  return { receptor, errors };
}

// ======================================================================
// State: issued invoices, attempts, sessions
// ======================================================================

const state = {
  records: [],
  attempts: { total: 0, by_portal: {} },
  xml: new Map(),        // uuid -> { portal, xml }
  sessions: new Map(),   // token -> arbitrary per-portal state
  folio: 10000,
};

function countAttempt(portal) {
  state.attempts.total++;
  state.attempts.by_portal[portal] = (state.attempts.by_portal[portal] || 0) + 1;
}

function newToken() {
  return crypto.randomBytes(16).toString('hex');
}

function alreadyInvoiced(portal, ticket) {
  return state.records.some((r) => r.portal === portal && r.ticket.folio === ticket.folio);
}

// ======================================================================
// CFDI 4.0 issuance
// ======================================================================

const PAC_RFC = 'PAC170415TB5';

const VENDORS = {
  larga: { rfc: 'GLP090312K71', nombre: 'GASOLINERA LOS PINOS', serie: 'GLP', lugar: '45050',
    clave: '15101514', unidad: ['LTR', 'Litro'] },
  asistente: { rfc: 'NSC0102159R7', nombre: 'NUEVA SUPERCOMPRAS DE MEXICO', serie: 'NSCM', lugar: '06600',
    clave: '01010101', unidad: ['H87', 'Pieza'] },
  spa: { rfc: 'CAU110605LB7', nombre: 'CAFES AURORA', serie: 'CA', lugar: '04000',
    clave: '90101501', unidad: ['E48', 'Unidad de servicio'] },
  marco: { rfc: 'FVA980822T56', nombre: 'FARMACIAS DEL VALLE', serie: 'FV', lugar: '03100',
    clave: '51101500', unidad: ['H87', 'Pieza'] },
  sombra: { rfc: 'EHO120417ME3', nombre: 'ELECTROHOGAR', serie: 'EHW', lugar: '64000',
    clave: '52141501', unidad: ['H87', 'Pieza'] },
  captcha: { rfc: 'GEX140930PL0', nombre: 'GASEXPRESS', serie: 'GX', lugar: '76000',
    clave: '15101515', unidad: ['LTR', 'Litro'] },
  vencido: { rfc: 'RFO061103AV9', nombre: 'RESTAURANTES EL FOGON', serie: 'RF', lugar: '11560',
    clave: '90101501', unidad: ['E48', 'Unidad de servicio'] },
  enigma: { rfc: 'PCL150310QW2', nombre: 'PAPELERIA LA CLAVE', serie: 'PC', lugar: '58000',
    clave: '44121600', unidad: ['H87', 'Pieza'] },
};

// Split a total (cents) into subtotal + IVA 16% so that subtotal + round(subtotal * 0.16)
// equals the total exactly when possible (SAT tolerance covers the rare remaining cent).
function splitIva(total) {
  const base = Math.floor(total / 1.16);
  for (let s = base - 4; s <= base + 4; s++) {
    if (s + Math.round(s * 0.16) === total) return { sub: s, iva: total - s };
  }
  const s = Math.round(total / 1.16);
  return { sub: s, iva: total - s };
}

function fakeBase64(bytes) {
  return crypto.randomBytes(bytes).toString('base64');
}

function buildCfdi(portal, ticket, receptor) {
  const v = VENDORS[portal];
  const uuid = crypto.randomUUID().toUpperCase();
  const total = parseCents(ticket.amount);
  const { sub, iva } = splitIva(total);
  const now = mexicoNow();
  const fecha = isoLocal(new Date(now.getTime() - 3000));
  const fechaTimbrado = isoLocal(now);
  const sello = fakeBase64(256);
  const folio = String(++state.folio);
  const traslado = `<cfdi:Traslado Base="${money(sub)}" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="${money(iva)}"/>`;
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.sat.gob.mx/cfd/4 http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd" Version="4.0" Serie="${v.serie}" Folio="${folio}" Fecha="${fecha}" Sello="${sello}" FormaPago="${xmlAttr(ticket.payment || '01')}" NoCertificado="00001000000712345678" Certificado="${fakeBase64(900)}" SubTotal="${money(sub)}" Moneda="MXN" Total="${money(total)}" TipoDeComprobante="I" Exportacion="01" MetodoPago="PUE" LugarExpedicion="${v.lugar}">
  <cfdi:Emisor Rfc="${xmlAttr(v.rfc)}" Nombre="${xmlAttr(v.nombre)}" RegimenFiscal="601"/>
  <cfdi:Receptor Rfc="${xmlAttr(receptor.rfc)}" Nombre="${xmlAttr(receptor.nombre)}" DomicilioFiscalReceptor="${xmlAttr(receptor.cp)}" RegimenFiscalReceptor="${xmlAttr(receptor.regimen)}" UsoCFDI="${xmlAttr(receptor.uso)}"/>
  <cfdi:Conceptos>
    <cfdi:Concepto ClaveProdServ="${v.clave}" NoIdentificacion="${xmlAttr(ticket.folio)}" Cantidad="1" ClaveUnidad="${v.unidad[0]}" Unidad="${v.unidad[1]}" Descripcion="${xmlAttr(ticket.concept)}" ValorUnitario="${money(sub)}" Importe="${money(sub)}" ObjetoImp="02">
      <cfdi:Impuestos>
        <cfdi:Traslados>
          ${traslado}
        </cfdi:Traslados>
      </cfdi:Impuestos>
    </cfdi:Concepto>
  </cfdi:Conceptos>
  <cfdi:Impuestos TotalImpuestosTrasladados="${money(iva)}">
    <cfdi:Traslados>
      ${traslado}
    </cfdi:Traslados>
  </cfdi:Impuestos>
  <cfdi:Complemento>
    <tfd:TimbreFiscalDigital xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" xsi:schemaLocation="http://www.sat.gob.mx/TimbreFiscalDigital http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd" Version="1.1" UUID="${uuid}" FechaTimbrado="${fechaTimbrado}" RfcProvCertif="${PAC_RFC}" SelloCFD="${sello}" NoCertificadoSAT="00001000000709876543" SelloSAT="${fakeBase64(256)}"/>
  </cfdi:Complemento>
</cfdi:Comprobante>
`;
  return { uuid, xml };
}

// Issue the CFDI, keep the XML for download and record the issuance.
function issue(portal, ticket, receptor) {
  const { uuid, xml } = buildCfdi(portal, ticket, receptor);
  state.xml.set(uuid, { portal, xml });
  const t = { ...ticket, date: ticketDate(ticket) };
  delete t.payment;
  state.records.push({ portal, ticket: t, receptor: { ...receptor }, uuid, at: new Date().toISOString() });
  return uuid;
}

// ======================================================================
// HTTP plumbing
// ======================================================================

function send(res, status, body, headers = {}) {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Length': buf.length, 'Cache-Control': 'no-store', ...headers });
  res.end(buf);
}
function sendHtml(res, status, html, headers = {}) {
  send(res, status, html, { 'Content-Type': 'text/html; charset=utf-8', ...headers });
}
function sendJson(res, status, obj, headers = {}) {
  send(res, status, JSON.stringify(obj), { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}
function redirect(res, location, headers = {}) {
  res.writeHead(303, { Location: location, 'Content-Length': 0, ...headers });
  res.end();
}
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
async function readForm(req) {
  const text = await readBody(req);
  const type = req.headers['content-type'] || '';
  if (type.includes('application/json')) {
    try { return JSON.parse(text || '{}'); } catch { return {}; }
  }
  return Object.fromEntries(new URLSearchParams(text));
}
function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

function sendXml(res, portal, uuid) {
  const entry = state.xml.get(String(uuid).toUpperCase());
  if (!entry || entry.portal !== portal) return notFound(res);
  send(res, 200, entry.xml, {
    'Content-Type': 'application/xml; charset=utf-8',
    'Content-Disposition': `attachment; filename="${uuid.toUpperCase()}.xml"`,
  });
}

function notFound(res) {
  sendHtml(res, 404, `<!doctype html><html lang="es"><meta charset="utf-8"><title>Página no encontrada</title>
<body style="font-family:sans-serif;padding:40px"><h1>404</h1><p>La página que buscas no existe.</p><p><a href="/">Volver al inicio</a></p></body></html>`);
}

// ======================================================================
// Page building blocks (shared markup; each portal brings its own theme)
// ======================================================================

const BASE_CSS = `
*{box-sizing:border-box}
body{margin:0;font-family:"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#222;background:var(--bg,#f4f5f7);font-size:15px}
header.top{background:var(--brand);color:#fff;padding:14px 32px;display:flex;align-items:center;gap:18px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.logo{font-weight:800;font-size:24px;letter-spacing:.5px}
.logo .badge{display:inline-block;background:var(--accent);color:var(--accent-text,#fff);border-radius:50%;width:40px;height:40px;line-height:40px;text-align:center;font-size:16px;margin-right:10px;vertical-align:middle}
.logo small{display:block;font-size:11px;font-weight:400;letter-spacing:2px;opacity:.85}
header.top nav{margin-left:auto;font-size:13px}
header.top nav a{color:#fff;margin-left:16px;text-decoration:none;opacity:.9}
main{max-width:880px;margin:28px auto;background:#fff;border-radius:8px;padding:28px 36px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:24px;margin:0 0 6px;color:var(--brand)}
h2{font-size:17px;margin:26px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--accent);color:#333}
p.intro{color:#555;margin-top:0}
.fila{display:flex;gap:18px;flex-wrap:wrap}
.fila>.campo{flex:1 1 220px}
.campo{margin-bottom:14px}
.campo label{display:block;font-weight:600;font-size:13px;margin-bottom:4px}
.campo input,.campo select{width:100%;padding:9px 10px;border:1px solid #bbb;border-radius:4px;font-size:15px;background:#fff}
.campo input:focus,.campo select:focus{outline:2px solid var(--accent);border-color:var(--accent)}
.campo .ayuda{display:block;color:#777;font-size:12px;margin-top:3px}
.campo.con-error input,.campo.con-error select{border-color:#c62828;background:#fff6f6}
.field-error{color:#c62828;font-size:12.5px;margin-top:3px}
.alert-error{background:#fdecea;border:1px solid #f5c2c0;border-left:5px solid #c62828;color:#8a1c1c;padding:12px 16px;border-radius:4px;margin:0 0 18px}
.alert-error ul{margin:6px 0 0 18px;padding:0}
.alert-error p{margin:0}
.alert-info{background:#eef6fd;border:1px solid #c5def5;color:#234;padding:10px 14px;border-radius:4px;font-size:13.5px;margin-bottom:16px}
.btn{display:inline-block;background:var(--accent);color:var(--accent-text,#fff);border:0;border-radius:4px;padding:11px 26px;font-size:15px;font-weight:700;cursor:pointer;text-decoration:none}
.btn.sec{background:#e0e0e0;color:#333}
.acciones{margin-top:22px;display:flex;gap:12px;align-items:center}
.check{display:flex;gap:8px;align-items:flex-start;font-size:13px;color:#444;margin-top:10px}
.resultado{text-align:center;padding:20px 0}
.resultado .ok{font-size:46px;color:#2e7d32}
.uuid{font-family:Consolas,monospace;font-size:17px;background:#f1f8e9;padding:4px 10px;border-radius:4px;display:inline-block;margin:6px 0 16px}
table.datos{border-collapse:collapse;width:100%;margin:10px 0}
table.datos th{text-align:left;width:38%;background:#f7f7f7;font-weight:600;font-size:13px}
table.datos td,table.datos th{border:1px solid #e2e2e2;padding:8px 10px}
footer{text-align:center;color:#888;font-size:12px;padding:18px 0 30px}
`;

function layout(theme, title, body, extraHead = '') {
  return `<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ${esc(theme.vendor)}</title>
<style>:root{${theme.vars}}${BASE_CSS}${theme.css || ''}</style>
${extraHead}
</head>
<body>
<header class="top"><div class="logo">${theme.logo}</div><nav>${theme.nav || ''}</nav></header>
${body}
<footer>${esc(theme.footer || `© ${new Date().getFullYear()} ${theme.vendor}. Todos los derechos reservados.`)}</footer>
</body>
</html>`;
}

function field(id, label, value, errors, opts = {}) {
  const err = errors && errors[opts.key || id];
  const attrs = opts.attrs || '';
  return `<div class="campo${err ? ' con-error' : ''}">
  <label for="${id}">${esc(label)}</label>
  <input id="${id}" name="${opts.name || id}" type="${opts.type || 'text'}" value="${esc(value)}" autocomplete="off"${opts.placeholder ? ` placeholder="${esc(opts.placeholder)}"` : ''} ${attrs}>
  ${opts.help ? `<small class="ayuda">${esc(opts.help)}</small>` : ''}
  ${err ? `<div class="field-error" id="${id}-error">${esc(err)}</div>` : ''}
</div>`;
}

function optionsRegimen(selected, fmt) {
  return REGIMENES.map((r) => `<option value="${r.code}"${r.code === selected ? ' selected' : ''}>${esc(fmt(r))}</option>`).join('');
}
function optionsUso(selected, fmt) {
  return USOS.map((u) => `<option value="${u.code}"${u.code === selected ? ' selected' : ''}>${esc(fmt(u))}</option>`).join('');
}
function selectField(id, label, optionsHtml, placeholder, errors, opts = {}) {
  const err = errors && errors[opts.key || id];
  return `<div class="campo${err ? ' con-error' : ''}">
  <label for="${id}">${esc(label)}</label>
  <select id="${id}" name="${opts.name || id}"><option value="">${esc(placeholder)}</option>${optionsHtml}</select>
  ${opts.help ? `<small class="ayuda">${esc(opts.help)}</small>` : ''}
  ${err ? `<div class="field-error" id="${id}-error">${esc(err)}</div>` : ''}
</div>`;
}

function errorBox(errors, message) {
  const list = Object.values(errors || {});
  if (!list.length && !message) return '';
  if (message && !list.length) return `<div class="alert-error" role="alert"><p>${esc(message)}</p></div>`;
  return `<div class="alert-error" role="alert"><p>${esc(message || 'Revisa los datos marcados:')}</p><ul>${list.map((m) => `<li>${esc(m)}</li>`).join('')}</ul></div>`;
}

function resultBlock(portal, uuid, extra = '') {
  return `<div class="resultado" id="resultado">
  <div class="ok">✔</div>
  <h1>Factura generada</h1>
  <p>Tu factura fue timbrada correctamente. También la enviamos al correo que registraste.</p>
  <p>Folio fiscal (UUID):<br><span class="uuid" id="uuid">${esc(uuid)}</span></p>
  <p><a class="btn" id="descargar-xml" href="/${portal}/xml/${esc(uuid)}">Descargar XML</a></p>
  ${extra}
</div>`;
}

// Receptor fields as posted by the classic (server-rendered) portals.
function receptorFrom(form) {
  return { rfc: form.rfc, nombre: form.razon_social ?? form.nombre, cp: form.codigo_postal ?? form.cp,
    regimen: form.regimen_fiscal ?? form.regimen, uso: form.uso_cfdi ?? form.uso, email: form.email };
}

function findTicket(portal, pred) {
  return (TICKETS[portal] || []).find(pred) || null;
}
function eqId(a, b) {
  return norm(a).toUpperCase().replace(/[\s-]/g, '') === norm(b).toUpperCase().replace(/[\s-]/g, '');
}

// ======================================================================
// Portal 1: /larga/ — one long form (gas-station style)
// ======================================================================

const LARGA = {
  vendor: 'Gasolinera Los Pinos',
  vars: '--brand:#0b6b35;--accent:#f2b705;--accent-text:#1d1d1d;--bg:#eef3ef',
  logo: '<span class="badge">LP</span>LOS PINOS<small>ESTACIONES DE SERVICIO</small>',
  nav: '<a href="/larga/">Facturación</a><a href="/larga/">Preguntas frecuentes</a><a href="/larga/">Contacto</a>',
};

function largaForm(v = {}, errors = {}, message) {
  const regFmt = (r) => `${r.code} - ${r.description}`;
  const usoFmt = (u) => `${u.code} - ${u.description}`;
  return layout(LARGA, 'Facturación electrónica', `<main>
<h1>Facturación electrónica</h1>
<p class="intro">Genera tu factura CFDI 4.0 con los datos impresos en tu ticket de compra. Todos los campos son obligatorios.</p>
${errorBox(errors, message)}
<form id="form-factura" method="post" action="/larga/facturar" novalidate>
<h2>1. Datos del ticket</h2>
<div class="fila">
${field('estacion', 'Número de estación', v.estacion, errors, { help: 'Aparece como "E.S." en la parte superior del ticket.', attrs: 'maxlength="6"' })}
${field('folio', 'Folio', v.folio, errors, { attrs: 'maxlength="12"' })}
</div>
<div class="fila">
${field('webid', 'Web ID', v.webid, errors, { help: 'Clave de 6 caracteres impresa al pie del ticket.', attrs: 'maxlength="6"' })}
${field('total', 'Total de la compra', v.total, errors, { placeholder: '0.00', help: 'Importe con centavos, sin signo de pesos.' })}
${field('fecha', 'Fecha de la compra', v.fecha, errors, { type: 'date' })}
</div>
<h2>2. Datos fiscales del receptor</h2>
<div class="alert-info">Captura tus datos exactamente como aparecen en tu Constancia de Situación Fiscal. Las personas morales deben omitir el régimen capital (S.A. de C.V., etc.).</div>
<div class="fila">
${field('rfc', 'RFC', v.rfc, errors, { help: '12 caracteres para personas morales, 13 para personas físicas.', attrs: 'maxlength="13"' })}
${field('razon_social', 'Nombre o razón social', v.razon_social, errors, { key: 'nombre' })}
</div>
<div class="fila">
${field('codigo_postal', 'Código postal del domicilio fiscal', v.codigo_postal, errors, { key: 'cp', attrs: 'maxlength="5" inputmode="numeric"' })}
${selectField('regimen_fiscal', 'Régimen fiscal', optionsRegimen(v.regimen_fiscal, regFmt), 'Selecciona...', errors, { key: 'regimen' })}
</div>
${selectField('uso_cfdi', 'Uso del CFDI', optionsUso(v.uso_cfdi, usoFmt), 'Selecciona...', errors, { key: 'uso', help: 'El uso debe corresponder a tu régimen fiscal.' })}
<div class="fila">
${field('email', 'Correo electrónico', v.email, errors, { type: 'email' })}
${field('email2', 'Confirma tu correo electrónico', v.email2, errors, { type: 'email' })}
</div>
<label class="check"><input type="checkbox" id="acepto" name="acepto" value="1"${v.acepto ? ' checked' : ''}> He leído y acepto el aviso de privacidad.</label>
${errors.acepto ? `<div class="field-error" id="acepto-error">${esc(errors.acepto)}</div>` : ''}
<div class="acciones"><button class="btn" type="submit" id="facturar">Facturar</button><a href="/larga/" class="btn sec">Limpiar</a></div>
</form>
</main>`);
}

async function larga(req, res, sub) {
  // a visit cookie scripts can read (not HttpOnly), as analytics cookies are
  if (req.method === 'GET' && sub === '')
    return sendHtml(res, 200, largaForm(), { 'Set-Cookie': `sc_visita=${crypto.randomBytes(8).toString('hex')}; Path=/larga/` });
  if (req.method === 'POST' && sub === 'facturar') {
    countAttempt('larga');
    const f = await readForm(req);
    const { receptor, errors } = validateReceptor(receptorFrom(f));
    if (!errors.email && norm(f.email2).toLowerCase() !== receptor.email) errors.email2 = 'Los correos electrónicos no coinciden.';
    if (!f.acepto) errors.acepto = 'Debes aceptar el aviso de privacidad.';
    const tErr = {};
    if (!norm(f.estacion)) tErr.estacion = 'Captura el número de estación.';
    if (!norm(f.folio)) tErr.folio = 'Captura el folio del ticket.';
    if (!norm(f.webid)) tErr.webid = 'Captura el Web ID.';
    const cents = parseCents(f.total);
    if (cents === null) tErr.total = 'El total debe ser un importe con centavos, por ejemplo 850.37.';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(norm(f.fecha))) tErr.fecha = 'Captura la fecha de la compra.';
    const all = { ...tErr, ...errors };
    if (Object.keys(all).length) return sendHtml(res, 422, largaForm(f, all));
    const t = findTicket('larga', (t) => eqId(t.store, f.estacion) && eqId(t.folio, f.folio));
    if (!t || !eqId(t.web_id, f.webid) || parseCents(t.amount) !== cents || ticketDate(t) !== norm(f.fecha)) {
      return sendHtml(res, 422, largaForm(f, {}, 'No encontramos un ticket con esos datos. Verifica número de estación, folio, Web ID, total y fecha impresos en tu ticket.'));
    }
    if (alreadyInvoiced('larga', t)) {
      return sendHtml(res, 409, largaForm(f, {}, `El ticket ${t.folio} ya fue facturado. Puedes recuperar tu factura en la sección "Reimpresión".`));
    }
    const uuid = issue('larga', t, receptor);
    return sendHtml(res, 200, layout(LARGA, 'Factura generada', `<main>${resultBlock('larga', uuid,
      `<p><a href="/larga/">Facturar otro ticket</a></p>`)}</main>`));
  }
  const m = /^xml\/([0-9A-Fa-f-]{36})$/.exec(sub);
  if (req.method === 'GET' && m) return sendXml(res, 'larga', m[1]);
  return notFound(res);
}

// ======================================================================
// Portal 2: /asistente/ — Walmart-like wizard (server-side steps, cookie session)
// ======================================================================

const ASIS = {
  vendor: 'SuperCompras México',
  vars: '--brand:#0a5fb4;--accent:#ffc220;--accent-text:#0a2d57;--bg:#f2f5f9',
  logo: 'SuperCompras <span style="color:#ffc220">✱</span><small>FACTURACIÓN ELECTRÓNICA</small>',
  nav: '<a href="/asistente/">Obtener factura</a><a href="/asistente/">Consultar</a><a href="/asistente/">Ayuda</a>',
  css: `
.pasos{display:flex;gap:0;margin:0 0 22px;list-style:none;padding:0;counter-reset:p}
.pasos li{flex:1;text-align:center;padding:8px 4px;background:#e8edf3;color:#667;font-size:13px;border-right:2px solid #fff}
.pasos li.activo{background:var(--brand);color:#fff;font-weight:700}
.pasos li.hecho{background:#cfe0f3;color:#0a5fb4}
#aviso{position:fixed;inset:0;background:rgba(10,30,60,.6);display:flex;align-items:center;justify-content:center;z-index:50}
#aviso .dialogo{background:#fff;max-width:520px;border-radius:8px;padding:26px 30px;box-shadow:0 10px 30px rgba(0,0,0,.4)}
#aviso h3{margin-top:0;color:#0a5fb4}
#aviso[hidden]{display:none}
.resumen-ticket{background:#f7f9fc;border:1px dashed #9bb5d6;padding:10px 14px;border-radius:4px;font-size:13.5px;margin-bottom:14px}
`,
};

function asisSteps(n) {
  const names = ['Ticket', 'Datos fiscales', 'Confirmación', 'Factura'];
  return `<ol class="pasos">${names.map((s, i) => `<li class="${i + 1 === n ? 'activo' : i + 1 < n ? 'hecho' : ''}">${i + 1}. ${s}</li>`).join('')}</ol>`;
}

function asisSession(req) {
  const sid = cookies(req).sc_sesion;
  return sid && state.sessions.get('asis:' + sid) ? { sid, s: state.sessions.get('asis:' + sid) } : null;
}

function asisPaso1(v = {}, errors = {}, message, showAviso = true) {
  return layout(ASIS, 'Obtener factura', `<main>
${asisSteps(1)}
<h1>Obtener factura</h1>
<p class="intro">Ingresa los datos de tu ticket de compra. Puedes facturar tus compras de SuperCompras, SuperCompras Express y Bodega SC.</p>
${errorBox(errors, message)}
<form id="form-ticket" method="post" action="/asistente/paso1" novalidate>
${field('tc', 'Número de ticket (TC#)', v.tc, errors, { help: 'Son los 21 dígitos que aparecen junto a "TC#" debajo del código de barras.', attrs: 'maxlength="25" inputmode="numeric"' })}
<div class="fila">
${field('tr', 'Número de transacción (TR#)', v.tr, errors, { help: '5 dígitos junto a "TR#".', attrs: 'maxlength="5" inputmode="numeric"' })}
${field('total', 'Total pagado', v.total, errors, { placeholder: '0.00' })}
</div>
<div class="acciones"><button class="btn" type="submit" id="buscar-ticket">Continuar</button></div>
</form>
</main>
<div id="aviso" role="dialog" aria-modal="true" aria-labelledby="aviso-titulo"${showAviso ? '' : ' hidden'}>
 <div class="dialogo">
  <h3 id="aviso-titulo">Aviso</h3>
  <p>Las facturas se generan con los datos capturados y <strong>no podrán modificarse</strong> una vez timbradas.</p>
  <p>Solo puedes facturar tickets del mes en curso y hasta 30 días naturales del mes siguiente. La factura también se enviará a tu correo en un plazo de hasta 24 horas.</p>
  <div class="acciones"><button class="btn" type="button" id="aviso-aceptar">Aceptar</button></div>
 </div>
</div>
<script>
document.getElementById('aviso-aceptar').addEventListener('click', function () {
  document.getElementById('aviso').hidden = true;
  document.getElementById('tc').focus();
});
</script>`);
}

function asisPaso2(s, v = {}, errors = {}, message) {
  const t = s.ticket;
  return layout(ASIS, 'Datos fiscales', `<main>
${asisSteps(2)}
<h1>Datos fiscales</h1>
<div class="resumen-ticket" id="resumen-ticket">Ticket TC# ${esc(t.barcode)} · TR# ${esc(t.folio)} · Total ${moneyHuman(parseCents(t.amount))} · Forma de pago: ${t.payment === '04' ? '04 - Tarjeta de crédito' : t.payment === '28' ? '28 - Tarjeta de débito' : '01 - Efectivo'}</div>
${errorBox(errors, message)}
<form id="form-fiscal" method="post" action="/asistente/paso2" novalidate>
<div class="fila">
${field('rfc', 'RFC', v.rfc, errors, { attrs: 'maxlength="13"' })}
${field('cp', 'Código postal', v.cp, errors, { attrs: 'maxlength="5"' })}
</div>
${field('nombre', 'Nombre, denominación o razón social', v.nombre, errors, { help: 'Tal como aparece en tu Constancia de Situación Fiscal, sin régimen capital.' })}
${selectField('regimen', 'Régimen fiscal', optionsRegimen(v.regimen, (r) => `${r.code} ${r.description}`), '-- Selecciona tu régimen --', errors)}
${selectField('uso', 'Uso de CFDI', optionsUso(v.uso, (u) => `${u.code} ${u.description}`), '-- Selecciona el uso --', errors)}
${field('email', 'Correo electrónico', v.email, errors, { type: 'email', help: 'Te enviaremos el PDF y el XML.' })}
<div class="acciones"><button class="btn" type="submit" id="continuar">Continuar</button><a class="btn sec" href="/asistente/?sin_aviso=1">Regresar</a></div>
</form>
</main>`);
}

function asisConfirm(s, message) {
  const r = s.receptor, t = s.ticket;
  const reg = REGIMEN_BY_CODE.get(r.regimen), uso = USO_BY_CODE.get(r.uso);
  return layout(ASIS, 'Confirmación', `<main>
${asisSteps(3)}
<h1>Confirma tus datos</h1>
${message ? errorBox({}, message) : ''}
<div class="alert-info"><strong>Verifica tus datos:</strong> una vez timbrada, la factura no podrá modificarse ni cancelarse desde este portal.</div>
<table class="datos" id="confirmacion">
<tr><th>RFC</th><td id="conf-rfc">${esc(r.rfc)}</td></tr>
<tr><th>Nombre o razón social</th><td id="conf-nombre">${esc(r.nombre)}</td></tr>
<tr><th>Código postal</th><td id="conf-cp">${esc(r.cp)}</td></tr>
<tr><th>Régimen fiscal</th><td id="conf-regimen">${esc(r.regimen)} - ${esc(reg.description)}</td></tr>
<tr><th>Uso de CFDI</th><td id="conf-uso">${esc(r.uso)} - ${esc(uso.description)}</td></tr>
<tr><th>Correo electrónico</th><td id="conf-email">${esc(r.email)}</td></tr>
<tr><th>Ticket</th><td>TC# ${esc(t.barcode)} / TR# ${esc(t.folio)}</td></tr>
<tr><th>Total</th><td>${moneyHuman(parseCents(t.amount))}</td></tr>
</table>
<form id="form-confirmar" method="post" action="/asistente/timbrar">
<input type="hidden" name="paso" value="3">
<div class="acciones"><button class="btn" type="submit" id="confirmar">Confirmar y timbrar</button><a class="btn sec" id="corregir" href="/asistente/paso2">Corregir datos</a></div>
</form>
</main>`);
}

async function asistente(req, res, sub, url) {
  const sess = asisSession(req);
  if (req.method === 'GET' && sub === '') return sendHtml(res, 200, asisPaso1({}, {}, null, !url.searchParams.get('sin_aviso')));
  if (req.method === 'POST' && sub === 'paso1') {
    const f = await readForm(req);
    const errors = {};
    const tc = norm(f.tc).replace(/\s/g, ''), tr = norm(f.tr);
    if (!/^\d{21}$/.test(tc)) errors.tc = 'El número de ticket (TC#) debe tener 21 dígitos.';
    if (!/^\d{5}$/.test(tr)) errors.tr = 'El número de transacción (TR#) debe tener 5 dígitos.';
    const cents = parseCents(f.total);
    if (cents === null) errors.total = 'Captura el total pagado con centavos.';
    if (Object.keys(errors).length) return sendHtml(res, 422, asisPaso1(f, errors, null, false));
    const t = findTicket('asistente', (t) => t.barcode === tc && t.folio === tr);
    if (!t || parseCents(t.amount) !== cents) {
      return sendHtml(res, 422, asisPaso1(f, {}, 'No encontramos tu ticket. Verifica el TC#, el TR# y el total impresos en tu ticket.', false));
    }
    if (alreadyInvoiced('asistente', t)) {
      return sendHtml(res, 409, asisPaso1(f, {}, 'Este ticket ya fue facturado. Usa la opción "Consultar" para reenviar tu factura.', false));
    }
    const sid = newToken();
    state.sessions.set('asis:' + sid, { ticket: t });
    return redirect(res, '/asistente/paso2', { 'Set-Cookie': `sc_sesion=${sid}; Path=/asistente/; HttpOnly; SameSite=Lax` });
  }
  if (sub === 'paso2' || sub === 'confirmar' || sub === 'timbrar' || sub === 'listo') {
    if (!sess) return sendHtml(res, 440, asisPaso1({}, {}, 'Tu sesión expiró. Captura nuevamente los datos de tu ticket.', false));
    const s = sess.s;
    if (sub === 'paso2' && req.method === 'GET') return sendHtml(res, 200, asisPaso2(s, s.form || {}));
    if (sub === 'paso2' && req.method === 'POST') {
      const f = await readForm(req);
      const { receptor, errors } = validateReceptor(receptorFrom(f));
      if (Object.keys(errors).length) return sendHtml(res, 422, asisPaso2(s, f, errors));
      s.form = f;
      s.receptor = receptor;
      return redirect(res, '/asistente/confirmar');
    }
    if (sub === 'confirmar' && req.method === 'GET') {
      if (!s.receptor) return redirect(res, '/asistente/paso2');
      return sendHtml(res, 200, asisConfirm(s));
    }
    if (sub === 'timbrar' && req.method === 'POST') {
      countAttempt('asistente');
      await readForm(req);
      if (!s.receptor) return redirect(res, '/asistente/paso2');
      if (alreadyInvoiced('asistente', s.ticket)) return sendHtml(res, 409, asisConfirm(s, 'Este ticket ya fue facturado.'));
      s.uuid = issue('asistente', s.ticket, s.receptor);
      return redirect(res, '/asistente/listo');
    }
    if (sub === 'listo' && req.method === 'GET') {
      if (!s.uuid) return redirect(res, '/asistente/confirmar');
      return sendHtml(res, 200, layout(ASIS, 'Factura generada', `<main>${asisSteps(4)}${resultBlock('asistente', s.uuid,
        '<p><a href="/asistente/?sin_aviso=1">Facturar otro ticket</a></p>')}</main>`));
    }
  }
  const m = /^xml\/([0-9A-Fa-f-]{36})$/.exec(sub);
  if (req.method === 'GET' && m) return sendXml(res, 'asistente', m[1]);
  return notFound(res);
}

// ======================================================================
// Portal 3: /spa/ — JS-rendered single-page app, JSON API, custom listboxes
// ======================================================================

const SPA = {
  vendor: 'Cafés Aurora',
  vars: '--brand:#5b3a29;--accent:#c8792b;--bg:#f7f1ea',
  logo: '<span class="badge">CA</span>Cafés Aurora<small>FACTURA TU CONSUMO</small>',
  nav: '<a href="/spa/">Facturar</a><a href="/spa/">Sucursales</a>',
  css: `
#app{min-height:300px}
.cargando{color:#999;text-align:center;padding:60px}
.fecha-partida{display:flex;gap:8px}
.fecha-partida input{width:70px!important;text-align:center}
.fecha-partida input.anio{width:90px!important}
.dropdown{position:relative}
.dropdown-trigger{width:100%;text-align:left;padding:9px 34px 9px 10px;border:1px solid #bbb;border-radius:4px;background:#fff;font-size:15px;cursor:pointer;position:relative;min-height:40px;font-family:inherit;color:#222}
.dropdown-trigger::after{content:"▾";position:absolute;right:12px;top:9px;color:#777}
.dropdown-trigger .placeholder{color:#888}
.dropdown ul{position:absolute;z-index:20;left:0;right:0;top:100%;margin:2px 0 0;padding:4px 0;list-style:none;background:#fff;border:1px solid #c9b7a5;border-radius:4px;box-shadow:0 6px 18px rgba(0,0,0,.18);max-height:260px;overflow:auto}
.dropdown ul[hidden]{display:none}
.dropdown li{padding:8px 12px;cursor:pointer;font-size:14px}
.dropdown li[role=option]:hover,.dropdown li.activo{background:#f3e6d8}
.dropdown li[aria-selected=true]{font-weight:700}
.dropdown li.vacio{color:#999;cursor:default}
.error-banner{background:#fdecea;border-left:5px solid #c62828;color:#8a1c1c;padding:12px 16px;border-radius:4px;margin-bottom:16px}
.campo-error{color:#c62828;font-size:12.5px;margin-top:3px}
.ticket-ok{background:#eef7ee;border:1px solid #b9dcb9;padding:10px 14px;border-radius:4px;margin-bottom:14px;font-size:14px}
`,
};

const SPA_JS = String.raw`
(function () {
  'use strict';
  var app = document.getElementById('app');
  var state = { token: null, ticket: null, regimen: '', uso: '', regimenes: [] };

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') el.textContent = attrs[k];
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) el.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return el;
  }
  function api(method, url, body) {
    return fetch(url, { method: method, headers: { 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json(); });
  }
  function campo(id, label, input, help) {
    return h('div', { class: 'campo', id: 'campo-' + id }, [
      h('label', { for: id, text: label }), input,
      help ? h('small', { class: 'ayuda', text: help }) : null,
      h('div', { class: 'campo-error', id: id + '-error', hidden: 'hidden' })
    ]);
  }
  function input(id, extra) {
    var a = { id: id, type: 'text', autocomplete: 'off' };
    Object.keys(extra || {}).forEach(function (k) { a[k] = extra[k]; });
    return h('input', a);
  }
  function showErrors(mensaje, errores) {
    var banner = document.getElementById('errores');
    banner.textContent = mensaje || '';
    banner.hidden = !mensaje;
    document.querySelectorAll('.campo-error').forEach(function (e) { e.hidden = true; e.textContent = ''; });
    Object.keys(errores || {}).forEach(function (k) {
      var e = document.getElementById(k + '-error');
      if (e) { e.textContent = errores[k]; e.hidden = false; }
    });
  }

  // A custom listbox: trigger button + ul[role=listbox] of li[role=option][data-value].
  function dropdown(id, placeholder, onChange) {
    var label = h('span', { class: 'placeholder', text: placeholder });
    var list = h('ul', { id: id + '-listbox', role: 'listbox', hidden: 'hidden', 'aria-labelledby': id + '-label' });
    var trigger = h('button', { type: 'button', id: id + '-trigger', class: 'dropdown-trigger', role: 'combobox',
      'aria-haspopup': 'listbox', 'aria-expanded': 'false', 'aria-controls': id + '-listbox', 'data-value': '' }, [label]);
    var box = h('div', { class: 'dropdown', id: id }, [trigger, list]);
    function close() { list.hidden = true; trigger.setAttribute('aria-expanded', 'false'); }
    function open() {
      document.querySelectorAll('.dropdown ul').forEach(function (u) { u.hidden = true; });
      list.hidden = false; trigger.setAttribute('aria-expanded', 'true');
    }
    trigger.addEventListener('click', function (ev) { ev.stopPropagation(); if (list.hidden) open(); else close(); });
    trigger.addEventListener('keydown', function (ev) {
      if (ev.key === 'ArrowDown' || ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); var f = list.querySelector('[role=option]'); if (f) f.focus(); }
      if (ev.key === 'Escape') close();
    });
    document.addEventListener('click', function (ev) { if (!box.contains(ev.target)) close(); });
    box.setOptions = function (opts, emptyText) {
      list.innerHTML = '';
      if (!opts.length) list.appendChild(h('li', { class: 'vacio', text: emptyText }));
      opts.forEach(function (o) {
        var li = h('li', { role: 'option', tabindex: '-1', 'data-value': o.value, 'aria-selected': 'false', text: o.label });
        function choose(ev) {
          ev.stopPropagation();
          list.querySelectorAll('[role=option]').forEach(function (x) { x.setAttribute('aria-selected', 'false'); });
          li.setAttribute('aria-selected', 'true');
          label.textContent = o.label; label.className = '';
          trigger.setAttribute('data-value', o.value);
          close(); trigger.focus();
          onChange(o.value);
        }
        li.addEventListener('click', choose);
        li.addEventListener('keydown', function (ev) {
          if (ev.key === 'Enter') choose(ev);
          if (ev.key === 'ArrowDown' && li.nextSibling) { ev.preventDefault(); li.nextSibling.focus(); }
          if (ev.key === 'ArrowUp' && li.previousSibling) { ev.preventDefault(); li.previousSibling.focus(); }
          if (ev.key === 'Escape') { close(); trigger.focus(); }
        });
        list.appendChild(li);
      });
    };
    box.reset = function () { label.textContent = placeholder; label.className = 'placeholder'; trigger.setAttribute('data-value', ''); };
    return box;
  }

  function pantallaTicket() {
    app.innerHTML = '';
    var dia = input('fecha-dia', { maxlength: '2', placeholder: 'DD', inputmode: 'numeric', 'aria-label': 'Día' });
    var mes = input('fecha-mes', { maxlength: '2', placeholder: 'MM', inputmode: 'numeric', 'aria-label': 'Mes' });
    var anio = input('fecha-anio', { maxlength: '4', placeholder: 'AAAA', inputmode: 'numeric', 'aria-label': 'Año', class: 'anio' });
    [dia, mes].forEach(function (el, i) {
      el.addEventListener('input', function () { if (el.value.length === 2) [mes, anio][i].focus(); });
    });
    var boton = h('button', { type: 'button', class: 'btn', id: 'buscar', text: 'Buscar ticket' });
    app.appendChild(h('section', { id: 'paso-ticket' }, [
      h('h1', { text: 'Factura tu consumo' }),
      h('p', { class: 'intro', text: 'Ingresa los datos de tu ticket. Puedes facturar consumos de cualquier sucursal Cafés Aurora.' }),
      h('div', { class: 'error-banner', id: 'errores', role: 'alert', hidden: 'hidden' }),
      h('h2', { text: 'Datos del ticket' }),
      h('div', { class: 'fila' }, [
        campo('folio', 'Número de ticket', input('folio', { placeholder: 'A-000000' }), 'Lo encuentras en la parte superior del ticket, p. ej. A-104392.'),
        campo('total', 'Total del consumo', input('total', { placeholder: '0.00', inputmode: 'decimal' }), 'Incluye centavos; no incluyas la propina.')
      ]),
      h('div', { class: 'campo', id: 'campo-fecha' }, [
        h('label', { for: 'fecha-dia', text: 'Fecha del consumo' }),
        h('div', { class: 'fecha-partida' }, [dia, h('span', { text: '/' }), mes, h('span', { text: '/' }), anio]),
        h('div', { class: 'campo-error', id: 'fecha-error', hidden: 'hidden' })
      ]),
      h('div', { class: 'acciones' }, [boton])
    ]));
    boton.addEventListener('click', function () {
      boton.disabled = true;
      api('POST', '/spa/api/tickets/buscar', {
        folio: document.getElementById('folio').value,
        total: document.getElementById('total').value,
        fecha: { dia: dia.value, mes: mes.value, anio: anio.value }
      }).then(function (r) {
        boton.disabled = false;
        if (!r.ok) return showErrors(r.mensaje, r.errores);
        state.token = r.token; state.ticket = r.ticket;
        pantallaFiscal();
      }).catch(function () { boton.disabled = false; showErrors('No pudimos conectar con el servidor. Intenta de nuevo.'); });
    });
  }

  function pantallaFiscal() {
    app.innerHTML = '';
    var uso = dropdown('uso', 'Selecciona el uso del CFDI', function (v) { state.uso = v; });
    uso.setOptions([], 'Primero selecciona tu régimen fiscal');
    var regimen = dropdown('regimen', 'Selecciona tu régimen fiscal', function (v) {
      state.regimen = v; state.uso = ''; uso.reset();
      uso.setOptions([], 'Cargando usos...');
      api('GET', '/spa/api/usos?regimen=' + encodeURIComponent(v)).then(function (r) {
        uso.setOptions(r.usos.map(function (u) { return { value: u.clave, label: u.clave + ' · ' + u.descripcion }; }), 'No hay usos disponibles');
      });
    });
    regimen.setOptions(state.regimenes.map(function (r) { return { value: r.clave, label: r.clave + ' · ' + r.descripcion }; }), '');
    var boton = h('button', { type: 'button', class: 'btn', id: 'generar', text: 'Generar factura' });
    var t = state.ticket;
    app.appendChild(h('section', { id: 'paso-fiscal' }, [
      h('h1', { text: 'Datos de facturación' }),
      h('div', { class: 'ticket-ok', id: 'ticket-encontrado', text: 'Ticket ' + t.folio + ' del ' + t.fecha + ' por ' + t.total + ' encontrado.' }),
      h('div', { class: 'error-banner', id: 'errores', role: 'alert', hidden: 'hidden' }),
      h('div', { class: 'fila' }, [
        campo('rfc', 'RFC', input('rfc', { maxlength: '13' })),
        campo('cp', 'Código postal fiscal', input('cp', { maxlength: '5', inputmode: 'numeric' }))
      ]),
      campo('nombre', 'Nombre o razón social', input('nombre'), 'Como aparece en tu Constancia de Situación Fiscal.'),
      h('div', { class: 'campo' }, [h('label', { id: 'regimen-label', text: 'Régimen fiscal' }), regimen, h('div', { class: 'campo-error', id: 'regimen-error', hidden: 'hidden' })]),
      h('div', { class: 'campo' }, [h('label', { id: 'uso-label', text: 'Uso del CFDI' }), uso, h('div', { class: 'campo-error', id: 'uso-error', hidden: 'hidden' })]),
      campo('email', 'Correo electrónico', input('email', { type: 'email' })),
      h('div', { class: 'acciones' }, [boton])
    ]));
    boton.addEventListener('click', function () {
      boton.disabled = true;
      api('POST', '/spa/api/facturas', {
        token: state.token,
        rfc: document.getElementById('rfc').value,
        nombre: document.getElementById('nombre').value,
        cp: document.getElementById('cp').value,
        regimen: state.regimen, uso: state.uso,
        email: document.getElementById('email').value
      }).then(function (r) {
        boton.disabled = false;
        if (!r.ok) return showErrors(r.mensaje, r.errores);
        pantallaExito(r);
      }).catch(function () { boton.disabled = false; showErrors('No pudimos conectar con el servidor. Intenta de nuevo.'); });
    });
  }

  function pantallaExito(r) {
    app.innerHTML = '';
    app.appendChild(h('section', { id: 'exito', class: 'resultado' }, [
      h('div', { class: 'ok', text: '✔' }),
      h('h1', { text: 'Factura generada' }),
      h('p', { text: 'Folio fiscal (UUID):' }),
      h('span', { class: 'uuid', id: 'uuid', text: r.uuid }),
      h('p', {}, [h('a', { class: 'btn', id: 'descargar-xml', href: r.xml_url, download: r.uuid + '.xml', text: 'Descargar XML' })])
    ]));
  }

  app.innerHTML = '<div class="cargando">Cargando…</div>';
  api('GET', '/spa/api/catalogos').then(function (r) { state.regimenes = r.regimenes; setTimeout(pantallaTicket, 300); });
})();
`;

async function spa(req, res, sub, url) {
  if (req.method === 'GET' && sub === '') {
    return sendHtml(res, 200, layout(SPA, 'Factura tu consumo', '<main><div id="app"></div></main>', ''
    ).replace('</body>', '<script src="/spa/app.js"></script>\n</body>'));
  }
  if (req.method === 'GET' && sub === 'app.js') return send(res, 200, SPA_JS, { 'Content-Type': 'text/javascript; charset=utf-8' });
  if (req.method === 'GET' && sub === 'api/catalogos') {
    return sendJson(res, 200, { regimenes: REGIMENES.map((r) => ({ clave: r.code, descripcion: r.description })) });
  }
  if (req.method === 'GET' && sub === 'api/usos') {
    const reg = url.searchParams.get('regimen');
    return sendJson(res, 200, { usos: USOS.filter((u) => u.regimenes.includes(reg)).map((u) => ({ clave: u.code, descripcion: u.description })) });
  }
  if (req.method === 'POST' && sub === 'api/tickets/buscar') {
    const b = await readForm(req);
    const f = b.fecha || {};
    const errores = {};
    if (!norm(b.folio)) errores.folio = 'Captura el número de ticket.';
    const cents = parseCents(b.total);
    if (cents === null) errores.total = 'El total debe incluir centavos, p. ej. 346.00.';
    const d = norm(f.dia).padStart(2, '0'), m = norm(f.mes).padStart(2, '0'), y = norm(f.anio);
    const iso = `${y}-${m}-${d}`;
    const dt = new Date(iso + 'T00:00:00Z');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(iso) || isNaN(dt) || dt.toISOString().slice(0, 10) !== iso) errores.fecha = 'La fecha no es válida (DD / MM / AAAA).';
    if (Object.keys(errores).length) return sendJson(res, 422, { ok: false, mensaje: 'Revisa los datos del ticket.', errores });
    const t = findTicket('spa', (t) => eqId(t.folio, b.folio));
    if (!t || parseCents(t.amount) !== cents || ticketDate(t) !== iso) {
      return sendJson(res, 404, { ok: false, mensaje: 'No encontramos un consumo con ese número de ticket, fecha y total.' });
    }
    if (alreadyInvoiced('spa', t)) return sendJson(res, 409, { ok: false, mensaje: `El ticket ${t.folio} ya fue facturado.` });
    const token = newToken();
    state.sessions.set('spa:' + token, { ticket: t });
    return sendJson(res, 200, { ok: true, token, ticket: { folio: t.folio, fecha: ticketDate(t).split('-').reverse().join('/'), total: moneyHuman(cents) } });
  }
  if (req.method === 'POST' && sub === 'api/facturas') {
    countAttempt('spa');
    const b = await readForm(req);
    const s = state.sessions.get('spa:' + norm(b.token));
    if (!s) return sendJson(res, 440, { ok: false, mensaje: 'Tu sesión expiró. Vuelve a buscar tu ticket.' });
    const { receptor, errors } = validateReceptor(b);
    if (Object.keys(errors).length) {
      return sendJson(res, 422, { ok: false, mensaje: 'No pudimos generar tu factura: ' + Object.values(errors).join(' '), errores: errors });
    }
    if (alreadyInvoiced('spa', s.ticket)) return sendJson(res, 409, { ok: false, mensaje: `El ticket ${s.ticket.folio} ya fue facturado.` });
    const uuid = issue('spa', s.ticket, receptor);
    return sendJson(res, 201, { ok: true, uuid, xml_url: `/spa/xml/${uuid}` });
  }
  const m = /^xml\/([0-9A-Fa-f-]{36})$/.exec(sub);
  if (req.method === 'GET' && m) return sendXml(res, 'spa', m[1]);
  return notFound(res);
}

// ======================================================================
// Portal 4: /marco/ — the form lives in a CROSS-ORIGIN iframe (127.0.0.1 <-> localhost)
// ======================================================================

const MARCO = {
  vendor: 'Farmacias del Valle',
  vars: '--brand:#00796b;--accent:#d32f2f;--bg:#eaf4f3',
  logo: '<span style="color:#ff8a80">✚</span> Farmacias del Valle<small>SALUD Y AHORRO</small>',
  nav: '<a href="/marco/">Inicio</a><a href="/marco/">Facturación</a><a href="/marco/">Sucursales</a>',
  css: `
.marco-wrap{max-width:960px;margin:24px auto;background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12);padding:20px 24px}
.marco-wrap iframe{width:100%;height:1180px;border:1px solid #d6e4e2;border-radius:6px}
`,
};
const MARCO_INNER = { ...MARCO, css: 'body{background:#fff}main{box-shadow:none;margin:0 auto;max-width:none;padding:18px 22px}' };

function innerLayout(title, body) {
  return `<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>:root{${MARCO.vars}}${BASE_CSS}${MARCO_INNER.css}</style></head>
<body><main>${body}</main></body></html>`;
}

function marcoForm(v = {}, errors = {}, message) {
  return innerLayout('Formulario de facturación', `
<h1>Solicitud de factura</h1>
<p class="intro">Plataforma de facturación operada por FacturaNet para Farmacias del Valle.</p>
${errorBox(errors, message)}
<form id="form-marco" method="post" action="/marco/form" novalidate>
<h2>Datos de la compra</h2>
<div class="fila">
${field('sucursal', 'Número de sucursal', v.sucursal, errors, { help: '4 dígitos, aparece junto a "Suc." en tu ticket.', attrs: 'maxlength="4"' })}
${field('ticket', 'Número de ticket', v.ticket, errors)}
</div>
<div class="fila">
${field('importe', 'Importe total', v.importe, errors, { placeholder: '0.00' })}
${field('fecha_compra', 'Fecha de compra', v.fecha_compra, errors, { placeholder: 'DD/MM/AAAA', help: 'Formato DD/MM/AAAA.', attrs: 'maxlength="10"' })}
</div>
<h2>Datos del receptor</h2>
<div class="fila">
${field('rfc', 'RFC del receptor', v.rfc, errors, { attrs: 'maxlength="13"' })}
${field('cp', 'C.P. del domicilio fiscal', v.cp, errors, { attrs: 'maxlength="5"' })}
</div>
${field('nombre', 'Nombre / Razón social', v.nombre, errors)}
<div class="fila">
${selectField('regimen', 'Régimen fiscal del receptor', optionsRegimen(v.regimen, (r) => `(${r.code}) ${r.description}`), 'Seleccione una opción', errors)}
${selectField('uso', 'Uso del CFDI', optionsUso(v.uso, (u) => `(${u.code}) ${u.description}`), 'Seleccione una opción', errors)}
</div>
${field('email', 'Correo electrónico', v.email, errors, { type: 'email' })}
<div class="acciones"><button class="btn" type="submit" id="solicitar">Solicitar factura</button></div>
</form>`);
}

async function marco(req, res, sub) {
  if (req.method === 'GET' && sub === '') {
    const hostHeader = req.headers.host || '';
    const host = hostHeader.replace(/:\d+$/, '');
    const other = host === 'localhost' ? '127.0.0.1' : 'localhost';
    const port = req.socket.localPort;
    return sendHtml(res, 200, layout(MARCO, 'Facturación', `<div class="marco-wrap">
<h1>Facturación electrónica</h1>
<p class="intro">Solicita la factura de tus compras en sucursal. El formulario es proporcionado por nuestro proveedor de facturación.</p>
<iframe id="facturacion" name="facturacion" title="Formulario de facturación" src="http://${other}:${port}/marco/form"></iframe>
</div>`));
  }
  if (req.method === 'GET' && sub === 'form') return sendHtml(res, 200, marcoForm());
  if (req.method === 'POST' && sub === 'form') {
    countAttempt('marco');
    const f = await readForm(req);
    const { receptor, errors } = validateReceptor(f);
    const tErr = {};
    if (!/^\d{4}$/.test(norm(f.sucursal))) tErr.sucursal = 'El número de sucursal debe tener 4 dígitos.';
    if (!norm(f.ticket)) tErr.ticket = 'Capture el número de ticket.';
    const cents = parseCents(f.importe);
    if (cents === null) tErr.importe = 'Capture el importe total con centavos.';
    const fm = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(norm(f.fecha_compra));
    if (!fm) tErr.fecha_compra = 'La fecha debe tener el formato DD/MM/AAAA.';
    const all = { ...tErr, ...errors };
    if (Object.keys(all).length) return sendHtml(res, 422, marcoForm(f, all, 'Hay errores en la solicitud:'));
    const iso = `${fm[3]}-${fm[2]}-${fm[1]}`;
    const t = findTicket('marco', (t) => t.store === norm(f.sucursal) && eqId(t.folio, f.ticket));
    if (!t || parseCents(t.amount) !== cents || ticketDate(t) !== iso) {
      return sendHtml(res, 422, marcoForm(f, {}, 'Ticket no encontrado: verifique sucursal, número de ticket, importe y fecha de compra.'));
    }
    if (alreadyInvoiced('marco', t)) return sendHtml(res, 409, marcoForm(f, {}, `El ticket ${t.folio} ya cuenta con una factura.`));
    const uuid = issue('marco', t, receptor);
    return sendHtml(res, 200, innerLayout('Factura generada', resultBlock('marco', uuid)));
  }
  const m = /^xml\/([0-9A-Fa-f-]{36})$/.exec(sub);
  if (req.method === 'GET' && m) return sendXml(res, 'marco', m[1]);
  return notFound(res);
}

// ======================================================================
// Portal 5: /sombra/ — web components, inputs inside nested OPEN shadow roots
// ======================================================================

const SOMBRA = {
  vendor: 'ElectroHogar',
  vars: '--brand:#1c2541;--accent:#ff7a00;--bg:#eceff4',
  logo: 'ElectroHogar<span style="color:#ff7a00">.</span><small>TECNOLOGÍA PARA TU CASA</small>',
  nav: '<a href="/sombra/">Tienda</a><a href="/sombra/">Facturación</a><a href="/sombra/">Mis pedidos</a>',
};

const SOMBRA_JS = String.raw`
(function () {
  'use strict';
  var FIELD_CSS = ':host{display:block;margin-bottom:14px}label{display:block;font-weight:600;font-size:13px;margin-bottom:4px;font-family:inherit}' +
    'input,select{width:100%;box-sizing:border-box;padding:9px 10px;border:1px solid #b8bfcc;border-radius:4px;font-size:15px;background:#fff;font-family:inherit}' +
    'small{display:block;color:#777;font-size:12px;margin-top:3px}.error{color:#c62828;font-size:12.5px;margin-top:3px}.error:empty{display:none}' +
    ':host([invalid]) input,:host([invalid]) select{border-color:#c62828;background:#fff6f6}';

  // <eh-campo>: one labelled control in its own shadow root (innermost level).
  class EhCampo extends HTMLElement {
    constructor() { super(); this.attachShadow({ mode: 'open' }); }
    configure(def) {
      this.def = def;
      var control;
      if (def.options) {
        control = '<select id="' + def.id + '" name="' + def.id + '"><option value="">' + def.placeholder + '</option>' +
          def.options.map(function (o) { return '<option value="' + o.value + '">' + o.label + '</option>'; }).join('') + '</select>';
      } else {
        control = '<input id="' + def.id + '" name="' + def.id + '" type="' + (def.type || 'text') + '" autocomplete="off"' +
          (def.maxlength ? ' maxlength="' + def.maxlength + '"' : '') + (def.placeholder ? ' placeholder="' + def.placeholder + '"' : '') + '>';
      }
      this.shadowRoot.innerHTML = '<style>' + FIELD_CSS + '</style><label for="' + def.id + '">' + def.label + '</label>' + control +
        (def.help ? '<small>' + def.help + '</small>' : '') + '<div class="error" id="' + def.id + '-error"></div>';
    }
    get value() { return this.shadowRoot.getElementById(this.def.id).value; }
    set error(msg) {
      this.shadowRoot.getElementById(this.def.id + '-error').textContent = msg || '';
      if (msg) this.setAttribute('invalid', ''); else this.removeAttribute('invalid');
    }
  }

  // <eh-seccion>: a titled card that owns its fields in its shadow root (middle level).
  class EhSeccion extends HTMLElement {
    constructor() { super(); this.attachShadow({ mode: 'open' }); this.campos = {}; }
    configure(title, defs) {
      this.shadowRoot.innerHTML = '<style>:host{display:block;margin-bottom:10px}h2{font-size:17px;margin:22px 0 12px;padding-bottom:6px;border-bottom:2px solid #ff7a00;color:#1c2541}' +
        '.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 18px}.ancho{grid-column:1/3}</style><h2>' + title + '</h2><div class="grid"></div>';
      var grid = this.shadowRoot.querySelector('.grid');
      var self = this;
      defs.forEach(function (d) {
        var c = document.createElement('eh-campo');
        if (d.wide) c.className = 'ancho';
        grid.appendChild(c);
        c.configure(d);
        self.campos[d.key] = c;
      });
    }
  }

  // <eh-resultado>: the success panel with the UUID and the XML link.
  class EhResultado extends HTMLElement {
    constructor() { super(); this.attachShadow({ mode: 'open' }); }
    show(uuid, url) {
      this.shadowRoot.innerHTML = '<style>:host{display:block;text-align:center;padding:20px}.uuid{font-family:Consolas,monospace;font-size:17px;background:#fff3e0;padding:4px 10px;border-radius:4px;display:inline-block;margin:6px 0 16px}' +
        'a{display:inline-block;background:#ff7a00;color:#fff;border-radius:4px;padding:11px 26px;font-weight:700;text-decoration:none}h1{color:#1c2541}</style>' +
        '<div style="font-size:46px;color:#2e7d32">✔</div><h1>Factura generada</h1><p>Folio fiscal (UUID):</p><span class="uuid" id="uuid"></span>' +
        '<p><a id="descargar-xml" download></a></p>';
      this.shadowRoot.getElementById('uuid').textContent = uuid;
      var a = this.shadowRoot.getElementById('descargar-xml');
      a.href = url; a.textContent = 'Descargar XML'; a.setAttribute('download', uuid + '.xml');
    }
  }

  // <eh-portal>: the whole application (outermost shadow root).
  class EhPortal extends HTMLElement {
    constructor() { super(); this.attachShadow({ mode: 'open' }); }
    connectedCallback() {
      var self = this;
      fetch('/sombra/api/catalogos').then(function (r) { return r.json(); }).then(function (cat) { self.render(cat); });
    }
    render(cat) {
      var s = this.shadowRoot;
      s.innerHTML = '<style>:host{display:block}.alerta{background:#fdecea;border-left:5px solid #c62828;color:#8a1c1c;padding:12px 16px;border-radius:4px;margin-bottom:14px}' +
        '.alerta[hidden]{display:none}button{background:#ff7a00;color:#fff;border:0;border-radius:4px;padding:11px 26px;font-size:15px;font-weight:700;cursor:pointer}' +
        'button[disabled]{opacity:.6}</style><div class="alerta" id="alerta" role="alert" hidden></div><div id="formulario"></div><eh-resultado></eh-resultado>';
      var form = s.getElementById('formulario');
      var compra = document.createElement('eh-seccion');
      var fiscal = document.createElement('eh-seccion');
      form.appendChild(compra); form.appendChild(fiscal);
      compra.configure('1. Datos de tu compra', [
        { key: 'folio', id: 'pedido', label: 'Número de pedido', placeholder: 'EH-AAAAMMDD-0000', help: 'Viene en tu ticket o en el correo de confirmación.' },
        { key: 'total', id: 'total', label: 'Total pagado', placeholder: '0.00' },
        { key: 'codigo', id: 'codigo-facturacion', label: 'Código de facturación', maxlength: 20, wide: true, help: '20 caracteres alfanuméricos impresos al final de tu ticket.' }
      ]);
      fiscal.configure('2. Datos fiscales', [
        { key: 'rfc', id: 'rfc', label: 'RFC', maxlength: 13 },
        { key: 'cp', id: 'cp', label: 'Código postal', maxlength: 5 },
        { key: 'nombre', id: 'nombre', label: 'Nombre o razón social', wide: true },
        { key: 'regimen', id: 'regimen', label: 'Régimen fiscal', placeholder: 'Elige tu régimen', options: cat.regimenes.map(function (r) { return { value: r.clave, label: r.clave + ' – ' + r.descripcion }; }) },
        { key: 'uso', id: 'uso', label: 'Uso del CFDI', placeholder: 'Elige el uso', options: cat.usos.map(function (u) { return { value: u.clave, label: u.clave + ' – ' + u.descripcion }; }) },
        { key: 'email', id: 'email', label: 'Correo electrónico', type: 'email', wide: true }
      ]);
      var boton = document.createElement('button');
      boton.id = 'emitir'; boton.type = 'button'; boton.textContent = 'Emitir factura';
      form.appendChild(boton);
      var campos = Object.assign({}, compra.campos, fiscal.campos);
      var alerta = s.getElementById('alerta');
      boton.addEventListener('click', function () {
        var body = {};
        Object.keys(campos).forEach(function (k) { body[k] = campos[k].value; campos[k].error = ''; });
        boton.disabled = true;
        fetch('/sombra/api/emitir', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
          .then(function (r) { return r.json(); })
          .then(function (r) {
            boton.disabled = false;
            if (!r.ok) {
              alerta.textContent = r.mensaje; alerta.hidden = false;
              Object.keys(r.errores || {}).forEach(function (k) { if (campos[k]) campos[k].error = r.errores[k]; });
              return;
            }
            alerta.hidden = true;
            form.remove();
            s.querySelector('eh-resultado').show(r.uuid, r.xml_url);
          });
      });
    }
  }

  customElements.define('eh-campo', EhCampo);
  customElements.define('eh-seccion', EhSeccion);
  customElements.define('eh-resultado', EhResultado);
  customElements.define('eh-portal', EhPortal);
})();
`;

async function sombra(req, res, sub) {
  if (req.method === 'GET' && sub === '') {
    return sendHtml(res, 200, layout(SOMBRA, 'Facturación', `<main>
<h1>Facturación de compras</h1>
<p class="intro">Genera la factura de tus compras en tienda o en línea. Tienes hasta 30 días después de recibir tu pedido.</p>
<eh-portal></eh-portal>
</main>`).replace('</body>', '<script src="/sombra/componentes.js"></script>\n</body>'));
  }
  if (req.method === 'GET' && sub === 'componentes.js') return send(res, 200, SOMBRA_JS, { 'Content-Type': 'text/javascript; charset=utf-8' });
  if (req.method === 'GET' && sub === 'api/catalogos') {
    return sendJson(res, 200, {
      regimenes: REGIMENES.map((r) => ({ clave: r.code, descripcion: r.description })),
      usos: USOS.map((u) => ({ clave: u.code, descripcion: u.description })),
    });
  }
  if (req.method === 'POST' && sub === 'api/emitir') {
    countAttempt('sombra');
    const b = await readForm(req);
    const { receptor, errors } = validateReceptor(b);
    const cents = parseCents(b.total);
    if (!norm(b.folio)) errors.folio = 'Captura el número de pedido.';
    if (cents === null) errors.total = 'Captura el total pagado con centavos.';
    if (!/^[A-Za-z0-9]{20}$/.test(norm(b.codigo))) errors.codigo = 'El código de facturación debe tener 20 caracteres alfanuméricos.';
    if (Object.keys(errors).length) {
      return sendJson(res, 422, { ok: false, mensaje: 'Corrige los campos marcados: ' + Object.values(errors).join(' '), errores: errors });
    }
    const t = findTicket('sombra', (t) => eqId(t.folio, b.folio));
    if (!t || !eqId(t.web_id, b.codigo) || parseCents(t.amount) !== cents) {
      return sendJson(res, 404, { ok: false, mensaje: 'No encontramos el pedido. Verifica el número de pedido, el código de facturación y el total.' });
    }
    if (alreadyInvoiced('sombra', t)) return sendJson(res, 409, { ok: false, mensaje: `El pedido ${t.folio} ya fue facturado.` });
    const uuid = issue('sombra', t, receptor);
    return sendJson(res, 201, { ok: true, uuid, xml_url: `/sombra/xml/${uuid}` });
  }
  const m = /^xml\/([0-9A-Fa-f-]{36})$/.exec(sub);
  if (req.method === 'GET' && m) return sendXml(res, 'sombra', m[1]);
  return notFound(res);
}

// ======================================================================
// Portal 6: /captcha/ — a form behind a CAPTCHA that software cannot pass
// ======================================================================

// The challenge text never reaches the browser as text: the server sends only jittered dots
// of a 5x7 dot-matrix rendering plus noise, drawn on a <canvas>.
const GLYPHS = {
  2: '.###.#...#....#...#...#...#....#####', 3: '####.....#....#.###.....#....#####.',
  4: '...#...##..#.#.#..#.#####...#....#.', 5: '######....####.....#....##...#.###.',
  7: '#####....#...#...#...#....#....#...', 8: '.###.#...##...#.###.#...##...#.###.',
  9: '.###.#...##...#.####....#...#..##..', A: '.###.#...##...#######...##...##...#',
  C: '.###.#...##....#....#....#...#.###.', E: '######....#....####.#....#....#####',
  F: '######....#....####.#....#....#....', H: '#...##...##...#######...##...##...#',
  K: '#...##..#.#.#..##...#.#..#..#.#...#', M: '#...###.###.#.##.#.##...##...##...#',
  N: '#...###..##.#.##..###...##...##...#', P: '####.#...##...#####.#....#....#....',
  R: '####.#...##...#####.#.#..#..#.#...#', T: '#####..#....#....#....#....#....#..',
  W: '#...##...##...##.#.##.#.###.###...#', X: '#...##...#.#.#...#...#.#.#...##...#',
  Y: '#...##...#.#.#...#....#....#....#..',
};
const GLYPH_KEYS = Object.keys(GLYPHS);

function captchaChallenge() {
  const text = Array.from({ length: 6 }, () => GLYPH_KEYS[crypto.randomInt(GLYPH_KEYS.length)]).join('');
  const rnd = () => crypto.randomInt(1000000) / 1000000;
  const dots = [];
  [...text].forEach((ch, ci) => {
    const g = GLYPHS[ch];
    const ang = (rnd() - 0.5) * 0.5, sc = 5.2 + rnd() * 0.8;
    const ox = 16 + ci * 48 + rnd() * 6, oy = 12 + rnd() * 12;
    for (let i = 0; i < 35; i++) {
      if (g[i] !== '#') continue;
      const x = (i % 5) * sc, y = Math.floor(i / 5) * sc;
      dots.push([+(ox + x * Math.cos(ang) - y * Math.sin(ang) + rnd() * 1.6).toFixed(1),
        +(oy + x * Math.sin(ang) + y * Math.cos(ang) + rnd() * 1.6).toFixed(1), +(2.4 + rnd() * 1.2).toFixed(1)]);
    }
  });
  for (let i = 0; i < 70; i++) dots.push([+(rnd() * 310).toFixed(1), +(rnd() * 80).toFixed(1), +(0.5 + rnd() * 1.2).toFixed(1)]);
  for (let i = dots.length - 1; i > 0; i--) { const j = crypto.randomInt(i + 1); [dots[i], dots[j]] = [dots[j], dots[i]]; }
  const lines = Array.from({ length: 4 }, () => [rnd() * 310, rnd() * 80, rnd() * 310, rnd() * 80].map((n) => +n.toFixed(1)));
  const token = newToken();
  state.sessions.set('captcha:' + token, text);
  return { token, dots, lines };
}

const CAPTCHA = {
  vendor: 'GasExpress',
  vars: '--brand:#b71c1c;--accent:#263238;--bg:#f5eeee',
  logo: 'GAS<span style="color:#ffcdd2">EXPRESS</span><small>FACTURACIÓN EN LÍNEA</small>',
  nav: '<a href="/captcha/">Facturar</a><a href="/captcha/">Registrarme</a><a href="/captcha/">Iniciar sesión</a>',
  css: `
.captcha{border:1px solid #d0d0d0;background:#f9f9f9;border-radius:4px;padding:14px 16px;max-width:380px;margin-top:16px}
.captcha canvas{background:#fff;border:1px solid #ccc;display:block;margin-bottom:10px}
.robot{display:flex;align-items:center;gap:10px;font-size:15px;margin-top:10px}
.robot input{width:22px;height:22px}
.captcha .marca{font-size:10px;color:#999;text-align:right}
`,
};

function captchaForm(v = {}, errors = {}, message) {
  const ch = captchaChallenge();
  const regFmt = (r) => `${r.code} - ${r.description}`, usoFmt = (u) => `${u.code} - ${u.description}`;
  return layout(CAPTCHA, 'Facturación', `<main>
<h1>Factura tu carga de combustible</h1>
<p class="intro">Captura los datos de tu ticket. Por seguridad, confirma que no eres un robot antes de enviar.</p>
${errorBox(errors, message)}
<form id="form-captcha" method="post" action="/captcha/facturar" novalidate>
<h2>Ticket</h2>
<div class="fila">
${field('estacion', 'Estación', v.estacion, errors, { attrs: 'maxlength="5"' })}
${field('folio', 'Folio', v.folio, errors)}
${field('codigo', 'Código', v.codigo, errors, { help: '4 caracteres impresos al pie del ticket.', attrs: 'maxlength="4"' })}
${field('total', 'Total', v.total, errors, { placeholder: '0.00' })}
</div>
<h2>Datos fiscales</h2>
<div class="fila">
${field('rfc', 'RFC', v.rfc, errors, { attrs: 'maxlength="13"' })}
${field('nombre', 'Razón social', v.nombre, errors)}
</div>
<div class="fila">
${field('cp', 'Código postal', v.cp, errors, { attrs: 'maxlength="5"' })}
${selectField('regimen', 'Régimen fiscal', optionsRegimen(v.regimen, regFmt), 'Selecciona...', errors)}
${selectField('uso', 'Uso CFDI', optionsUso(v.uso, usoFmt), 'Selecciona...', errors)}
</div>
${field('email', 'Correo electrónico', v.email, errors, { type: 'email' })}
<div class="captcha" id="captcha">
  <canvas id="captcha-canvas" width="310" height="80" aria-label="Imagen de verificación"></canvas>
  ${field('captcha_texto', 'Escribe el texto de la imagen', '', {}, { attrs: 'maxlength="6"' })}
  <input type="hidden" name="captcha_token" value="${ch.token}">
  <label class="robot"><input type="checkbox" id="no-robot" name="no_robot" value="1"> No soy un robot</label>
  <div class="field-error" id="robot-error" hidden></div>
  <div class="marca">ProtecCaptcha · Privacidad · Condiciones</div>
</div>
<div class="acciones"><button class="btn" type="submit" id="enviar">Generar factura</button></div>
</form>
</main>
<script>
(function () {
  var data = ${JSON.stringify({ dots: ch.dots, lines: ch.lines })};
  var cv = document.getElementById('captcha-canvas'), cx = cv.getContext('2d');
  cx.strokeStyle = 'rgba(120,120,160,.55)';
  data.lines.forEach(function (l) { cx.beginPath(); cx.moveTo(l[0], l[1]); cx.lineTo(l[2], l[3]); cx.stroke(); });
  data.dots.forEach(function (d, i) { cx.fillStyle = ['#333', '#553', '#335', '#533'][i % 4]; cx.beginPath(); cx.arc(d[0], d[1], d[2], 0, 6.3); cx.fill(); });
  var box = document.getElementById('no-robot'), err = document.getElementById('robot-error');
  box.addEventListener('change', function () {
    if (box.checked && document.getElementById('captcha_texto').value.trim().length < 6) {
      box.checked = false;
      err.textContent = 'Escribe primero el texto de la imagen.'; err.hidden = false;
    } else { err.hidden = true; }
  });
})();
</script>`);
}

async function captcha(req, res, sub) {
  if (req.method === 'GET' && sub === '') return sendHtml(res, 200, captchaForm());
  if (req.method === 'POST' && sub === 'facturar') {
    countAttempt('captcha');
    const f = await readForm(req);
    const answer = state.sessions.get('captcha:' + norm(f.captcha_token));
    state.sessions.delete('captcha:' + norm(f.captcha_token));
    if (!answer || !f.no_robot || norm(f.captcha_texto).toUpperCase() !== answer) {
      return sendHtml(res, 422, captchaForm(f, {}, 'Verifica que no eres un robot.'));
    }
    const { receptor, errors } = validateReceptor(f);
    const cents = parseCents(f.total);
    if (cents === null) errors.total = 'Captura el total con centavos.';
    if (Object.keys(errors).length) return sendHtml(res, 422, captchaForm(f, errors));
    const t = findTicket('captcha', (t) => eqId(t.store, f.estacion) && eqId(t.folio, f.folio));
    if (!t || !eqId(t.web_id, f.codigo) || parseCents(t.amount) !== cents) {
      return sendHtml(res, 422, captchaForm(f, {}, 'Ticket no válido. Verifica estación, folio, código y total.'));
    }
    if (alreadyInvoiced('captcha', t)) return sendHtml(res, 409, captchaForm(f, {}, `El ticket ${t.folio} ya fue facturado.`));
    const uuid = issue('captcha', t, receptor);
    return sendHtml(res, 200, layout(CAPTCHA, 'Factura generada', `<main>${resultBlock('captcha', uuid)}</main>`));
  }
  const m = /^xml\/([0-9A-Fa-f-]{36})$/.exec(sub);
  if (req.method === 'GET' && m) return sendXml(res, 'captcha', m[1]);
  return notFound(res);
}

// ======================================================================
// Portal 7: /vencido/ — ticket lookup with unknown and too-old tickets
// ======================================================================

const VENCIDO = {
  vendor: 'Restaurantes El Fogón',
  vars: '--brand:#7a1f0e;--accent:#e2622b;--bg:#f6efe9',
  logo: '<span class="badge">EF</span>El Fogón<small>COCINA MEXICANA</small>',
  nav: '<a href="/vencido/">Facturación</a><a href="/vencido/">Menú</a><a href="/vencido/">Sucursales</a>',
};
const SUCURSALES = [['07', 'Sucursal 07 - Coyoacán'], ['12', 'Sucursal 12 - Polanco'], ['19', 'Sucursal 19 - Satélite'], ['23', 'Sucursal 23 - Puebla Angelópolis']];

function vencidoBuscar(v = {}, errors = {}, message) {
  return layout(VENCIDO, 'Facturación', `<main>
<h1>Facturación de consumos</h1>
<p class="intro">Recuerda: solo puedes facturar dentro del mes en que realizaste tu consumo.</p>
${errorBox(errors, message)}
<form id="form-buscar" method="post" action="/vencido/buscar" novalidate>
<h2>Busca tu ticket</h2>
<div class="fila">
${selectField('sucursal', 'Sucursal', SUCURSALES.map(([c, n]) => `<option value="${c}"${v.sucursal === c ? ' selected' : ''}>${esc(n)}</option>`).join(''), 'Elige la sucursal', errors)}
${field('ticket', 'Número de ticket', v.ticket, errors, { help: 'El número que aparece como "Ticket:" o "Cuenta:".' })}
${field('total', 'Total', v.total, errors, { placeholder: '0.00', help: 'Sin propina.' })}
</div>
<div class="acciones"><button class="btn" type="submit" id="buscar">Buscar ticket</button></div>
</form>
</main>`);
}

function vencidoFiscal(token, t, v = {}, errors = {}, message) {
  const fmt = (r) => `${r.code} - ${r.description}`;
  return layout(VENCIDO, 'Datos fiscales', `<main>
<h1>Datos fiscales</h1>
<div class="alert-info" id="ticket-encontrado">Ticket ${esc(t.folio)} · ${esc(ticketDate(t))} · Total ${moneyHuman(parseCents(t.amount))}</div>
${errorBox(errors, message)}
<form id="form-fiscal" method="post" action="/vencido/facturar" novalidate>
<input type="hidden" name="ticket_token" value="${esc(token)}">
<div class="fila">
${field('rfc', 'RFC', v.rfc, errors, { attrs: 'maxlength="13"' })}
${field('cp', 'Código postal', v.cp, errors, { attrs: 'maxlength="5"' })}
</div>
${field('nombre', 'Nombre o razón social', v.nombre, errors)}
<div class="fila">
${selectField('regimen', 'Régimen fiscal', optionsRegimen(v.regimen, fmt), 'Selecciona...', errors)}
${selectField('uso', 'Uso del CFDI', optionsUso(v.uso, fmt), 'Selecciona...', errors)}
</div>
${field('email', 'Correo electrónico', v.email, errors, { type: 'email' })}
<div class="acciones"><button class="btn" type="submit" id="facturar">Facturar</button></div>
</form>
</main>`);
}

async function vencido(req, res, sub) {
  if (req.method === 'GET' && sub === '') return sendHtml(res, 200, vencidoBuscar());
  if (req.method === 'POST' && sub === 'buscar') {
    const f = await readForm(req);
    const errors = {};
    if (!norm(f.sucursal)) errors.sucursal = 'Elige la sucursal.';
    if (!/^\d{1,10}$/.test(norm(f.ticket))) errors.ticket = 'El número de ticket solo lleva dígitos.';
    const cents = parseCents(f.total);
    if (cents === null) errors.total = 'Captura el total con centavos.';
    if (Object.keys(errors).length) return sendHtml(res, 422, vencidoBuscar(f, errors));
    const folio = norm(f.ticket);
    const t = findTicket('vencido', (t) => t.store === norm(f.sucursal) && t.folio === folio);
    if (!t) return sendHtml(res, 404, vencidoBuscar(f, {}, `El ticket ${folio} no existe. Verifica los datos impresos en tu ticket.`));
    if (parseCents(t.amount) !== cents) {
      return sendHtml(res, 422, vencidoBuscar(f, {}, `El total no coincide con el ticket ${folio}. Verifica los datos impresos en tu ticket.`));
    }
    // The deadline is relative to today: only the calendar month of the purchase.
    if (ticketDate(t).slice(0, 7) !== todayMx().slice(0, 7)) {
      return sendHtml(res, 422, vencidoBuscar(f, {}, 'El ticket excede el plazo para facturar: solo puedes facturar dentro del mes de tu compra.'));
    }
    if (alreadyInvoiced('vencido', t)) return sendHtml(res, 409, vencidoBuscar(f, {}, `El ticket ${folio} ya fue facturado.`));
    const token = newToken();
    state.sessions.set('vencido:' + token, { ticket: t });
    return sendHtml(res, 200, vencidoFiscal(token, t));
  }
  if (req.method === 'POST' && sub === 'facturar') {
    countAttempt('vencido');
    const f = await readForm(req);
    const s = state.sessions.get('vencido:' + norm(f.ticket_token));
    if (!s) return sendHtml(res, 440, vencidoBuscar({}, {}, 'Tu sesión expiró. Busca tu ticket nuevamente.'));
    const { receptor, errors } = validateReceptor(f);
    if (Object.keys(errors).length) return sendHtml(res, 422, vencidoFiscal(f.ticket_token, s.ticket, f, errors));
    if (alreadyInvoiced('vencido', s.ticket)) return sendHtml(res, 409, vencidoBuscar({}, {}, `El ticket ${s.ticket.folio} ya fue facturado.`));
    const uuid = issue('vencido', s.ticket, receptor);
    return sendHtml(res, 200, layout(VENCIDO, 'Factura generada', `<main>${resultBlock('vencido', uuid)}</main>`));
  }
  const m = /^xml\/([0-9A-Fa-f-]{36})$/.exec(sub);
  if (req.method === 'GET' && m) return sendXml(res, 'vencido', m[1]);
  return notFound(res);
}

// ======================================================================
// Portal 8: /enigma/ — a form whose ticket fields say nothing about themselves
// ("Dato 1", "Dato 2"; the meaning is only in a picture of a ticket), built so that
// a label-based mapper cannot decide: the generic fallback needs its LLM here.
// ======================================================================

const ENIGMA = {
  vendor: 'Papelería La Clave',
  vars: '--brand:#4a2c7a;--accent:#e0c341;--accent-text:#1d1d1d;--bg:#f1eef6',
  logo: '<span class="badge">LC</span>LA CLAVE<small>PAPELERÍA</small>',
  nav: '<a href="/enigma/">Facturación</a>',
};

function enigmaForm(v = {}, errors = {}, message, button = 'Facturar') {
  const regFmt = (r) => `${r.code} - ${r.description}`;
  const usoFmt = (u) => `${u.code} - ${u.description}`;
  return layout(ENIGMA, 'Facturación', `<main>
<h1>Facturación</h1>
<p class="intro">Copia los datos 1 y 2 tal como aparecen en las casillas marcadas de tu ticket (ver imagen).</p>
${errorBox(errors, message)}
<form id="form-enigma" method="post" action="/enigma/facturar" novalidate>
<div class="fila">
${field('d1', 'Dato 1', v.d1, errors)}
${field('d2', 'Dato 2', v.d2, errors)}
</div>
<div class="fila">
${field('rfc', 'RFC', v.rfc, errors, { attrs: 'maxlength="13"' })}
${field('nombre', 'Nombre o razón social', v.nombre, errors)}
</div>
<div class="fila">
${field('cp', 'Código postal', v.cp, errors, { attrs: 'maxlength="5"' })}
${selectField('regimen', 'Régimen fiscal', optionsRegimen(v.regimen, regFmt), 'Selecciona...', errors)}
</div>
${selectField('uso', 'Uso del CFDI', optionsUso(v.uso, usoFmt), 'Selecciona...', errors)}
${field('email', 'Correo electrónico', v.email, errors, { type: 'email' })}
<div class="acciones"><button class="btn" type="submit" id="facturar">${esc(button)}</button></div>
</form>
</main>`);
}

async function enigma(req, res, sub) {
  // ?boton=raro: a submit button whose label says nothing either ("Listo")
  const raro = new URL(req.url, 'http://127.0.0.1').searchParams.get('boton') === 'raro';
  if (req.method === 'GET' && sub === '') return sendHtml(res, 200, enigmaForm({}, {}, undefined, raro ? 'Listo' : 'Facturar'));
  if (req.method === 'POST' && sub === 'facturar') {
    countAttempt('enigma');
    const f = await readForm(req);
    const { receptor, errors } = validateReceptor(receptorFrom(f));
    const tErr = {};
    if (!norm(f.d1)) tErr.d1 = 'Captura el dato 1.';
    const cents = parseCents(f.d2);
    if (cents === null) tErr.d2 = 'El dato 2 debe ser un importe con centavos.';
    const all = { ...tErr, ...errors };
    if (Object.keys(all).length) return sendHtml(res, 422, enigmaForm(f, all));
    const t = findTicket('enigma', (t) => eqId(t.folio, f.d1));
    if (!t || parseCents(t.amount) !== cents) {
      return sendHtml(res, 422, enigmaForm(f, {}, 'No encontramos un ticket con esos datos.'));
    }
    if (alreadyInvoiced('enigma', t)) return sendHtml(res, 409, enigmaForm(f, {}, `El ticket ${t.folio} ya fue facturado.`));
    const uuid = issue('enigma', t, receptor);
    return sendHtml(res, 200, layout(ENIGMA, 'Factura generada', `<main>${resultBlock('enigma', uuid)}</main>`));
  }
  const m = /^xml\/([0-9A-Fa-f-]{36})$/.exec(sub);
  if (req.method === 'GET' && m) return sendXml(res, 'enigma', m[1]);
  return notFound(res);
}

// ======================================================================
// Index, test hooks, routing, CLI
// ======================================================================

const PORTALS = {
  larga: [larga, 'Gasolinera Los Pinos', 'un formulario largo (estación, folio, Web ID, total, fecha y datos fiscales)'],
  asistente: [asistente, 'SuperCompras México', 'asistente por pasos con aviso inicial, confirmación y timbrado'],
  spa: [spa, 'Cafés Aurora', 'aplicación de una sola página con listas desplegables personalizadas'],
  marco: [marco, 'Farmacias del Valle', 'formulario dentro de un iframe de otro origen'],
  sombra: [sombra, 'ElectroHogar', 'componentes web con shadow DOM abierto'],
  captcha: [captcha, 'GasExpress', 'formulario protegido con CAPTCHA'],
  vencido: [vencido, 'Restaurantes El Fogón', 'tickets inexistentes o fuera de plazo'],
  enigma: [enigma, 'Papelería La Clave', 'campos sin etiqueta útil (para la guía del LLM del modo genérico)'],
};

function indexPage() {
  return `<!doctype html><html lang="es"><head><meta charset="utf-8"><title>Portales de prueba</title>
<style>body{font-family:sans-serif;max-width:760px;margin:40px auto;color:#222}li{margin:8px 0}code{background:#eee;padding:1px 4px}</style></head>
<body><h1>Portales de autofacturación de prueba</h1><ul>
${Object.entries(PORTALS).map(([k, [, name, what]]) => `<li><a href="/${k}/">${esc(name)}</a> <code>/${k}/</code> — ${esc(what)}</li>`).join('\n')}
</ul><p>Ganchos de prueba: <code>GET /__records</code>, <code>GET /__attempts</code>, <code>POST /__reset</code>.</p></body></html>`;
}

async function route(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const p = url.pathname;
  if (p === '/' && req.method === 'GET') return sendHtml(res, 200, indexPage());
  if (p === '/__records' && req.method === 'GET') return sendJson(res, 200, state.records);
  if (p === '/__attempts' && req.method === 'GET') return sendJson(res, 200, state.attempts);
  if (p === '/__reset' && req.method === 'POST') {
    state.records = [];
    state.attempts = { total: 0, by_portal: {} };
    state.xml.clear();
    state.sessions.clear();
    return sendJson(res, 200, { ok: true });
  }
  if (p === '/favicon.ico') return send(res, 204, '');
  const m = /^\/([a-z]+)(\/(.*))?$/.exec(p);
  if (m && PORTALS[m[1]]) {
    if (m[2] === undefined) return redirect(res, `/${m[1]}/`);
    return PORTALS[m[1]][0](req, res, m[3], url);
  }
  return notFound(res);
}

function main() {
  let port = 0, parent = null;
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port' && i + 1 < args.length) port = Number(args[++i]);
    else if (args[i] === '--parent' && i + 1 < args.length) parent = Number(args[++i]);
    else {
      process.stderr.write(`server.js: unknown argument ${args[i]} (usage: server.js [--port N] [--parent PID])\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('server.js: --port must be an integer between 0 and 65535\n');
    process.exit(2);
  }
  if (parent !== null && !(Number.isInteger(parent) && parent > 1)) {
    process.stderr.write('server.js: --parent must be a process id greater than 1\n');
    process.exit(2);
  }
  const server = http.createServer((req, res) => {
    if (process.env.PORTAL_LOG) {
      res.on('finish', () => process.stderr.write(`${req.method} ${req.headers.host}${req.url} -> ${res.statusCode}\n`));
    }
    route(req, res).catch((e) => {
      process.stderr.write(`server.js: ${req.method} ${req.url}: ${e.stack || e}\n`);
      if (!res.headersSent) sendHtml(res, 500, '<h1>Error interno</h1><p>Ocurrió un error inesperado. Intenta más tarde.</p>');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 2000;
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`portal listening http://127.0.0.1:${server.address().port}\n`);
  });
  const stop = () => { server.close(); server.closeAllConnections(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (parent !== null) {
    setInterval(() => {
      try { process.kill(parent, 0); } catch { stop(); }
    }, 500).unref();
  }
}

main();
