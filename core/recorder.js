// recorder.js -- evaluated in every document while `autofactura
// record-recipe` runs: reports what the person does (values committed to
// fields, selects, checkboxes, clicks) through the __afRecord binding, each
// with a stable selector. Selectors ignore shadow roots: the runtime's own
// selectors pierce open ones.
(() => {
  if (window.__afRecorder) return;
  window.__afRecorder = true;
  /*@selector.js@*/
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
