// Parses every ```mermaid block of a Markdown file with the Mermaid library
// (in a jsdom window), so a diagram that GitHub could not render fails here.
// Usage: node mermaid-check.mjs FILE.md (from `make check-diagrams`).
import { JSDOM } from 'jsdom';
import fs from 'fs';
const dom = new JSDOM('<!doctype html><html><body></body></html>');
global.window = dom.window; global.document = dom.window.document;
try { global.navigator = dom.window.navigator; } catch (e) {}
global.DOMParser = dom.window.DOMParser; global.Element = dom.window.Element;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });
const text = fs.readFileSync(process.argv[2], 'utf8');
const blocks = [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map(m => m[1]);
let bad = 0;
for (const [i, b] of blocks.entries()) {
  try { await mermaid.parse(b); console.log(`block ${i + 1}: ok (${b.split('\n')[0]})`); }
  catch (e) { bad++; console.log(`block ${i + 1}: ${String(e.message || e).split('\n').slice(0, 4).join(' | ')}`); }
}
process.exit(bad ? 1 : 0);
