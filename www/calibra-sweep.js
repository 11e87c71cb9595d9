// <calibra-sweep>: the live sweep of the "Why calibrate?" page, embeddable in any documentation
// page on a static host (no COOP/COEP needed: it runs the single-thread build).
//
//   <script src="vendor/d3.min.js"></script>
//   <script src="vendor/plot.umd.min.js"></script>
//   <script type="module" src="calibra-sweep.js"></script>
//   <calibra-sweep></calibra-sweep>
//   <calibra-sweep control-bias="1" deg-fraction="0.1" effect-size="1" cells="40"></calibra-sweep>
//
// Two sliders (control bias, DEG fraction) set the simulator's knobs; every move simulates a
// small dataset (500 genes, 40 perturbations) and evaluates it in a Web Worker with calibra's
// WebAssembly core, then redraws (a) the mean baseline against a genuine predictor on every
// calibrated metric and (b) each metric's Dynamic Range Fraction. The worker and the WASM
// build are found next to this file. While a point runs, the newest slider position waits and
// older ones are dropped. Attributes: control-bias, deg-fraction (starting values; setting them
// later moves the sliders), effect-size, cells (cells per perturbation). State for scripts and
// tests: data-state (loading, running, done, error), data-point (the knobs of the drawing on
// show), data-seconds (the worker's time for that point); the `result` property holds calibra's
// PointResult (`pointsEvaluated` counts the points computed) and a `calibra-sweep-done` event
// carries it.
import { el } from './render.js';
import { Evaluator, Cancelled, Superseded } from './protocol.js';

/** The DEG-fraction slider's stops (a multiplier of the genes each perturbation changes). */
const DEG_STEPS = [0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1];
/** The models of calibra's PointResult, in its order (calibra::sweep::SWEEP_MODELS). */
const MODELS = ['mean baseline', 'control baseline', 'technical duplicate', 'genuine predictor'];
const MEAN = 0, GENUINE = 3;
const COLOR = { mean: '#d95f02', genuine: '#1f78b4', reference: '#9a9a9a', good: '#1f78b4', bad: '#c0392b' };

const fmt = (x) => (x === null || x === undefined || Number.isNaN(x)) ? 'undefined' : Math.abs(x) >= 100 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(3);
const isNum = (x) => typeof x === 'number' && Number.isFinite(x);

const STYLE = `
  :host { display: block; font: 14px/1.4 system-ui, sans-serif; border: 1px solid #ddd; border-radius: 8px; padding: 0.8rem 1rem; }
  .controls { display: flex; flex-wrap: wrap; gap: 0.5rem 2rem; align-items: center; }
  .controls label { display: grid; grid-template-columns: 9.5rem 12rem 3.5rem; gap: 0.5rem; align-items: center; }
  .controls output { font-variant-numeric: tabular-nums; font-weight: 600; }
  .sub { color: #666; font-size: 0.85em; margin: 0.3rem 0; } .error { color: #a40000; white-space: pre-wrap; }
  .plots { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 0.5rem 1.5rem; margin-top: 0.4rem; }
  .plots.narrow { grid-template-columns: minmax(0, 1fr); }
  .plots h4 { margin: 0.3rem 0 0.1rem; font-size: 0.95em; }
  .legend { display: flex; flex-wrap: wrap; gap: 0.2rem 1rem; font-size: 0.8em; color: #444; }
  .legend i { display: inline-block; width: 0.7em; height: 0.7em; border-radius: 50%; margin-right: 0.3em; vertical-align: -0.05em; }
  .busy .plots { opacity: 0.55; transition: opacity 0.15s; }
  table { border-collapse: collapse; font-size: 0.8em; margin-top: 0.4rem; } th, td { border: 1px solid #e3e3e3; padding: 0.15rem 0.4rem; text-align: right; }
  th { background: #f6f6f6; text-align: left; } td.better { font-weight: bold; }
  summary { cursor: pointer; color: #444; font-size: 0.85em; margin-top: 0.4rem; }
`;

class CalibraSweep extends HTMLElement {
  static get observedAttributes() { return ['control-bias', 'deg-fraction', 'effect-size', 'cells']; }

