// The one protocol between a page (app.js, <calibra-eval>) and calibra's Web Worker (worker.js).
//
// Every request carries an id and is answered by a message with the same id, so a page can
// have a download or a profile request in flight while nothing else is running. An evaluation
// is cancelled by terminating the worker — WebAssembly cannot be interrupted from outside, and
// a fresh worker (the build is cached by the browser) is ready in well under a second — so a
// cancelled run leaves the page usable. A trap (WebAssembly.RuntimeError) is handled the same
// way: the worker is replaced and the page stays usable.

/** The error a cancelled request rejects with. */
export class Cancelled extends Error {
  constructor() { super('cancelled'); this.name = 'Cancelled'; }
}

/** The error a sweep point rejects with when a newer point replaced it before it ran. */
export class Superseded extends Error {
  constructor() { super('superseded'); this.name = 'Superseded'; }
}

export class Evaluator {
  /**
   * @param {object} hooks
   *   onReady({ flavour, threads, options }) — a worker started (again after a cancel);
   *   onProgress(stage, fraction); onFatal(message) — the evaluator could not start.
   * @param {boolean} singleThread — always the single-thread build, even when the page is
   *   cross-origin isolated (it starts fastest; the sweep's small points need no threads).
   */
  constructor({ onReady = () => {}, onProgress = () => {}, onFatal = () => {}, singleThread = false } = {}) {
    this.hooks = { onReady, onProgress, onFatal };
    this.singleThread = singleThread;
    this.pending = new Map();
    this.nextId = 1;
    this.running = null; // id of the evaluation in flight
    this.sweepBusy = false; // a sweep point is in the worker
    this.sweepNext = null; // the newest point waiting for it: { point, resolve, reject }
    this.start();
  }

  start() {
    const url = new URL('./worker.js', import.meta.url);
    if (this.singleThread) url.searchParams.set('flavour', 'single-thread');
    this.worker = new Worker(url, { type: 'module' });
    this.worker.onmessage = (e) => this.onMessage(e.data);
    this.worker.onerror = (e) => this.hooks.onFatal(`the evaluator failed to load: ${e.message}`);
  }

  onMessage(m) {
    if (m.type === 'ready') { this.hooks.onReady(m); return; }
    if (m.type === 'fatal') { this.hooks.onFatal(`the evaluator could not start: ${m.message}`); return; }
    if (m.type === 'progress') { this.hooks.onProgress(m.stage, m.fraction); return; }
    const waiting = this.pending.get(m.id);
    if (!waiting) return;
    this.pending.delete(m.id);
    if (m.id === this.running) this.running = null;
    if (m.type === 'error') {
      waiting.reject(new Error(m.message));
      // A trap leaves the WASM instance unusable: start a fresh worker.
      if (m.fatal) this.restart();
    } else {
      waiting.resolve(m);
    }
  }

  request(msg, transfer = []) {
    const id = this.nextId++;
    return { id, promise: new Promise((resolve, reject) => { this.pending.set(id, { resolve, reject }); this.worker.postMessage({ ...msg, id }, transfer); }) };
  }

  /** Evaluates files (or the built-in example); resolves to { report, summary, seconds, memoryBytes }. */
  run({ example = false, cells = null, predictions = [], split = null, options = {} }) {
    const { id, promise } = this.request({ type: 'run', example, cells, predictions, split, options });
    this.running = id;
    return promise;
  }

  /** Stops the running evaluation (its promise rejects with Cancelled) and starts a fresh worker. */
  cancel() {
    if (this.running === null) return false;
    this.restart();
    return true;
  }

  restart() {
    this.worker.terminate();
    for (const { reject } of this.pending.values()) reject(new Cancelled());
    this.pending.clear();
    this.running = null;
    this.start();
  }

  /**
   * Simulates and evaluates one point of the sweep (`{ control_bias, deg_fraction, effect_size,
   * cells_per_perturbation }`); resolves to { result, seconds } (calibra's PointResult and the
   * worker's time for it). The newest point wins: one point is in the worker at a time, and a
   * point asked for while another runs replaces any point still waiting (which rejects with
   * Superseded), so moving a slider never queues stale work.
   */
  sweepPoint(point) {
    return new Promise((resolve, reject) => {
      this.sweepNext?.reject(new Superseded());
      this.sweepNext = { point, resolve, reject };
      this.nextSweep();
    });
  }

  nextSweep() {
    if (this.sweepBusy || !this.sweepNext) return;
    const { point, resolve, reject } = this.sweepNext;
    this.sweepNext = null;
    this.sweepBusy = true;
    this.request({ type: 'sweep', point }).promise
      .then((m) => resolve({ result: m.result, seconds: m.seconds }), reject)
      .finally(() => { this.sweepBusy = false; this.nextSweep(); });
  }

  /** One output file as a Blob, generated in the worker part by part. */
  async file(context, name) {
    return (await this.request({ type: 'file', context, name }).promise).blob;
  }

  /** A first look at a cells file: format, layout, annotation columns and their roles. */
  async inspect(cells, options) {
    return (await this.request({ type: 'inspect', cells, options }).promise).overview;
  }

  /** Per-gene profiles of one perturbation, for the scatter plot. */
  async profiles(context, perturbation) {
    return (await this.request({ type: 'profiles', context, perturbation }).promise).profiles;
  }

  terminate() {
    this.worker.terminate();
  }
}
