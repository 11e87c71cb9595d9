// calibra's page controller: collects files and options, drives the Web Worker, renders results.
// Test contract: input[name=cells], input[name=predictions], #run; body.dataset.state is
// "done" or "error" (message in #error); window.calibraReport holds the report.
import { el, flattenReport, verdicts, drfHeatmap, modelTable, forestPlots, perturbationTable, scatter, userModels } from './render.js';

const $ = (s) => document.querySelector(s);
const STAGES = ['read_cells', 'read_predictions', 'deg', 'baselines', 'metrics', 'calibration', 'statistics'];

let worker = null;
let pending = new Map();
let nextId = 1;
let droppedCells = null;
let droppedPredictions = null;

function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = onMessage;
  worker.onerror = (e) => fail(`the evaluator failed to load: ${e.message}`);
}

function request(msg) {
  const id = nextId++;
  return new Promise((resolve, reject) => { pending.set(id, { resolve, reject }); worker.postMessage({ ...msg, id }); });
}

function onMessage(e) {
  const m = e.data;
  if (m.type === 'ready') {
    $('#engine').textContent = m.flavour === 'threaded'
      ? `Engine: threaded WebAssembly, ${m.threads} threads.`
      : `Engine: single-thread WebAssembly (this page is not cross-origin isolated, so threads are unavailable).`;
    document.body.dataset.engine = m.flavour;
    document.body.dataset.threads = m.threads;
    $('#run').disabled = false; $('#example').disabled = false;
  } else if (m.type === 'fatal') {
    fail(`the evaluator could not start: ${m.message}`);
  } else if (m.type === 'progress') {
    showProgress(m.stage, m.fraction);
  } else if (m.type === 'done') {
    render(m.report, m.summary, m.seconds, m.memoryBytes);
  } else if (m.type === 'error') {
    if (m.id && pending.has(m.id)) { pending.get(m.id).reject(new Error(m.message)); pending.delete(m.id); return; }
    fail(m.message);
    if (m.fatal) { worker.terminate(); startWorker(); }
  } else if ((m.type === 'file' || m.type === 'profiles') && pending.has(m.id)) {
    pending.get(m.id).resolve(m); pending.delete(m.id);
  }
}

function showProgress(stage, fraction) {
  const box = $('#progress');
  let row = box.querySelector(`[data-stage="${stage}"]`);
  if (!row) {
    row = el('div', { class: 'stage', 'data-stage': stage }, el('span', {}, stage.replace('_', ' ')), el('progress', { max: 1, value: 0 }), el('span', {}, ''));
    box.append(row);
  }
  row.querySelector('progress').value = fraction;
  row.lastChild.textContent = `${Math.round(fraction * 100)}%`;
}

function fail(message) {
  $('#error').textContent = message;
  document.body.dataset.state = 'error';
  $('#run').disabled = false; $('#example').disabled = false;
}

function options() {
  return {
    controlLabel: $('#control').value || null,
    seed: Number($('#seed').value) || 42,
    normalize: $('#normalize').checked,
    preset: $('#preset').value,
    dropMissingGenes: $('#dropgenes').checked,
  };
}

function run(example) {
  const cells = droppedCells || $('input[name=cells]').files[0];
  const predictions = droppedPredictions || [...$('input[name=predictions]').files];
  if (!example && !cells) { fail('choose the observed-cells file first'); return; }
  document.body.dataset.state = 'running';
  $('#error').textContent = '';
  $('#progress').replaceChildren();
  $('#results').hidden = true;
  $('#run').disabled = true; $('#example').disabled = true;
  worker.postMessage({ type: 'run', example, cells, predictions, options: options() });
}

async function download(context, name) {
  const m = await request({ type: 'file', context, name });
  const type = name.endsWith('.csv') ? 'text/csv' : name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
  const url = URL.createObjectURL(new Blob([m.bytes], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function render(report, summary, seconds, memoryBytes) {
  const files = flattenReport(report);
  window.calibraReport = files;
  const context = 0;
  $('#verdict').replaceChildren(...verdicts(files).map((v) => el('p', { class: 'verdict' }, v.text)),
    el('p', { class: 'sub' }, `Evaluated in ${seconds.toFixed(2)} s on this machine (WebAssembly memory ${(memoryBytes / 2 ** 20).toFixed(0)} MiB). Calibrated metrics: not censored and mean DRF (interpolated) > 0.`));
  $('#drf').replaceChildren(drfHeatmap(files));
  $('#models').replaceChildren(modelTable(files));
  $('#forest').replaceChildren(forestPlots(files));
  const models = userModels(files);
  const all = [...new Set(files['stats.csv'].map((r) => r.model))];
  const pick = $('#pmodel');
  pick.replaceChildren(...(models.length ? models : all).concat(models.length ? all.filter((m) => !models.includes(m)) : []).map((m) => el('option', { value: m }, m)));
  const drawPerts = () => $('#perts').replaceChildren(perturbationTable(files, pick.value, async (p) => {
    const m = await request({ type: 'profiles', context, perturbation: p });
    $('#scatter').replaceChildren(scatter(m.profiles, pick.value, p));
  }));
  pick.onchange = drawPerts;
  drawPerts();
  const names = ['metrics.csv', 'summary.csv', 'drf.csv', 'drf_summary.csv', 'stats.csv', 'perturbations.csv', 'deg_gt.parquet', 'deg_td.parquet', 'baselines.parquet', 'manifest.json'];
  $('#downloads').replaceChildren(...names.map((n) => el('a', { href: '#', onclick: (e) => { e.preventDefault(); download(context, n); } }, n)));
  $('#summary').textContent = summary;
  $('#results').hidden = false;
  $('#run').disabled = false; $('#example').disabled = false;
  document.body.dataset.seconds = seconds;
  document.body.dataset.wasmMemory = memoryBytes;
  document.body.dataset.state = 'done';
}

// Drag and drop: the first file is the cells, the rest are predictions.
const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault(); drop.classList.remove('over');
  const files = [...e.dataTransfer.files];
  if (!files.length) return;
  droppedCells = files[0]; droppedPredictions = files.slice(1);
  drop.textContent = `cells: ${droppedCells.name}; predictions: ${droppedPredictions.map((f) => f.name).join(', ') || 'none'}`;
});
for (const input of document.querySelectorAll('input[type=file]')) input.addEventListener('change', () => { droppedCells = null; droppedPredictions = null; });
$('#run').addEventListener('click', () => run(false));
$('#example').addEventListener('click', () => run(true));
startWorker();