  connectedCallback() {
    if (this.shadowRoot) return;
    this.dataset.state = 'loading';
    const root = this.attachShadow({ mode: 'open' });
    this.bias = el('input', { type: 'range', name: 'control-bias', min: '0', max: '1', step: '0.05', 'aria-label': 'control bias' });
    this.degs = el('input', { type: 'range', name: 'deg-fraction', min: '0', max: String(DEG_STEPS.length - 1), step: '1', 'aria-label': 'DEG fraction' });
    this.biasOut = el('output');
    this.degsOut = el('output');
    this.setSliders();
    for (const input of [this.bias, this.degs]) input.addEventListener('input', () => { this.showKnobs(); this.compute(); });
    this.status = el('p', { class: 'sub', 'aria-live': 'polite' }, 'loading calibra…');
    this.plots = el('div', { class: 'plots' });
    this.numbers = el('details', {}, el('summary', {}, 'the numbers'));
    this.box = el('div', {},
      el('div', { class: 'controls' },
        el('label', { title: 'SD of a log-fold change shared by every perturbed cell, on 30% of the genes: a shift of the whole screen away from the control cells' }, 'control bias', this.bias, this.biasOut),
        el('label', { title: 'multiplies the fraction of genes each perturbation changes (1: the simulator\'s own effect classes; 0.05: very sparse effects)' }, 'DEG fraction', this.degs, this.degsOut)),
      this.status, this.plots, this.numbers);
    root.append(el('style', {}, STYLE), this.box);
    this.evaluator = new Evaluator({
      singleThread: true,
      onReady: () => { this.ready = true; this.compute(); },
      onFatal: (message) => this.fail(message),
    });
    // Side by side when there is room, stacked otherwise.
    this.resize = new ResizeObserver(() => { if (this.result && this.isWide() !== this.wide) this.draw(this.result); });
    this.resize.observe(this);
  }

  disconnectedCallback() {
    this.evaluator?.terminate();
    this.resize?.disconnect();
  }

  attributeChangedCallback(name) {
    if (!this.shadowRoot) return;
    if (name === 'control-bias' || name === 'deg-fraction') this.setSliders();
    this.compute();
  }

  /** Sliders from the attributes (control-bias, deg-fraction), or the defaults. */
  setSliders() {
    const bias = Number(this.getAttribute('control-bias') ?? 0.5);
    this.bias.value = String(Number.isFinite(bias) ? bias : 0.5);
    const deg = Number(this.getAttribute('deg-fraction') ?? 0.3);
    let best = 0;
    DEG_STEPS.forEach((v, i) => { if (Math.abs(Math.log(v / deg)) < Math.abs(Math.log(DEG_STEPS[best] / deg))) best = i; });
    this.degs.value = String(best);
    this.showKnobs();
  }

  showKnobs() {
    this.biasOut.textContent = Number(this.bias.value).toFixed(2);
    this.degsOut.textContent = `×${DEG_STEPS[Number(this.degs.value)]}`;
  }

  /** The knobs of the sliders and attributes, as calibra's SweepPoint. */
  point() {
    const number = (name, dflt) => { const v = Number(this.getAttribute(name) ?? dflt); return Number.isFinite(v) ? v : dflt; };
    return {
      control_bias: Number(this.bias.value),
      deg_fraction: DEG_STEPS[Number(this.degs.value)],
      effect_size: number('effect-size', 1),
      cells_per_perturbation: Math.round(number('cells', 40)),
    };
  }

  /** Asks the worker for the sliders' point; a newer call supersedes one still waiting. */
  async compute() {
    if (!this.ready) return;
    const point = this.point();
    const seq = this.seq = (this.seq || 0) + 1;
    this.dataset.state = 'running';
    this.box.classList.add('busy');
    this.status.textContent = 'simulating and evaluating…';
    const t0 = performance.now();
    try {
      const { result, seconds } = await this.evaluator.sweepPoint(point);
      this.timing = { worker: seconds, roundTrip: (performance.now() - t0) / 1000 };
      this.pointsEvaluated = (this.pointsEvaluated || 0) + 1;
      this.draw(result);
      // An older point finished while a newer one waits: show it, but stay running.
      if (seq !== this.seq) return;
      this.status.textContent = `${result.mean_affected_genes.toFixed(0)} of 500 genes changed per perturbation on average · 40 perturbations · ` +
        `${point.cells_per_perturbation} cells each · simulated and evaluated in ${seconds.toFixed(2)} s in your browser; no data leaves this page.`;
      this.box.classList.remove('busy');
      this.dataset.seconds = seconds.toFixed(3);
      this.dataset.point = pointText(result.point);
      this.dataset.state = 'done';
      this.dispatchEvent(new CustomEvent('calibra-sweep-done', { detail: result }));
    } catch (e) {
      if (e instanceof Superseded || e instanceof Cancelled) return; // a newer point is on its way
      this.fail(String(e.message || e));
    }
  }

