// Rendering of a calibra report (shared by the app page and the <calibra-eval> element).
// Plots use Observable Plot (bundled locally in vendor/, loaded as the global `Plot`).

const fmt = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x)) ? '–' : Number(x).toFixed(d);
const fmtP = (p) => (p === null || Number.isNaN(p)) ? '–' : (p < 1e-3 ? p.toExponential(1) : p.toFixed(3));

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/**
 * The report object the page exposes: files of the first context at top level, plus what calibra
 * declares once and ships with the report — the metrics' specs, the baselines, the output files
 * and the context's judgements (trusted metrics, who beats the null, verdicts). The page keeps
 * no copy of those lists or rules.
 */
export function flattenReport(report, context = 0) {
  const ctx = report.contexts[context] || { files: {}, judgements: { trusted: [], beats_null: {}, verdicts: [], notes: [] }, notes: [] };
  return {
    ...ctx.files, 'manifest.json': report['manifest.json'], contexts: report.contexts,
    metrics: report.metrics, baselines: report.baselines, outputs: report.outputs, judgements: ctx.judgements,
    notes: ctx.notes || [],
  };
}

const metricNames = (files) => files.metrics.map((m) => m.name);

/**
 * The tab a metric is shown under: its family, and for a distributional metric its space too (the
 * suffix every cell-level metric's name carries, GGE style: mmd_pca50).
 */
export function metricGroup(spec) {
  const space = spec.family === 'distributional' && /_(raw|pca\d+|deg)$/.exec(spec.name);
  return space ? `${spec.family} · ${space[1]}` : spec.family;
}

/** The report restricted to the metrics of one tab. */
export function onlyGroup(files, group) {
  return { ...files, metrics: files.metrics.filter((m) => metricGroup(m) === group) };
}

/** What a tab's numbers depend on: the space and the parameters of the run (from its manifest). */
export function groupParameters(files, group) {
  const o = files['manifest.json']?.options || {};
  if (group === 'celleval') {
    const real = o.compat === 'celleval' ? 'every cell of both halves (--compat celleval)' : 'its GT-half cells';
    return `cell-eval 0.8.1 (profile full): each perturbation's real cells (${real}) and each model's predicted cells (a mean prediction: its profile repeated once per real cell) tested against every control cell by pdex's Mann–Whitney U, BH per perturbation, FDR < 0.05; pseudobulks in float32. Cells: a seeded sample of at most ${o.max_cells} per perturbation and half. de_nsig_counts_* are descriptive (no DRF).`;
  }
  if (group === 'celleval2') {
    const real = o.compat === 'celleval' ? 'every cell of both halves (--compat celleval)' : 'its GT-half cells';
    const path = o.predictions?.counts
      ? `its counts path (cells and predictions raw counts): each perturbation's real cells (${real}) and predicted cells (a mean prediction: its row repeated once per real cell) tested against every real control cell by pdex's Mann–Whitney U on log1p(counts per million), over the genes whose control mean CPM exceeds 5; fold changes log2((mean CPM + 1e-9)/(control + 1e-9)); pseudobulks log1p(5·10⁴ × group sum / its total), jackknife-corrected; BH per perturbation, p_adj < 0.05, reference gates`
      : `its v2 settings for log-normalised input: each perturbation's real cells (${real}) and predicted cells (a mean prediction: its profile repeated once per real cell) tested against every real control cell by pdex's Mann–Whitney U, fold changes log2((mean expm1 + 1e-9)/(control + 1e-9)), BH per perturbation, p_adj < 0.05 (NaN fold changes masked), reference gates`;
    return `cell-eval2 0.20.0 (profile full; vcc2026 = 10 of these, 6 scored), ${path} of 10 significant genes, the perturbation's own gene left out where cell-eval2 leaves it out. Cells: a seeded sample of at most ${o.max_cells} per perturbation and half. Descriptive as in cell-eval2's catalog (no better direction, no DRF): the counts, expr_mse_unbiased (and its capped form), expr_distance_unbiased and expr_real_mass_ratio; for anchorless metrics (no perfect value) DRF is the technical duplicate's gain over the negative control, relative to it.`;
  }
  const space = group.split(' · ')[1];
  if (!space) return '';
  const what = space === 'raw' ? 'every gene'
    : space.startsWith('pca') ? `${space.slice(3)} principal components of the 2,000 most dispersed genes, fitted on a pooled sample of every perturbation`
      : (o.gge_deg_rule ? `per perturbation, the genes with |log2FC| ≥ ${o.deg_lfc} and Welch p ≤ ${o.deg_pval} against control` : "per perturbation, its GT-half DEGs (SPEC §3)");
  return `Space ${space}: ${what}. Cells: a seeded sample of at most ${o.max_cells} per perturbation and half (and per model); baselines in cell form, collapsed_duplicate = the technical duplicate's mean repeated.`;
}
/**
 * "Your local VCC 2026 score" lines: each user model's avg_score on cell-eval2's replicate
 * scale (0 = calibra's dataset-mean baseline, 1 = the technical duplicate), from
 * celleval2_vcc2026_score.csv; empty without the cell-eval2 family.
 */
