// page.js -- helpers evaluated inside the page for every page action.
// Called as (op, args, timeoutMs) and resolves to {ok: true, value} or
// {ok: false, code, error}. Waiting happens here, in the page, so an action
// costs one CDP round trip. Selectors pierce open shadow roots.
(async (op, a, timeout) => {
  const deadline = Date.now() + timeout;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let last = null; // frame_point: the previous poll's answer
  const CLICK = Symbol.for('autofactura.click');

  // querySelector in the document, then in every open shadow root, depth first.
  const deep = (root, sel) => {
    const direct = root.querySelector(sel);
    if (direct) return direct;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) {
        const found = deep(el.shadowRoot, sel);
        if (found) return found;
      }
    }
    return null;
  };
  const query = (sel) => {
    try { return deep(document, sel); }
    catch (e) { throw { code: 'bad-selector', error: 'invalid selector ' + JSON.stringify(sel) }; }
  };
  const visible = (el) => {
    if (!el.isConnected) return false;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return false;
    if (el.checkVisibility) return el.checkVisibility({ visibilityProperty: true });
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none';
  };
  const deepText = (root) => {
    let t = root === document ? (document.body ? document.body.innerText : '') : '';
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) {
        for (const c of el.shadowRoot.children) t += '\n' + (c.innerText || c.textContent || '');
        t += deepText(el.shadowRoot);
      }
    }
    return t;
  };
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const setValue = (el, v) => {
    const proto = Object.getPrototypeOf(el);
    const desc = Object.getOwnPropertyDescriptor(proto, 'value');
    if (desc && desc.set) desc.set.call(el, v); else el.value = v;
  };
  const fire = (el, type) => el.dispatchEvent(new Event(type, { bubbles: true, composed: true }));
  const editable = (el) => !el.disabled && !el.readOnly;

  // Each step returns undefined while it should keep waiting.
  const steps = {
    wait() {
      const el = query(a.sel);
      const state = a.state || 'visible';
      if (state === 'attached') return el ? true : undefined;
      if (state === 'hidden') return !el || !visible(el) ? true : undefined;
      return el && visible(el) ? true : undefined;
    },
    wait_any() {
      for (const s of a.sels) { const el = query(s); if (el && visible(el)) return s; }
    },
    wait_text() { return deepText(document).includes(a.text) ? true : undefined; },
    exists() { return !!query(a.sel); },
    element() { return query(a.sel) || undefined; },
    text() { const el = query(a.sel); return el ? norm(el.innerText || el.textContent) : null; },
    value() { const el = query(a.sel); return el ? String(el.value ?? '') : null; },
    fill() {
      const el = query(a.sel);
      if (!el || !visible(el) || !editable(el)) return;
      el.focus();
      if (el.isContentEditable) el.textContent = a.value;
      else setValue(el, a.value);
      el.dispatchEvent(new InputEvent('input', { bubbles: true, composed: true, inputType: 'insertText', data: a.value }));
      fire(el, 'change');
      return true;
    },
    select() {
      const el = query(a.sel);
      if (!el || !visible(el) || el.disabled) return;
      if (el.tagName !== 'SELECT') throw { code: 'bad-target', error: a.sel + ' is not a <select>' };
      const opt = Array.from(el.options).find((o) =>
        a.value !== undefined ? o.value === a.value
        : a.label !== undefined ? norm(o.label || o.text) === norm(a.label)
        : norm(o.label || o.text).includes(norm(a.label_contains)));
      if (!opt) return;
      el.value = opt.value;
      fire(el, 'input');
      fire(el, 'change');
      return opt.value;
    },
    check() {
      const el = query(a.sel);
      if (!el || !visible(el) || el.disabled) return;
      if (el.checked !== a.checked) el.click();
      return el.checked === a.checked ? true : undefined;
    },
    focus() {
      const el = query(a.sel);
      if (!el || !visible(el)) return;
      el.focus();
      return true;
    },
    // Centre of the element in this frame's viewport, once it is visible,
    // enabled and not covered by another element.
    point() {
      const el = query(a.sel);
      if (!el || !visible(el) || el.disabled) return;
      el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
      const r = el.getBoundingClientRect();
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      let hit = document.elementFromPoint(x, y);
      while (hit && hit.shadowRoot) {
        const inner = hit.shadowRoot.elementFromPoint(x, y);
        if (!inner || inner === hit) break;
        hit = inner;
      }
      const covers = (n) => { for (; n; n = n.parentNode || n.host) if (n === el) return true; return false; };
      if (!hit || !(covers(hit) || el.contains(hit))) return;
      if (a.arm) { // let `clicked` tell whether the click reached el
        window[CLICK] = false;
        el.addEventListener('click', () => { window[CLICK] = true; }, { capture: true, once: true });
      }
      return { x, y };
    },
    clicked() { return window[CLICK] === true ? true : undefined; },
    // Translate a point of an <iframe>'s viewport (a.x, a.y) into this
    // frame's viewport, scrolling this frame so the point is visible. The
    // box must hold still for one poll: a child frame's scrollIntoView
    // scrolls its parents asynchronously.
    frame_point() {
      const el = query(a.sel);
      if (!el || !visible(el)) return;
      if (el.tagName !== 'IFRAME' && el.tagName !== 'FRAME') throw { code: 'bad-target', error: a.sel + ' is not an <iframe>' };
      const box = () => {
        const r = el.getBoundingClientRect(), s = getComputedStyle(el);
        return { x: r.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft) + a.x,
                 y: r.top + parseFloat(s.borderTopWidth) + parseFloat(s.paddingTop) + a.y };
      };
      let p = box();
      if (p.y < 0 || p.y > innerHeight || p.x < 0 || p.x > innerWidth) {
        window.scrollBy({ left: p.x < 0 || p.x > innerWidth ? p.x - innerWidth / 2 : 0,
                          top: p.y < 0 || p.y > innerHeight ? p.y - innerHeight / 2 : 0,
                          behavior: 'instant' });
        p = box();
      }
      const key = p.x + ',' + p.y;
      if (last !== key) { last = key; return; }
      return p;
    },
    url() { return location.href; },
    // What the generic fallback needs to understand a page: its visible
    // interactive elements (stable selectors, labels, options), its frames,
    // and cues (alert texts, a UUID, a CAPTCHA, a password field).
    snapshot() {
      const all = [];
      const collect = (root) => {
        for (const el of root.querySelectorAll('*')) {
          all.push(el);
          if (el.shadowRoot) collect(el.shadowRoot);
        }
      };
      collect(document);
      /*@selector.js@*/
      const text = (n) => norm(n ? (n.innerText || n.textContent || '') : '');
      const labelOf = (el) => {
        if (el.labels && el.labels.length) return text(el.labels[0]);
        const by = el.getAttribute('aria-labelledby');
        if (by) {
          const r = el.getRootNode();
          return by.split(/\s+/).map((id) => text(r.getElementById ? r.getElementById(id) : document.getElementById(id))).join(' ');
        }
        if (el.getAttribute('aria-label')) return norm(el.getAttribute('aria-label'));
        for (let p = el.previousElementSibling; p; p = p.previousElementSibling) {
          const t = text(p);
          if (t) return t.slice(0, 80);
        }
        const parent = el.parentElement || (el.getRootNode() && el.getRootNode().host);
        return parent ? text(parent).slice(0, 80) : '';
      };
      const snap = { url: location.href, title: document.title, fields: [], buttons: [], frames: [], options: [],
                     alerts: [], captcha: false, password: false, text: '' };
      for (const el of all) {
        if (!visible(el)) continue;
        const tag = el.tagName, type = (el.getAttribute('type') || '').toLowerCase();
        if (tag === 'IFRAME' || tag === 'FRAME') {
          snap.frames.push({ sel: selector(el), src: el.src || '' });
        } else if (tag === 'SELECT') {
          snap.fields.push({ kind: 'select', sel: selector(el), label: labelOf(el), name: el.name || '',
                             value: el.value, options: [...el.options].map((o) => ({ value: o.value, text: norm(o.text) })) });
        } else if ((tag === 'INPUT' && !['hidden', 'submit', 'button', 'reset', 'image', 'file', 'checkbox', 'radio'].includes(type)) || tag === 'TEXTAREA') {
          if (type === 'password') snap.password = true;
          snap.fields.push({ kind: 'input', type: type || 'text', sel: selector(el), label: labelOf(el),
                             name: el.name || '', placeholder: el.placeholder || '', value: el.value,
                             readonly: el.readOnly || el.disabled, maxlength: el.maxLength > 0 ? el.maxLength : undefined });
        } else if (tag === 'INPUT' && (type === 'checkbox' || type === 'radio')) {
          snap.fields.push({ kind: 'checkbox', sel: selector(el), label: labelOf(el), name: el.name || '', checked: el.checked });
        } else if (el.getAttribute('role') === 'combobox' || el.getAttribute('aria-haspopup') === 'listbox') {
          const lb = el.getAttribute('aria-controls') && el.getRootNode().getElementById
            ? el.getRootNode().getElementById(el.getAttribute('aria-controls')) : null;
          const options = lb ? [...lb.querySelectorAll('[role=option]')].map((o) => ({
            value: o.getAttribute('data-value') || '', text: norm(o.textContent), sel: selector(o) })) : [];
          snap.fields.push({ kind: 'listbox', sel: selector(el), label: labelOf(el), value: text(el), options });
        } else if (tag === 'BUTTON' || (tag === 'INPUT' && ['submit', 'button'].includes(type)) ||
                   el.getAttribute('role') === 'button' || tag === 'A') {
          const t = tag === 'INPUT' ? norm(el.value) : text(el);
          if (t || tag !== 'A') snap.buttons.push({ sel: selector(el), text: t.slice(0, 60), tag: tag.toLowerCase(),
                                                    href: tag === 'A' ? (el.getAttribute('href') || '') : '',
                                                    download: tag === 'A' && el.hasAttribute('download'),
                                                    dialog: !!el.closest('dialog, [role=dialog], .modal') });
        } else if (el.getAttribute('role') === 'option') {
          snap.options.push({ sel: selector(el), value: el.getAttribute('data-value') || '', text: text(el) });
        } else if (tag === 'CANVAS') {
          const around = text(el.parentElement) + ' ' + (el.id || '') + ' ' + (el.className || '');
          if (/captcha|robot/i.test(around)) snap.captcha = true;
        }
        // errors, not notices: role=alert, or an error-like class or id
        const cls = typeof el.className === 'string' ? el.className : '';
        if ((el.getAttribute('role') === 'alert' || /(^|[\s_-])(error|errores|danger|alerta)([\s_-]|$)/i.test(cls) ||
             /^(alerta|errores|error)$/.test(el.id || '')) && !/(^|[\s_-])(info|success|ok)([\s_-]|$)/i.test(cls) &&
            text(el)) snap.alerts.push(text(el).slice(0, 300));
      }
      const body = deepText(document);
      snap.text = norm(body).slice(0, 4000);
      const m = body.match(/[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}/i);
      if (m) snap.uuid = m[0].toUpperCase();
      if (/no soy un robot|captcha/i.test(body) || document.querySelector('iframe[src*="recaptcha"], iframe[src*="hcaptcha"], .g-recaptcha, .h-captcha'))
        snap.captcha = snap.captcha || /no soy un robot|recaptcha|hcaptcha|captcha/i.test(body);
      return snap;
    },
  };
  const step = steps[op];
  if (!step) return { ok: false, code: 'bad-op', error: 'unknown page operation ' + op };
  for (;;) {
    try {
      const v = step();
      if (v !== undefined) return { ok: true, value: v };
    } catch (e) {
      return { ok: false, code: e.code || 'js-error', error: e.error || String(e) };
    }
    if (Date.now() >= deadline) return { ok: false, code: 'timeout', error: 'timeout' };
    await sleep(20);
  }
})
