// calibra's Web Worker: loads the WASM core (threaded when the page is cross-origin isolated,
// single-threaded otherwise), reads dropped Files slice by slice, and evaluates. The page's
// main thread never computes. Messages: see protocol.js (the page's side).

let core = null;
let exportsOfWasm = null; // for the size of the WASM memory, which only grows: its peak
let session = null;

const base = new URL('.', import.meta.url);
// `worker.js?flavour=single-thread`: the single-thread build even on an isolated page.
const singleThreadOnly = new URL(self.location.href).searchParams.get('flavour') === 'single-thread';

async function init() {
  let flavour = 'single-thread';
  if (!singleThreadOnly && self.crossOriginIsolated && typeof SharedArrayBuffer !== 'undefined') {
    try {
      core = await import(new URL('./pkg-mt/calibra.js', base));
      exportsOfWasm = await core.default();
      await core.initThreadPool(navigator.hardwareConcurrency || 2);
      flavour = 'threaded';
    } catch (e) {
      console.warn('threaded build failed to start, using the single-thread build', e);
      core = null;
    }
  }
  if (!core) {
    core = await import(new URL('./pkg-st/calibra.js', base));
    exportsOfWasm = await core.default();
  }
  postMessage({ type: 'ready', flavour, threads: core.threadCount(), options: core.optionTable() });
}

const ready = init().catch((e) => postMessage({ type: 'fatal', message: String(e && e.message || e) }));

function progress(stage, fraction) {
  postMessage({ type: 'progress', stage, fraction });
}

// wasm32 addresses 4 GiB; a trap with the memory near it is the memory running out.
const WASM_MEMORY_MAX = 4 * 2 ** 30;

function errorText(e) {
  // wasm-bindgen JsError carries calibra's message; a trap is out-of-memory or a bug.
  if (e instanceof WebAssembly.RuntimeError) {
    const used = exportsOfWasm ? exportsOfWasm.memory.buffer.byteLength : 0;
    if (used > 0.85 * WASM_MEMORY_MAX || /memory|allocat/i.test(e.message)) {
      return `the evaluation ran out of WebAssembly memory (${(used / 2 ** 30).toFixed(1)} GiB of 4 GiB in use)` +
        '\n  what to do: use the command-line calibra (native memory), or evaluate fewer genes or perturbations per run';
    }
    return `internal error (please report): ${e.message}`;
  }
  return String((e && e.message) || e);
}

onmessage = async (event) => {
  await ready;
  const msg = event.data;
  try {
    if (msg.type === 'run') {
      if (session) { session.free(); session = null; }
      const t0 = performance.now();
      session = msg.example
        ? core.evaluateExample(msg.options, progress)
        : core.evaluateFiles(msg.cells, msg.predictions, msg.split || undefined, msg.options, progress);
      const report = session.report(progress);
      const seconds = (performance.now() - t0) / 1000;
      const memoryBytes = exportsOfWasm.memory.buffer.byteLength;
      postMessage({ type: 'done', id: msg.id, report, summary: session.summary(), seconds, memoryBytes });
    } else if (msg.type === 'file') {
      // The file arrives in parts (a Parquet row group, a block of CSV lines) copied out of
      // WASM memory one by one; the Blob assembles them without one contiguous copy.
      const parts = session.fileParts(msg.context, msg.name);
      const type = msg.name.endsWith('.csv') ? 'text/csv' : msg.name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
      postMessage({ type: 'file', id: msg.id, name: msg.name, blob: new Blob(parts, { type }) });
    } else if (msg.type === 'inspect') {
      postMessage({ type: 'inspect', id: msg.id, overview: core.inspectCells(msg.cells, msg.options) });
    } else if (msg.type === 'sweep') {
      // One point of the explainer's sweep: a small dataset simulated and evaluated here.
      const t0 = performance.now();
      const result = core.sweepPoint(msg.point);
      postMessage({ type: 'sweep', id: msg.id, result, seconds: (performance.now() - t0) / 1000 });
    } else if (msg.type === 'profiles') {
      postMessage({ type: 'profiles', id: msg.id, profiles: session.perturbationProfiles(msg.context, msg.perturbation) });
    }
  } catch (e) {
    postMessage({ type: 'error', id: msg.id, message: errorText(e), fatal: e instanceof WebAssembly.RuntimeError });
  }
};
