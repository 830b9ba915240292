// recorder.js -- evaluated in every document while `autofactura
// record-recipe` runs: reports what the person does (values committed to
// fields, selects, checkboxes, clicks) through the __afRecord binding, each
// with a stable selector. Selectors ignore shadow roots: the runtime's own
// selectors pierce open ones.
(() => {
  if (window.__afRecorder) return;
  window.__afRecorder = true;
  const unique = (root, s) => { try { return root.querySelectorAll(s).length === 1; } catch (e) { return false; } };
  const selector = (el) => {
    const root = el.getRootNode();
    if (el.id && unique(root, '#' + CSS.escape(el.id))) return '#' + CSS.escape(el.id);
    const tag = el.tagName.toLowerCase();
    for (const a of ['name', 'data-testid', 'data-value', 'aria-label']) {
      const v = el.getAttribute(a);
      const q = v && `${tag}[${a}="${v.replace(/["\\]/g, '\\$&')}"]`;
      if (v && unique(root, q)) return q;
    }
    const parts = [];
    for (let n = el; n && n.nodeType === 1 && parts.length < 4; n = n.parentElement) {
      if (n.id && unique(root, '#' + CSS.escape(n.id))) { parts.unshift('#' + CSS.escape(n.id)); break; }
      const same = n.parentElement ? [...n.parentElement.children].filter((c) => c.tagName === n.tagName) : [];
      const t = n.tagName.toLowerCase();
      parts.unshift(same.length > 1 ? `${t}:nth-of-type(${same.indexOf(n) + 1})` : t);
    }
    return parts.join(' > ');
  };
  const labelOf = (el) => ((el.labels && el.labels[0] && el.labels[0].innerText) ||
    el.getAttribute('aria-label') || el.placeholder || el.name || '').trim().slice(0, 60);
  // the binding may be installed after this script first runs
  const send = (o) => { if (typeof __afRecord === 'function') __afRecord(JSON.stringify(o)); };
  const textual = (el) => el.tagName === 'TEXTAREA' ||
    (el.tagName === 'INPUT' && !['checkbox', 'radio', 'submit', 'button', 'reset', 'image', 'file', 'hidden'].includes(el.type));
  document.addEventListener('change', (ev) => {
    const el = ev.composedPath()[0];
    if (!(el instanceof Element)) return;
    if (el.tagName === 'SELECT') {
      const o = el.options[el.selectedIndex];
      send({ kind: 'select', sel: selector(el), value: el.value, label: labelOf(el), option: o ? o.text.trim() : '' });
    } else if (el.tagName === 'INPUT' && (el.type === 'checkbox' || el.type === 'radio')) {
      send({ kind: 'check', sel: selector(el), checked: el.checked, label: labelOf(el) });
    } else if (textual(el)) {
      send({ kind: 'fill', sel: selector(el), value: el.value, label: labelOf(el) });
    }
  }, true);
  document.addEventListener('click', (ev) => {
    if (!ev.isTrusted) return;
    let el = ev.composedPath()[0];
    if (!(el instanceof Element)) return;
    const hit = el.closest('button, a, [role=button], [role=option], [role=tab], input[type=submit], input[type=button], [onclick]') || el;
    if (textual(hit) || hit.tagName === 'SELECT' || hit.tagName === 'LABEL' || hit.tagName === 'OPTION' ||
        (hit.tagName === 'INPUT' && (hit.type === 'checkbox' || hit.type === 'radio'))) return;
    send({ kind: 'click', sel: selector(hit), text: (hit.innerText || hit.value || '').trim().slice(0, 60) });
  }, true);
})();
