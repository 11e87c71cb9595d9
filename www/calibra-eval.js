// <calibra-eval>: an embeddable evaluator for static documentation pages.
//
//   <script src="vendor/d3.min.js"></script>
//   <script src="vendor/plot.umd.min.js"></script>
//   <script type="module" src="calibra-eval.js"></script>
//   <calibra-eval example></calibra-eval>                       simulated example, on load
//   <calibra-eval cells="data/cells.parquet" predictions="data/model.parquet"></calibra-eval>
//   <calibra-eval></calibra-eval>                               a drop zone
//
// Files named by attributes are fetched from the same site; everything is computed locally in a
// Web Worker (threaded when the host sends COOP/COEP, single-threaded otherwise). When done the
// element has state="done" (or "error") and its `report` property holds the report.
import { el, flattenReport, verdicts, drfHeatmap, modelTable } from './render.js';
import { Evaluator, Cancelled } from './protocol.js';

const STYLE = `
  :host { display: block; font: 14px/1.4 system-ui, sans-serif; border: 1px solid #ddd; border-radius: 8px; padding: 0.8rem; }
  .drop { border: 2px dashed #aaa; border-radius: 6px; padding: 1rem; text-align: center; color: #555; }
  .sub { color: #666; font-size: 0.85em; } .error { color: #a40000; white-space: pre-wrap; }
  table { border-collapse: collapse; font-size: 0.8em; } th, td { border: 1px solid #e3e3e3; padding: 0.15rem 0.35rem; text-align: right; }
  th { background: #f6f6f6; text-align: left; } td.better { font-weight: bold; color: #1b5e20; } .scroll { overflow: auto; }
`;

class CalibraEval extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    root.append(el('style', {}, STYLE));
    this.status = el('p', { class: 'sub' }, 'loading the evaluator…');
    this.out = el('div');
    root.append(this.status, this.out);
    this.evaluator = new Evaluator({
      onReady: (m) => {
        this.engineText = `calibra (${m.flavour === 'threaded' ? `${m.threads} threads` : 'single-thread'}) — computed in your browser; no data leaves this page.`;
        this.status.textContent = this.engineText;
        if (!this.started) { this.started = true; this.start(); }
      },
      onProgress: (stage, fraction) => { this.status.textContent = `${stage.replace('_', ' ')}… ${Math.round(fraction * 100)}%`; },
      onFatal: (message) => this.fail(message),
    });
  }

  disconnectedCallback() {
    this.evaluator?.terminate();
  }

  fail(message) {
    this.setAttribute('state', 'error');
    this.out.replaceChildren(el('p', { class: 'error' }, message));
  }

  async start() {
    if (this.hasAttribute('example')) {
      this.run({ example: true });
    } else if (this.getAttribute('cells')) {
      try {
        const fetchFile = async (url) => {
          const r = await fetch(new URL(url, document.baseURI));
          if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
          return new File([await r.blob()], url.split('/').pop());
        };
        const cells = await fetchFile(this.getAttribute('cells'));
        const preds = await Promise.all((this.getAttribute('predictions') || '').split(/\s+/).filter(Boolean).map(fetchFile));
        this.run({ cells, predictions: preds });
      } catch (e) {
        this.fail(String(e.message || e));
      }
    } else {
      const zone = el('div', { class: 'drop' }, 'Drop the observed cells first, then prediction files (Parquet / Arrow) — all at once.');
      zone.addEventListener('dragover', (e) => e.preventDefault());
      zone.addEventListener('drop', (e) => {
        e.preventDefault();
        const files = [...e.dataTransfer.files];
        if (files.length) this.run({ cells: files[0], predictions: files.slice(1) });
      });
      this.out.replaceChildren(zone);
    }
  }

  /** Evaluates; the element's own defaults are calibra's (the seed and control label
   *  attributes override them). A Cancel button stops a running evaluation. */
  async run({ example = false, cells = null, predictions = [] }) {
    this.setAttribute('state', 'running');
    const options = {};
    if (this.hasAttribute('seed')) options.seed = this.getAttribute('seed');
    if (this.hasAttribute('control-label')) options.controlLabel = this.getAttribute('control-label');
    const cancel = el('button', { onclick: () => this.evaluator.cancel() }, 'Cancel');
    this.out.replaceChildren(cancel);
    try {
      const m = await this.evaluator.run({ example, cells, predictions, options });
      this.show(m.report, m.seconds);
    } catch (e) {
      if (e instanceof Cancelled) {
        this.setAttribute('state', 'cancelled');
        this.out.replaceChildren(el('p', { class: 'sub' }, 'Cancelled.'));
        // A drop zone comes back, ready for the next files.
        if (!this.hasAttribute('example') && !this.getAttribute('cells')) this.start();
      } else {
        this.fail(e.message);
      }
    }
  }

  show(report, seconds) {
    const files = flattenReport(report);
    this.report = files;
    this.out.replaceChildren(
      ...verdicts(files).map((v) => el('p', {}, v.text)),
      ...files.judgements.notes.map((n) => el('p', { class: 'sub' }, n)),
      el('p', { class: 'sub' }, `evaluated in ${seconds.toFixed(2)} s`),
      drfHeatmap(files),
      el('div', { class: 'scroll' }, modelTable(files)),
    );
    this.status.textContent = this.engineText;
    this.setAttribute('state', 'done');
    this.dispatchEvent(new CustomEvent('calibra-done', { detail: files }));
  }
}

customElements.define('calibra-eval', CalibraEval);