export function vccScoreLines(files) {
  const rows = files['celleval2_vcc2026_score.csv'];
  if (!rows || !rows.length) return [];
  const users = userModels(files);
  const models = users.length ? users : [...new Set(rows.map((r) => r.model))];
  return models.map((m) => {
    const mine = rows.filter((r) => r.model === m);
    const avg = mine.find((r) => r.metric === 'avg_score');
    if (!avg) return null;
    const members = mine.filter((r) => r.metric !== 'avg_score');
    const usable = members.filter((r) => r.from_replicate !== null && !Number.isNaN(r.from_replicate));
    const detail = members.map((r) => `${r.metric} ${fmt(r.value)} → ${fmt(r.from_replicate, 2)}`).join('; ');
    return { model: m, score: avg.from_replicate, members: usable.length, text: `Your local VCC 2026 score, ${m}: ${fmt(avg.from_replicate)} (0 = dataset_mean, 1 = technical_duplicate; mean of ${usable.length} of 6 scored members; computed in this browser, nothing uploaded)`, detail };
  }).filter(Boolean);
}

const specOf = (files, name) => files.metrics.find((m) => m.name === name);

/** Metrics the DRF says can separate signal from null on this dataset (computed by calibra). */
export function calibratedMetrics(files) {
  return files.judgements.trusted;
}

/** User models (verdicts exist for them only), in input order. */
export function userModels(files) {
  return files.judgements.verdicts.map((v) => v.model);
}

const better = (files, r) => (files.judgements.beats_null[r.model] || []).includes(r.metric);

/** One verdict line per model (computed by calibra). */
export function verdicts(files) {
  return files.judgements.verdicts.map((v) => ({ ...v, wins: v.wins.length }));
}

export function drfHeatmap(files) {
  const shown = new Set(metricNames(files));
  const rows = files['drf_summary.csv'].filter((r) => shown.has(r.metric)).map((r) => ({ ...r, label: r.censored ? 'censored' : fmt(r.mean_drf, 2) }));
  // drf_collapsed (cell-level metrics only): does the metric see beyond the mean?
  const hasCollapsed = rows.some((r) => r.drf_type === 'drf_collapsed');
  const labelWidth = Math.max(170, 7 * Math.max(0, ...[...shown].map((m) => m.length)));
  return Plot.plot({
    marginLeft: labelWidth, width: labelWidth + (hasCollapsed ? 470 : 350), height: 30 + 22 * files.metrics.length, padding: 0.05,
    x: { domain: ['drf_interpolated', 'drf_mean', 'drf_ctrl', ...(hasCollapsed ? ['drf_collapsed'] : [])], label: null, axis: 'top' },
    y: { domain: metricNames(files), label: null },
    color: { type: 'linear', domain: [-1, 1], scheme: 'rdbu', legend: true, label: 'mean DRF' },
    marks: [
      Plot.cell(rows, { x: 'drf_type', y: 'metric', fill: (d) => (d.censored ? null : d.mean_drf), stroke: '#ccc', title: (d) => `${d.metric} ${d.drf_type}: ${d.label} (n=${d.n_perturbations})\n${specOf(files, d.metric)?.doc || ''}` }),
      Plot.text(rows, { x: 'drf_type', y: 'metric', text: 'label', fill: (d) => (d.censored ? '#888' : Math.abs(d.mean_drf) > 0.7 ? 'white' : 'black') }),
    ],
  });
}