  fail(message) {
    this.dataset.state = 'error';
    this.box.classList.remove('busy');
    this.status.replaceChildren(el('span', { class: 'error' }, message));
  }

  isWide() { return this.clientWidth >= 760; }

  draw(result) {
    this.result = result;
    this.wide = this.isWide();
    const metrics = result.metrics.map((m) => m.metric);
    const rows = result.metrics;
    const height = 36 + 21 * metrics.length;
    const marginLeft = 165;

    // (a) Each metric's four models placed between the worst (0) and the best (1) of them, so
    // "better" is to the right on every metric whatever its scale or direction.
    const dots = [];
    for (const m of rows) {
      const finite = m.means.filter(isNum);
      const lo = Math.min(...finite), hi = Math.max(...finite);
      m.means.forEach((v, i) => {
        if (!isNum(v)) return;
        const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
        dots.push({ metric: m.metric, model: i, x: m.higher_is_better ? t : 1 - t, value: v });
      });
    }
    const winner = (m) => m.ranks[GENUINE] < m.ranks[MEAN] ? 'genuine' : m.ranks[MEAN] < m.ranks[GENUINE] ? 'mean' : 'tie';
    const tip = (m) => `${m.metric} (${m.higher_is_better ? 'higher' : 'lower'} is better)\n` +
      MODELS.map((name, i) => `${name}: ${fmt(m.means[i])}`).join('\n');
    const pair = rows.map((m) => {
      const a = dots.find((d) => d.metric === m.metric && d.model === MEAN);
      const b = dots.find((d) => d.metric === m.metric && d.model === GENUINE);
      return { metric: m.metric, x1: a?.x, x2: b?.x, win: winner(m) };
    }).filter((p) => isNum(p.x1) && isNum(p.x2));
    const compare = Plot.plot({
      width: 590, height, marginLeft, marginRight: 140, marginTop: 28,
      x: { domain: [0, 1], ticks: [0, 1], tickFormat: (d) => (d === 0 ? 'worst' : 'best'), label: 'worst → best of the four, per metric', labelAnchor: 'center', axis: 'top', grid: true },
      y: { domain: metrics, label: null },
      marks: [
        Plot.ruleY(metrics, { stroke: '#f0f0f0' }),
        Plot.ruleY(pair, { x1: 'x1', x2: 'x2', y: 'metric', stroke: (d) => (d.win === 'genuine' ? COLOR.genuine : d.win === 'mean' ? COLOR.mean : '#999'), strokeOpacity: 0.45, strokeWidth: 3 }),
        ...[[1, 'square'], [2, 'diamond']].map(([model, symbol]) => Plot.dot(dots.filter((d) => d.model === model), { x: 'x', y: 'metric', symbol, r: 3.5, stroke: COLOR.reference, fill: 'white', title: (d) => tip(rows.find((m) => m.metric === d.metric)) })),
        Plot.dot(dots.filter((d) => d.model === MEAN || d.model === GENUINE), { x: 'x', y: 'metric', r: 6, fill: (d) => (d.model === MEAN ? COLOR.mean : COLOR.genuine), stroke: 'white', title: (d) => tip(rows.find((m) => m.metric === d.metric)) }),
        Plot.text(rows, { y: 'metric', frameAnchor: 'right', textAnchor: 'start', dx: 12, fontWeight: 600,
          text: (m) => (winner(m) === 'genuine' ? 'genuine ✓' : winner(m) === 'mean' ? 'mean ✓' : 'tie'),
          fill: (m) => (winner(m) === 'genuine' ? COLOR.genuine : winner(m) === 'mean' ? COLOR.mean : '#777'),
          title: (m) => tip(m) }),
        // A constant prediction has no correlation: say so instead of drawing a dot.
        Plot.text(rows.filter((m) => !isNum(m.means[MEAN])), { y: 'metric', frameAnchor: 'right', textAnchor: 'start', dx: 76, fill: COLOR.mean, fontSize: 10,
          text: () => 'mean: n/a', title: () => 'the mean baseline predicts no change from the dataset mean: its correlation is undefined' }),
      ],
    });

    // (b) The headline DRF (interpolated duplicate against the metric's null): > 0, the metric
    // can tell signal from the null on this dataset.
    const drfRows = rows.map((m) => ({ metric: m.metric, drf: isNum(m.drf) ? m.drf : null }));
    const drf = Plot.plot({
      width: this.wide ? 330 : 560, height, marginLeft: this.wide ? 10 : marginLeft, marginRight: 40, marginTop: 28,
      x: { domain: [-1, 1], ticks: [-1, 0, 1], label: 'DRF', labelAnchor: 'center', axis: 'top', grid: true },
      y: { domain: metrics, label: null, axis: this.wide ? null : 'left' },
      marks: [
        Plot.barX(drfRows.filter((d) => d.drf !== null), { x: 'drf', y: 'metric', fill: (d) => (d.drf > 0 ? COLOR.good : COLOR.bad), title: (d) => `${d.metric}: DRF ${d.drf.toFixed(2)}` }),
        Plot.text(drfRows.filter((d) => d.drf !== null && d.drf >= 0), { x: 'drf', y: 'metric', text: (d) => d.drf.toFixed(2), textAnchor: 'start', dx: 4, fontSize: 10 }),
        Plot.text(drfRows.filter((d) => d.drf !== null && d.drf < 0), { x: 'drf', y: 'metric', text: (d) => d.drf.toFixed(2), textAnchor: 'end', dx: -4, fontSize: 10 }),
        Plot.text(drfRows.filter((d) => d.drf === null), { x: 0, y: 'metric', text: () => 'censored', fill: '#888', textAnchor: 'start', dx: 4 }),
        Plot.ruleX([0], { stroke: '#333' }),
      ],
    });

    const legend = el('div', { class: 'legend' },
      el('span', {}, el('i', { style: `background:${COLOR.mean}` }), 'mean baseline'),
      el('span', {}, el('i', { style: `background:${COLOR.genuine}` }), 'genuine predictor'),
      el('span', {}, '◇ technical duplicate, □ control baseline (references)'));
    this.plots.classList.toggle('narrow', !this.wide);
    this.plots.replaceChildren(
      el('div', { class: 'compare' }, el('h4', {}, 'Mean baseline vs genuine predictor'), legend, compare),
      el('div', { class: 'drf' }, el('h4', {}, 'Can the metric tell signal from null? (DRF)'),
        el('div', { class: 'legend' }, el('span', {}, el('i', { style: `background:${COLOR.good}` }), 'yes (> 0)'), el('span', {}, el('i', { style: `background:${COLOR.bad}` }), 'no (≤ 0)')), drf),
    );
    this.numbers.replaceChildren(el('summary', {}, 'the numbers'), el('table', {},
      el('tr', {}, ...['metric', 'better', ...MODELS, 'DRF'].map((h) => el('th', {}, h))),
      ...rows.map((m) => el('tr', {},
        el('th', {}, m.metric), el('td', {}, m.higher_is_better ? 'higher' : 'lower'),
        ...m.means.map((v, i) => el('td', { class: (i === MEAN || i === GENUINE) && m.ranks[i] === Math.min(m.ranks[MEAN], m.ranks[GENUINE]) && winner(m) !== 'tie' ? 'better' : '' }, fmt(v))),
        el('td', {}, isNum(m.drf) ? m.drf.toFixed(2) : 'censored')))));
  }
}

/** The knobs as `data-point` shows them. */
function pointText(p) {
  return `control_bias=${p.control_bias} deg_fraction=${p.deg_fraction} effect_size=${p.effect_size} cells_per_perturbation=${p.cells_per_perturbation}`;
}

customElements.define('calibra-sweep', CalibraSweep);
