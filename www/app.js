// calibra's page controller: collects files and options, drives the Web Worker, renders results.
// Test contract: input[name=cells], input[name=predictions], input[name=split], #run; body.dataset.state is
// "done" or "error" (message in #error); window.calibraReport holds the report.
import { el, flattenReport, verdicts, drfHeatmap, modelTable, forestPlots, perturbationTable, scatter, userModels, pooledTable, agreementHeatmap, metricGroup, onlyGroup, groupParameters, vccScoreLines } from './render.js';
import { Evaluator, Cancelled } from './protocol.js';

const $ = (s) => document.querySelector(s);

let droppedCells = null;
let droppedPredictions = null;
let droppedSplit = null;
let optionTable = null;

const evaluator = new Evaluator({
  onReady(m) {
    $('#engine').textContent = m.flavour === 'threaded'
      ? `Engine: threaded WebAssembly, ${m.threads} threads.`
      : `Engine: single-thread WebAssembly (this page is not cross-origin isolated, so threads are unavailable).`;
    document.body.dataset.engine = m.flavour;
    document.body.dataset.threads = m.threads;
    if (!optionTable) { optionTable = m.options; buildOptionForm(m.options); }
    idle();
  },
  onProgress: showProgress,
  onFatal: fail,
});

/** The Options form, generated from calibra's options table (names, kinds, defaults, docs). */
function buildOptionForm(table) {
  const inputs = table.filter((o) => o.in_page).map((o) => {
    const id = `opt-${o.name}`;
    let input;
    if (o.kind.type === 'flag') {
      input = el('input', { id, type: 'checkbox', 'data-key': o.key });
      input.checked = o.default === 'true';
      return el('label', { title: o.doc }, input, ` ${o.name}`);
    }
    if (o.kind.type === 'choice') {
      input = el('select', { id, 'data-key': o.key }, ...o.kind.choices.map((c) => el('option', { value: c }, c)));
      input.value = o.default;
    } else {
      input = el('input', { id, 'data-key': o.key, type: o.kind.type === 'integer' ? 'number' : 'text', placeholder: o.default ? '' : 'automatic' });
      input.value = o.default;
    }
    return el('label', { title: o.doc }, `${o.name} `, input);
  });
  $('#options').replaceChildren(...inputs);
}

/** The options as the worker takes them (keys of calibra's options table). */
function options() {
  const out = {};
  for (const input of document.querySelectorAll('#options [data-key]')) {
    out[input.dataset.key] = input.type === 'checkbox' ? input.checked : input.value;
  }
  return out;
}

function idle() {
  $('#run').disabled = false; $('#example').disabled = false; $('#cancel').hidden = true;
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
  idle();
}

async function run(example) {
  const cells = droppedCells || $('input[name=cells]').files[0];
  const predictions = droppedPredictions || [...$('input[name=predictions]').files];
  const split = droppedSplit || $('input[name=split]').files[0] || null;
  if (!example && !cells) { fail('choose the observed-cells file first'); return; }
  document.body.dataset.state = 'running';
  $('#error').textContent = '';
  $('#progress').replaceChildren();
  $('#results').hidden = true;
  $('#run').disabled = true; $('#example').disabled = true; $('#cancel').hidden = false;
  try {
    const m = await evaluator.run({ example, cells, predictions, split: example ? null : split, options: options() });
    render(m.report, m.summary, m.seconds, m.memoryBytes);
  } catch (e) {
    if (e instanceof Cancelled) {
      $('#error').textContent = 'Cancelled. Nothing was kept; the evaluator is ready again.';
      document.body.dataset.state = 'cancelled';
      // Buttons come back when the fresh worker reports ready.
      $('#cancel').hidden = true;
    } else {
      fail(e.message);
    }
  }
}