/** Per metric: mean ± SEM of every model and baseline; bold when significantly better than the null. */
export function modelTable(files) {
  const stats = files['stats.csv'];
  const models = [...new Set(stats.map((r) => r.model))];
  const head = el('tr', {}, el('th', {}, 'metric'), el('th', {}, 'null'), ...models.map((m) => el('th', {}, m)));
  const body = metricNames(files).map((metric) => {
    const cells = models.map((m) => {
      const r = stats.find((x) => x.model === m && x.metric === metric);
      if (!r || !r.n) return el('td', {}, '–');
      const title = r.tested
        ? `t = ${fmt(r.t, 2)}, Bonferroni p = ${fmtP(r.p_bonferroni)}, 95% CI of the difference [${fmt(r.ci_low)}, ${fmt(r.ci_high)}], n = ${r.n_pairs}`
        : (r.model === r.null_model ? 'null model' : 'not tested (< 3 pairs)');
      const td = el('td', { title, class: better(files, r) ? 'better' : '' }, `${fmt(r.mean)} ± ${fmt(r.sem)}`);
      if (r.tested) td.append(el('div', { class: 'sub' }, `t=${fmt(r.t, 2)} p=${fmtP(r.p_bonferroni)} [${fmt(r.ci_low, 2)}, ${fmt(r.ci_high, 2)}]`));
      return td;
    });
    const spec = specOf(files, metric);
    const direction = { higher_better: 'higher is better', lower_better: 'lower is better' }[spec.direction] ?? 'descriptive: no better direction';
    return el('tr', {}, el('th', { title: `${spec.doc} (${direction}; perfect = ${Number.isFinite(spec.perfect) ? spec.perfect : "none: DRF relative to the null"})` }, metric), el('td', { class: 'sub' }, spec.null), ...cells);
  });
  return el('table', { class: 'models' }, el('thead', {}, head), el('tbody', {}, body));
}

/** Forest plots: mean difference vs the null with its 95% bootstrap CI, one panel per metric. */
export function forestPlots(files) {
  const box = el('div', { class: 'forest' });
  for (const metric of metricNames(files)) {
    const rows = files['stats.csv'].filter((r) => r.metric === metric && r.tested);
    if (!rows.length) continue;
    box.append(el('div', { class: 'panel' }, el('h4', {}, metric), Plot.plot({
      width: 300, height: 40 + 22 * rows.length, marginLeft: 150,
      x: { label: `Δ vs ${rows[0].null_model}`, grid: true }, y: { label: null, domain: rows.map((r) => r.model) },
      marks: [
        Plot.ruleX([0], { stroke: '#999' }),
        Plot.ruleY(rows, { y: 'model', x1: 'ci_low', x2: 'ci_high', stroke: (d) => (better(files, d) ? '#1b7837' : '#555') }),
        Plot.dot(rows, { y: 'model', x: 'mean_diff', fill: (d) => (better(files, d) ? '#1b7837' : '#555'), title: (d) => `${d.model}: ${fmt(d.mean_diff)} [${fmt(d.ci_low)}, ${fmt(d.ci_high)}]` }),
      ],
    })));
  }
  return box;
}

/** Sortable, filterable per-perturbation table for one model; `onPick(perturbation)` on click. */
export function perturbationTable(files, model, onPick) {
  const perts = files['perturbations.csv'].filter((p) => p.evaluated);
  const values = new Map();
  for (const r of files['metrics.csv']) if (r.model === model) values.set(`${r.perturbation}|${r.metric}`, r.value);
  const metrics = metricNames(files);
  const cols = ['perturbation', 'fold', 'n_cells', 'n_degs_gt', ...metrics];
  let rows = perts.map((p) => ({ perturbation: p.perturbation, fold: p.fold, n_cells: p.n_cells, n_degs_gt: p.n_degs_gt, ...Object.fromEntries(metrics.map((m) => [m, values.get(`${p.perturbation}|${m}`)])) }));
  let sortKey = 'perturbation'; let asc = true; let filter = '';
  const tbody = el('tbody');
  const draw = () => {
    const shown = rows.filter((r) => r.perturbation.toLowerCase().includes(filter))
      .sort((a, b) => { const x = a[sortKey]; const y = b[sortKey]; const c = typeof x === 'string' ? x.localeCompare(y) : ((Number.isNaN(x) ? -Infinity : x) - (Number.isNaN(y) ? -Infinity : y)); return asc ? c : -c; });
    tbody.replaceChildren(...shown.map((r) => el('tr', { onclick: () => onPick(r.perturbation) }, ...cols.map((c) => el('td', {}, typeof r[c] === 'number' && !Number.isInteger(r[c]) ? fmt(r[c]) : (r[c] ?? '–'))))));
  };
  const head = el('tr', {}, ...cols.map((c) => el('th', { onclick: () => { asc = sortKey === c ? !asc : true; sortKey = c; draw(); } }, c)));
  const input = el('input', { type: 'search', placeholder: 'filter perturbations', oninput: (e) => { filter = e.target.value.toLowerCase(); draw(); } });
  draw();
  return el('div', {}, input, el('div', { class: 'scroll' }, el('table', { class: 'perts' }, el('thead', {}, head), tbody)));
}

