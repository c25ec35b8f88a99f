/**
 * The Map tab: build/architecture.md's Mermaid flowchart with each persona coloured by its state,
 * the personas as a table, and the edges as plain text (a test, or a reader, need not parse SVG).
 */
import { html, useEffect, useRef, useState } from '/assets/preact-htm.js';
import { setLogFilter } from './logs.js';

/** Mermaid styles per persona state; the class names are the states themselves. */
const STATE_CLASSES = [
  'classDef healthy fill:#dcfce7,stroke:#15803d,stroke-width:2px,color:#14532d',
  'classDef running fill:#dcfce7,stroke:#15803d,stroke-width:2px,color:#14532d',
  'classDef starting fill:#e0eaff,stroke:#64748b,stroke-width:2px,stroke-dasharray:4 3,color:#1e3a8a',
  'classDef failed fill:#fee2e2,stroke:#b91c1c,stroke-width:3px,color:#7f1d1d',
  'classDef finished fill:#e5e7eb,stroke:#374151,stroke-width:2px,color:#111827',
  'classDef stopped fill:#f3f4f6,stroke:#9ca3af,stroke-width:1px,color:#4b5563',
];

/** The Mermaid text to draw: the diagram plus a `class` line for each persona it shows. */
function mermaidWithStates(overview) {
  const text = overview.mermaid.trimEnd();
  const classes = [];
  for (const p of overview.personas) {
    // Only nodes the chart has (a `class` line must not name one that is not drawn), by the key
    // the server gave each node in the Mermaid text.
    const node = overview.diagram?.nodes.find((n) => n.id === p.id);
    if (node) classes.push(`  class ${node.key} ${p.state}`);
  }
  return [text, ...STATE_CLASSES.map((line) => '  ' + line), ...classes].join('\n') + '\n';
}

let mermaidReady = false;
let renderCount = 0;
/** The last drawing, kept across tab switches so coming back to the Map does not redraw. */
let lastDrawing = { text: '', svg: '', error: '' };

async function draw(text) {
  const mermaid = globalThis.mermaid;
  if (!mermaid) throw new Error('mermaid.min.js did not load');
  if (!mermaidReady) {
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: 'strict',
      theme: 'neutral',
      // IDs are long and dotted: wrapped at 200px (the default) they break at every hyphen.
      flowchart: { wrappingWidth: 400 },
      themeVariables: { fontSize: '14px' },
    });
    mermaidReady = true;
  }
  const id = `mermaid-${++renderCount}`;
  try {
    return (await mermaid.render(id, text)).svg;
  } finally {
    // On a syntax error Mermaid leaves its error drawing in the body.
    document.getElementById('d' + id)?.remove();
  }
}

/** Mermaid's own SVG output: the one piece of markup set by hand (drawn with securityLevel 'strict'). */
function Svg({ svg }) {
  const box = useRef(null);
  useEffect(() => {
    box.current.innerHTML = svg;
  }, [svg]);
  return html`<div class="diagram-svg" ref=${box}></div>`;
}

function Diagram({ overview }) {
  const [drawing, setDrawing] = useState(lastDrawing);
  const text = overview?.mermaid ? mermaidWithStates(overview) : '';

  // Redraw only when the text (the chart, or a persona's state) changed.
  useEffect(() => {
    if (!text || text === drawing.text) return;
    let current = true;
    draw(text).then(
      (svg) => current && setDrawing((lastDrawing = { text, svg, error: '' })),
      (err) => current && setDrawing((lastDrawing = { text, svg: '', error: String(err?.message ?? err) })),
    );
    return () => {
      current = false;
    };
  }, [text]);

  if (!overview) return html`<div class="diagram muted">Loading…</div>`;
  if (!overview.mermaid) return html`<div class="diagram muted">No diagram yet: the app's startup has not run.</div>`;
  return html`
    <div class="diagram" data-testid="diagram">
      ${
        drawing.error &&
        html`<div class="notice error">
          The diagram could not be drawn: ${drawing.error}
          <pre>${overview.mermaid}</pre>
        </div>`
      }
      <${Svg} svg=${drawing.svg} />
    </div>
  `;
}

function PersonaRow({ persona: p, onLogs }) {
  return html`
    <div class="persona-row" role="row" data-persona=${p.id} data-state=${p.state}>
      <span role="cell" class="persona-id">${p.id}</span>
      <span role="cell" class="muted">${p.kind}</span>
      <span role="cell"><span class=${`badge state-${p.state}`}>${p.state}</span></span>
      <span role="cell" class="num">${p.exitCode ?? ''}</span>
      <span role="cell" class="num">${p.restarts}</span>
      <span role="cell"
        ><button class="link" onClick=${() => onLogs(p.id)} title="Show this persona's logs">logs</button></span
      >
      ${p.state === 'failed' && html`<pre class="persona-error" role="cell">${p.error ?? '(no error message)'}</pre>`}
    </div>
  `;
}

export function MapTab({ overview, onTab }) {
  const personas = overview?.personas ?? [];
  const edges = overview?.diagram?.edges ?? [];
  const showLogs = (id) => {
    setLogFilter({ persona: id });
    onTab('logs');
  };
  return html`
    <${Diagram} overview=${overview} />
    <div class="map-lists">
      <div class="personas" role="table" data-testid="personas">
        <div class="persona-row head" role="row">
          <span role="columnheader">Persona</span>
          <span role="columnheader">Kind</span>
          <span role="columnheader">State</span>
          <span role="columnheader" class="num">Exit code</span>
          <span role="columnheader" class="num">Restarts</span>
          <span role="columnheader"></span>
        </div>
        ${personas.map((p) => html`<${PersonaRow} key=${p.id} persona=${p} onLogs=${showLogs} />`)}
        ${overview && personas.length === 0 && html`<div class="empty">No personas yet.</div>`}
      </div>
      <div class="edges-box">
        <h3>Edges</h3>
        <ul class="edges" data-testid="edges">
          ${edges.map(
            (e) =>
              html`<li data-edge=${`${e.from} ${e.kind} ${e.to}`}>
                ${e.from} <span class="arrow">→ ${e.kind} →</span> ${e.to}
              </li>`,
          )}
        </ul>
        ${edges.length === 0 && html`<div class="empty">No edges.</div>`}
      </div>
    </div>
  `;
}