async function download(context, name) {
  const url = URL.createObjectURL(await evaluator.file(context, name));
  const a = el('a', { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function render(report, summary, seconds, memoryBytes) {
  const contexts = report.contexts.map((c) => c.context);
  const pick = $('#context');
  pick.replaceChildren(...contexts.map((c, i) => el('option', { value: i }, c ?? 'all cells')));
  $('#contexts').hidden = contexts.length < 2;
  $('#contexts-note').textContent = contexts.length > 1
    ? `${contexts.length} contexts (${contexts.join(', ')}), each evaluated on its own; every view below shows the chosen one.`
    : '';
  $('#pooled-box').hidden = contexts.length < 2;
  if (contexts.length > 1) {
    const models = [...new Set(report.pooled.map((r) => r.model))];
    const first = flattenReport(report, 0).judgements.verdicts.map((v) => v.model);
    const ordered = first.concat(models.filter((m) => !first.includes(m)));
    const pm = $('#pooled-model');
    pm.replaceChildren(...ordered.map((m) => el('option', { value: m }, m)));
    const drawPooled = () => $('#pooled').replaceChildren(pooledTable(report, pm.value));
    pm.onchange = drawPooled;
    drawPooled();
  }
  const show = () => renderContext(report, Number(pick.value), seconds, memoryBytes);
  pick.onchange = show;
  show();
  $('#summary').textContent = summary;
  $('#results').hidden = false;
  idle();
  document.body.dataset.seconds = seconds;
  document.body.dataset.wasmMemory = memoryBytes;
  document.body.dataset.state = 'done';
}

/** The metric tab on show (kept across contexts). */
let currentGroup = null;

function renderContext(report, context, seconds, memoryBytes) {
  const files = flattenReport(report, context);
  window.calibraReport = files;
  document.body.dataset.context = report.contexts[context].context ?? '';
  $('#verdict').replaceChildren(...verdicts(files).map((v) => el('p', { class: 'verdict' }, v.text)),
    ...files.judgements.notes.map((n) => el('p', { class: 'note' }, n)),
    ...files.notes.map((n) => el('p', { class: 'note' }, n)),
    el('p', { class: 'sub' }, `Evaluated in ${seconds.toFixed(2)} s on this machine (WebAssembly memory ${(memoryBytes / 2 ** 20).toFixed(0)} MiB). Calibrated metrics: not censored and mean DRF (interpolated) > 0: ${files.judgements.trusted.join(', ') || 'none'}.`));
  // A tab per metric family (and space): the heatmap, model table, forest plots and the
  // per-perturbation table show the chosen tab's metrics.
  const groups = [...new Set(files.metrics.map(metricGroup))];
  if (!groups.includes(currentGroup)) currentGroup = groups[0];
  const drawGroup = () => {
    const part = onlyGroup(files, currentGroup);
    $('#family-tabs').replaceChildren(...groups.map((g) => el('button', {
      role: 'tab', 'aria-selected': String(g === currentGroup), 'data-group': g,
      onclick: () => { currentGroup = g; drawGroup(); },
    }, g)));
    $('#family-tabs').hidden = groups.length < 2;
    const vcc = currentGroup === 'celleval2' ? vccScoreLines(files) : [];
    $('#family-note').replaceChildren(
      ...vcc.map((v) => el('strong', { class: 'vcc-score', title: v.detail }, v.text, el('br'))),
      groupParameters(files, currentGroup));
    $('#drf').replaceChildren(drfHeatmap(part));
    $('#models').replaceChildren(modelTable(part));
    $('#forest').replaceChildren(forestPlots(part));
    drawPerts();
  };
  $('#agreement').replaceChildren(agreementHeatmap(files));
  const models = userModels(files);
  const all = [...new Set(files['stats.csv'].map((r) => r.model))];
  const pick = $('#pmodel');
  pick.replaceChildren(...(models.length ? models : all).concat(models.length ? all.filter((m) => !models.includes(m)) : []).map((m) => el('option', { value: m }, m)));
  const drawPerts = () => $('#perts').replaceChildren(perturbationTable(onlyGroup(files, currentGroup), pick.value, async (p) => {
    const profiles = await evaluator.profiles(context, p);
    $('#scatter').replaceChildren(scatter(profiles, pick.value, p));
  }));
  pick.onchange = drawPerts;
  drawGroup();
  const names = files.outputs.map(([name]) => name);
  $('#downloads').replaceChildren(...names.map((n) => el('a', { href: '#', onclick: (e) => { e.preventDefault(); download(context, n); } }, n)));
}

/** The chosen cells file (dropped or picked). */
function cellsFile() {
  return droppedCells || $('input[name=cells]').files[0] || null;
}

/** Roles a text column can be given from the mapping (each sets one option). */
const MAPPABLE = { perturbation: 'opt-perturbation-column', context: 'opt-context-column' };

/**
 * The column mapping: what calibra found in the cells file (format, layout, each annotation
 * column's type, a few values and its role), with a role picker that sets the options (not
 * for a statistics table, whose roles are fixed).
 */
async function showMapping() {
  const file = cellsFile();
  const box = $('#mapping');
  if (!file) { box.replaceChildren(); return; }
  let o;
  try {
    o = await evaluator.inspect(file, options());
  } catch (e) {
    if (!(e instanceof Cancelled)) box.replaceChildren(el('p', { class: 'note' }, e.message));
    return;
  }
  const head = el('tr', {}, ...['column', 'type', 'first values', 'role'].map((h) => el('th', {}, h)));
  // A statistics table's key columns have fixed roles: nothing to pick.
  const pickable = o.layout !== 'statistics';
  const rows = o.columns.map((c) => {
    const text = c.text;
    let role;
    if (pickable && text && (!c.role || c.role in MAPPABLE)) {
      role = el('select', { 'data-column': c.name }, el('option', { value: '' }, '—'),
        ...Object.keys(MAPPABLE).map((r) => el('option', { value: r }, r)));
      role.value = c.role || '';
      role.onchange = () => {
        for (const [r, id] of Object.entries(MAPPABLE)) {
          if (role.value === r) $(`#${id}`).value = c.name;
          else if (c.role === r) $(`#${id}`).value = r === 'perturbation' ? 'perturbation' : '';
        }
        showMapping();
      };
    } else {
      role = c.role || '—';
    }
    return el('tr', {}, el('td', {}, c.name), el('td', { class: 'sub' }, c.data_type), el('td', { class: 'sub' }, c.values.join(', ')), el('td', {}, role));
  });
  const what = [o.format, o.layout, o.rows !== null ? `${o.rows.toLocaleString()} cells` : null, o.n_genes !== null ? `${o.n_genes.toLocaleString()} genes` : null].filter(Boolean).join(' · ');
  box.replaceChildren(
    el('p', {}, el('strong', {}, o.file), ` — ${what}`),
    ...(o.problem ? [el('p', { class: 'note' }, o.problem)] : []),
    el('table', { class: 'models mapping' }, el('thead', {}, head), el('tbody', {}, rows)),
  );
  document.body.dataset.mapping = 'shown';
}

// Drag and drop: the first file is the cells, the rest are predictions; a .csv / .tsv is a split.
const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault(); drop.classList.remove('over');
  const isSplit = (f) => /\.(csv|tsv|txt)$/i.test(f.name);
  const files = [...e.dataTransfer.files].filter((f) => !isSplit(f));
  if (!files.length) return;
  droppedSplit = [...e.dataTransfer.files].find(isSplit) || null;
  droppedCells = files[0]; droppedPredictions = files.slice(1);
  drop.textContent = `cells: ${droppedCells.name}; predictions: ${droppedPredictions.map((f) => f.name).join(', ') || 'none'}` +
    (droppedSplit ? `; split: ${droppedSplit.name}` : '');
  showMapping();
});
for (const input of document.querySelectorAll('input[type=file]')) input.addEventListener('change', () => { droppedCells = null; droppedPredictions = null; droppedSplit = null; showMapping(); });
$('#options').addEventListener('change', showMapping);
$('#run').addEventListener('click', () => run(false));
$('#example').addEventListener('click', () => run(true));
$('#cancel').addEventListener('click', () => evaluator.cancel());