/** Predicted vs observed Δ (vs control) for one perturbation, DEGs highlighted. */
export function scatter(profiles, model, perturbation) {
  const pred = profiles.models[model];
  if (!pred) return el('p', {}, `${model} has no prediction for ${perturbation}.`);
  const pts = profiles.genes.map((g, i) => ({ gene: g, observed: profiles.observed[i], predicted: pred[i], deg: profiles.deg[i] === 1 }));
  const finite = pts.flatMap((p) => [p.observed, p.predicted]).filter(Number.isFinite);
  const lo = finite.reduce((a, b) => Math.min(a, b), 0); const hi = finite.reduce((a, b) => Math.max(a, b), 0);
  return Plot.plot({
    width: 420, height: 380, grid: true,
    x: { label: `observed Δ (${perturbation} − control)` }, y: { label: `predicted Δ (${model})` },
    color: { domain: [false, true], range: ['#bbb', '#d6604d'], legend: true, tickFormat: (d) => (d ? 'DEG' : 'other') },
    marks: [Plot.ruleX([0]), Plot.ruleY([0]), Plot.line([[lo, lo], [hi, hi]], { stroke: '#ddd' }),
      Plot.dot(pts, { x: 'observed', y: 'predicted', fill: 'deg', r: 2.5, title: (d) => `${d.gene}: ${fmt(d.observed)} / ${fmt(d.predicted)}`, sort: { channel: 'fill' } })],
  });
}

/**
 * Contexts side by side for one model: per metric, each context's mean over its perturbations
 * and the mean over contexts (calibra's pooled summary).
 */
export function pooledTable(report, model) {
  const rows = (report.pooled || []).filter((r) => r.model === model);
  const contexts = [...new Set(rows.map((r) => r.context))];
  const metrics = [...new Set(rows.map((r) => r.metric))];
  const head = el('tr', {}, el('th', {}, 'metric'), ...contexts.map((c) => el('th', {}, c)));
  const body = metrics.map((m) => el('tr', {}, el('th', {}, m), ...contexts.map((c) => {
    const r = rows.find((x) => x.metric === m && x.context === c);
    return el('td', { title: r ? `n = ${r.n}` : '' }, r ? fmt(r.mean) : '–');
  })));
  return el('table', { class: 'models pooled' }, el('thead', {}, head), el('tbody', {}, body));
}

/** Kendall's τ between the metrics' rankings of all models and baselines (calibra's table). */
export function agreementHeatmap(files) {
  const rows = files['ranking_agreement.csv'] || [];
  const names = metricNames(files);
  return Plot.plot({
    marginLeft: 170, marginBottom: 150, width: 170 + 26 * names.length, height: 150 + 22 * names.length, padding: 0.05,
    x: { domain: names, label: null, tickRotate: -60 },
    y: { domain: names, label: null },
    color: { type: 'linear', domain: [-1, 1], scheme: 'puor', legend: true, label: 'Kendall τ' },
    marks: [
      Plot.cell(rows, { x: 'metric_b', y: 'metric_a', fill: (d) => (Number.isNaN(d.kendall_tau) ? null : d.kendall_tau), stroke: '#ddd', title: (d) => `${d.metric_a} vs ${d.metric_b}: τ = ${fmt(d.kendall_tau, 2)} over ${d.n_models} models and baselines` }),
    ],
  });
}
