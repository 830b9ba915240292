// selector.js -- a stable CSS selector for an element: its id, else a unique
// name, data-testid, data-value or aria-label attribute, else a short path.
// Spliced into page.js and recorder.js where they say so (CMakeLists.txt).
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
  for (let n = el; n && n.nodeType === 1 && parts.length < 5; n = n.parentElement) {
    if (n.id && unique(root, '#' + CSS.escape(n.id))) { parts.unshift('#' + CSS.escape(n.id)); break; }
    const same = n.parentElement ? [...n.parentElement.children].filter((c) => c.tagName === n.tagName) : [];
    const t = n.tagName.toLowerCase();
    parts.unshift(same.length > 1 ? `${t}:nth-of-type(${same.indexOf(n) + 1})` : t);
  }
  return parts.join(' > ');
};
