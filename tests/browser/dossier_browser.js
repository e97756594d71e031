// The dossier pages in headless Chromium (Debian's, driven by playwright-core;
// no downloaded browser). For each page of the manifest dossier_browser.sh
// writes ({name, html, dossier: its JSON form, lineage: the ledger's lineage
// view or null}): it loads from file:// with every other request refused and
// no console error; the verdicts and the Annex XI table, read from the DOM by
// structure, equal the JSON dossier and the ledger; the charts carry the
// series the JSON implies and text alternatives; hostile names stay text; the
// page reads the same without JavaScript; and it prints to a PDF.
//
//   node tests/browser/dossier_browser.js REPO_ROOT MANIFEST.json
'use strict';
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const [SRC, MANIFEST] = process.argv.slice(2);
const { chromium } = require(path.join(SRC, 'tests/reference/node_modules/playwright-core'));
const { launchChromium } = require('./chromium');

const failures = [];
let checks = 0;
function expect(page, what, ok, detail) {
  checks++;
  if (!ok) failures.push(`${page}: ${what}${detail === undefined ? '' : `: ${detail}`}`);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// A figure as shown ("1.92e+11 FLOP") against an exact decimal ("192000000000")
// or fraction ("100000000000000000000000/3 (~3.333333e+22)"): the shown digits are the exact
// value rounded, within half a unit of their last place.
function shownMatches(text, exact) {
  const m = /^(\d)\.(\d+)e([+-]\d+)/.exec(text);
  const f = /^(\d+)(?:\/(\d+))?(?: \(~[^)]*\))?$/.exec(String(exact));
  if (!m || !f) return false;
  const digits = BigInt(m[1] + m[2]);
  const scale = Number(m[3]) - m[2].length;  // shown = digits * 10^scale
  const num = BigInt(f[1]), den = BigInt(f[2] || '1');
  // Compare 2 * |exact - shown| <= 10^scale with everything scaled to integers.
  const up = scale >= 0 ? 10n ** BigInt(scale) : 1n, down = scale < 0 ? 10n ** BigInt(-scale) : 1n;
  let diff = num * down - digits * up * den;  // (exact - shown) * den * down
  if (diff < 0n) diff = -diff;
  return 2n * diff <= up * den;
}

// What the DOM shows, read by structure (ids, data-* attributes, table headers).
function readPage() {
  const text = (el) => (el ? el.textContent.trim() : null);
  const figure = (block, field) => {
    const d = block.querySelector(`data[data-figure="${field}"]`);
    return d ? { value: d.getAttribute('value'), text: text(d) } : null;
  };
  const verdicts = [...document.querySelectorAll('#verdict > .verdict')].map((b) => ({
    regime: b.dataset.regime,
    verdict: b.dataset.verdict,
    word: text(b.querySelector('strong')),
    compute: figure(b, 'compute'),
    threshold: figure(b, 'threshold'),
    margin: figure(b, 'margin'),
    flagged: b.querySelector('.flag') !== null,
    heading: text(b.querySelector('h3')),
    paragraphs: [...b.querySelectorAll('p')].map(text),
  }));
  // The Annex XI table by its headers.
  const table = document.querySelector('#documentation table');
  const headers = [...table.querySelectorAll('thead th')].map(text);
  const col = (name) => headers.indexOf(name);
  const documentation = [...table.querySelectorAll('tbody tr')].map((tr) => {
    const cells = [...tr.children];
    const value = cells[col('Value')];
    const data = value.querySelector('data');
    return {
      label: text(cells[col('Field')]),
      reference: text(cells[col('Reference')]),
      source: text(cells[col('Source')]),
      text: text(value),
      data: data ? { id: data.dataset.figure, value: data.getAttribute('value'), text: text(data) } : null,
      missing: value.querySelector('.missing') !== null,
    };
  });
  const charts = [...document.querySelectorAll('svg.chart')].map((svg) => {
    const labelled = (svg.getAttribute('aria-labelledby') || '').split(/\s+/).map((id) => document.getElementById(id));
    return {
      id: svg.querySelector('title') && svg.querySelector('title').id.replace(/-title$/, ''),
      role: svg.getAttribute('role'),
      title: text(labelled[0]),
      desc: text(labelled[1]),
      thresholds: [...svg.querySelectorAll('line[data-series="threshold"]')].map((l) => l.dataset.regime),
      lines: Object.fromEntries([...svg.querySelectorAll('polyline[data-series]')].map(
          (p) => [p.dataset.series, p.getAttribute('points').trim().split(/\s+/).length])),
      kept: [...svg.querySelectorAll('rect.kept[data-run]')].map((r) => r.dataset.run),
      discarded: [...svg.querySelectorAll('rect.discarded[data-run]')].map((r) => r.dataset.run),
      formulas: [...svg.querySelectorAll('rect[data-formula]')].map((r) => `${r.dataset.run} ${r.dataset.formula}`),
    };
  });
  const lineage = document.querySelector('#lineage table');
  return {
    h1: text(document.querySelector('h1')),
    title: document.title,
    pwned: typeof window.__pwned,
    // Anything that could run script or fetch: none is expected in the page.
    active: [...document.querySelectorAll('script, img, iframe, object, embed, link, [src], [href]')].length +
        [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
    sections: [...document.querySelectorAll('main > section')].map((s) => s.id),
    pageBreaks: document.querySelectorAll('section.page').length,
    verdicts,
    documentation,
    charts,
    lineageText: text(lineage),
  };
}

function checkVerdicts(name, shown, dossier, view, sameSubject) {
  const inForce = dossier.verdict.in_force;
  expect(name, 'one verdict block per regime in force, in the JSON order', same(shown.verdicts.map((v) => v.regime),
      inForce.map((v) => v.regime)), JSON.stringify(shown.verdicts.map((v) => v.regime)));
  expect(name, 'at least one verdict', inForce.length > 0);
  // By position: an estimate has a block per method for each regime.
  for (const [i, v] of inForce.entries()) {
    const s = shown.verdicts[i];
    if (!s || s.regime !== v.regime) continue;
    const at = `verdict ${v.regime}`;
    expect(name, `${at}: the verdict`, s.verdict === v.verdict && s.word === v.verdict.toUpperCase(), `${s.verdict}/${s.word}`);
    for (const [field, exact, flop] of [['compute', v.compute_exact], ['threshold', v.threshold_exact, v.threshold_flop],
      ['margin', v.margin.exact]]) {
      const f = s[field];
      expect(name, `${at}: ${field} shown`, f !== null);
      if (!f) continue;
      expect(name, `${at}: ${field} is the JSON's`, f.value === exact, `${f.value} != ${exact}`);
      expect(name, `${at}: ${field} text '${f.text}' rounds ${exact}`, shownMatches(f.text, exact));
      if (flop !== undefined) expect(name, `${at}: ${field} text is the JSON's figure`, shownMatches(f.text, BigInt(flop).toString()));
    }
    expect(name, `${at}: the 30% flag as the JSON says`, s.flagged === v.within_30pct_error_margin);
    // The sentences around the figures (the headline and the explanation state figures too).
    expect(name, `${at}: the heading`, s.heading === `${v.regime}: ${v.name}`, s.heading);
    const source = sameSubject ? `Source: ${v.source}` : '';
    for (const line of [v.headline, v.explanation, source, ...v.warnings.map((w) => `Note: ${w}`)]) {
      if (line) expect(name, `${at}: shows '${line.slice(0, 60)}...'`, s.paragraphs.includes(line));
    }
    if (!view) continue;
    // The ledger's own evaluation of the same regime.
    const r = view.regimes.find((x) => x.id === v.regime);
    expect(name, `${at}: in the ledger's view`, r !== undefined);
    if (!r) continue;
    expect(name, `${at}: the ledger's verdict`, r.verdict === s.verdict, `${r.verdict} != ${s.verdict}`);
    expect(name, `${at}: the ledger's compute`, s.compute && r.compute_exact === s.compute.value);
    expect(name, `${at}: the ledger's threshold`, s.threshold && r.threshold_exact === s.threshold.value);
    expect(name, `${at}: the ledger's margin`, s.margin && (r.exceeds ? r.excess_exact : r.headroom_exact) === s.margin.value);
    expect(name, `${at}: the ledger's 30% flag`, r.within_error_margin === s.flagged);
    expect(name, `${at}: the ledger's explanation`, s.paragraphs.includes(r.explanation));
    expect(name, `${at}: the ledger's headline`, view.verdict.headlines.some((line) => s.paragraphs.includes(line)));
  }
  if (view) {
    expect(name, 'the ledger\'s regimes in force are the ones shown', same(
        view.regimes.filter((r) => r.in_force).map((r) => r.id).sort(), shown.verdicts.map((v) => v.regime).sort()));
  }
}

// The ledger view's figure behind each Annex XI field it states.
const LEDGER_FIELDS = {
  training_compute: (l) => l.cumulative_compute.flop,
  modification_compute: (l) => l.modification.own_compute.flop,
  original_compute: (l) => l.modification.original_compute.flop,
  costliest_single_run: (l) => l.modification.single_run_reading.flop,
};

function checkDocumentation(name, shown, dossier, view, sameSubject) {
  const doc = dossier.documentation;
  expect(name, 'one Annex XI row per JSON field, in order', same(shown.documentation.map((r) => r.label),
      doc.map((f) => f.label)), JSON.stringify(shown.documentation.map((r) => r.label)));
  for (const f of doc) {
    const row = shown.documentation.find((r) => r.label === f.label);
    if (!row) continue;
    const at = `Annex XI ${f.id}`;
    expect(name, `${at}: the reference and the source`, row.reference === f.reference && (!sameSubject || row.source === f.source),
        `${row.reference} / ${row.source}`);
    if (f.value === null) {
      expect(name, `${at}: shown as not established, with the reason`, row.data === null &&
          row.text === (f.reason ? `${f.text}: ${f.reason}` : f.text) && row.missing === Boolean(f.reason), row.text);
      continue;
    }
    expect(name, `${at}: the figure with its value`, row.data !== null && row.data.id === f.id);
    if (!row.data) continue;
    expect(name, `${at}: the text is the JSON's`, row.data.text === f.text && row.text === f.text, row.text);
    const value = typeof f.value === 'string' ? row.data.value : typeof f.value === 'number' ? Number(row.data.value)
                                                                                         : JSON.parse(row.data.value);
    expect(name, `${at}: the value is the JSON's`, same(value, f.value), `${row.data.value} != ${JSON.stringify(f.value)}`);
    if (f.unit === 'FLOP') expect(name, `${at}: '${f.text}' rounds ${f.value}`, shownMatches(f.text, f.value));
    if (view && LEDGER_FIELDS[f.id]) {
      const flop = LEDGER_FIELDS[f.id](view);
      expect(name, `${at}: the ledger's figure`, row.data.value === flop, `${row.data.value} != ${flop}`);
    }
  }
  if (view) {
    for (const id of ['training_compute', 'modification_compute']) {
      expect(name, `Annex XI ${id} is compared with the ledger`, doc.some((f) => f.id === id && f.value !== null));
    }
  }
}

function checkCharts(name, shown, dossier) {
  const runs = dossier.runs;
  const formulas = runs.flatMap((r) => Object.entries(r.formulas).filter(([, v]) => v !== null).map(([f]) => `${r.run_id} ${f}`)).sort();
  const expected = [];
  if (dossier.timeline.length) expected.push('chart-cumulative');
  if (runs.length) expected.push('chart-runs');
  if (formulas.length) expected.push('chart-formulas');
  if (runs.some((r) => r.gpus.length)) expected.push('chart-gpus');
  if (runs.some((r) => r.gpu_timeline.length)) expected.push('chart-gpu-timeline');
  expect(name, 'the charts the JSON implies', same(shown.charts.map((c) => c.id), expected), JSON.stringify(shown.charts.map((c) => c.id)));
  for (const c of shown.charts) {
    const at = `chart ${c.id}`;
    expect(name, `${at}: an image with a title and a description`, c.role === 'img' && c.title && c.desc);
    if (c.id === 'chart-cumulative') {
      const inForce = dossier.verdict.in_force.map((v) => v.regime);
      expect(name, `${at}: one threshold line per regime in force`, same(c.thresholds, inForce), JSON.stringify(c.thresholds));
      const cumulative = dossier.timeline.filter((p) => p.cumulative_flop !== null).length;
      expect(name, `${at}: the series`, same(c.lines, cumulative ? { modification: dossier.timeline.length, cumulative }
        : { modification: dossier.timeline.length }), JSON.stringify(c.lines));
      for (const r of inForce) expect(name, `${at}: the description names ${r}`, c.desc.includes(r));
    }
    if (c.id === 'chart-runs') {
      const determined = runs.filter((r) => r.compliance_flop !== null).map((r) => r.run_id);
      expect(name, `${at}: a kept and a discarded bar per determined run`, same(c.kept, determined) && same(c.discarded, determined),
          JSON.stringify([c.kept, c.discarded]));
    }
    if (c.id === 'chart-gpu-timeline') {
      const stretches = runs.flatMap((r) => r.gpu_timeline);
      const series = ['gpu-utilization'].concat(stretches.some((g) => g.power_w !== null) ? ['gpu-power'] : []);
      expect(name, `${at}: utilisation and, where measured, power`, same(Object.keys(c.lines).sort(), series.sort()), JSON.stringify(c.lines));
    }
    if (c.id === 'chart-formulas') expect(name, `${at}: a bar per run and formula with a figure`, same([...c.formulas].sort(), formulas), JSON.stringify(c.formulas));
    if (c.id !== 'chart-cumulative') {
      for (const r of runs) expect(name, `${at}: the description names run ${r.run_id}`, c.desc.includes(r.run_id));
    }
  }
}

async function checkPage(browser, entry) {
  const name = entry.name;
  const dossier = JSON.parse(fs.readFileSync(entry.dossier, 'utf8'));
  const view = entry.lineage ? JSON.parse(fs.readFileSync(entry.lineage, 'utf8')) : null;
  const url = pathToFileURL(entry.html).href;
  const visit = async (javaScriptEnabled) => {
    const context = await browser.newContext({ javaScriptEnabled });
    const requests = [], refused = [], problems = [];
    // Every request is routed: the page itself is served, anything else refused (and a failure).
    await context.route('**/*', (route) => {
      const u = route.request().url();
      if (u === url) return route.continue();
      refused.push(u);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const response = await page.goto(url, { waitUntil: 'load' });
    const shown = await page.evaluate(readPage);
    const innerText = await page.evaluate(() => document.body.innerText);
    return { context, page, response, requests, refused, problems, shown, innerText };
  };

  const on = await visit(true);
  const s = on.shown;
  expect(name, 'loads', on.response !== null && on.response.ok());
  expect(name, 'requests nothing but the file', same(on.requests, [url]) && on.refused.length === 0,
      JSON.stringify(on.requests.concat(on.refused)));
  expect(name, 'no console error, page error or failed request', on.problems.length === 0, on.problems.join('; '));
  expect(name, 'the sections in order', same(s.sections, ['verdict', 'documentation', 'charts', 'lineage', 'runs', 'evidence']),
      JSON.stringify(s.sections));
  // Hostile names: shown as the text they are, nothing injected, nothing run.
  // (estimate --html names its subject, and so the verdicts' source, in words, not
  // by the file the JSON dossier read.)
  const sameSubject = entry.same_subject !== false;
  const subject = !sameSubject ? s.h1.startsWith('Compliance dossier: ')
    : s.h1 === `Compliance dossier: ${dossier.subject.name}`;
  expect(name, 'the subject named as text', subject && s.title === s.h1, s.h1);
  expect(name, 'no script ran (window.__pwned)', s.pwned === 'undefined', s.pwned);
  expect(name, 'no script, image, link or event handler in the page', s.active === 0, s.active);
  for (const n of dossier.lineage) expect(name, `lineage shows ${n.name} as text`, s.lineageText.includes(n.name));
  checkVerdicts(name, s, dossier, view, sameSubject);
  checkDocumentation(name, s, dossier, view, sameSubject);
  checkCharts(name, s, dossier);
  // The charts' text alternatives as the browser's accessibility tree exposes them
  // (aria-labelledby: the title, then the description).
  for (const c of s.charts) {
    const named = await on.page.getByRole('img', { name: `${c.title} ${c.desc}`, exact: true }).count();
    expect(name, `chart ${c.id} is an image named by its title and description`, named === 1, named);
  }

  // Print to PDF: a document, and each page-breaking section on a page of its own.
  const pdf = await on.page.pdf({ format: 'A4', printBackground: true });
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page\b/g) || []).length;
  expect(name, 'prints to a PDF', pdf.length > 1000 && pdf.subarray(0, 5).toString() === '%PDF-', pdf.subarray(0, 8).toString());
  expect(name, `the PDF has a page per section that starts one (${pages} pages)`, pages >= s.pageBreaks + 1);
  await on.context.close();

  // Without JavaScript the page reads the same.
  const off = await visit(false);
  expect(name, 'without JavaScript: loads cleanly', off.problems.length === 0 && same(off.requests, [url]), off.problems.join('; '));
  expect(name, 'without JavaScript: the same text', off.innerText === on.innerText && on.innerText.length > 1000);
  expect(name, 'without JavaScript: the same figures', same(off.shown, s));
  await off.context.close();
}

(async () => {
  const entries = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  const browser = await launchChromium(chromium);
  try {
    for (const entry of entries) await checkPage(browser, entry);
  } finally {
    await browser.close();
  }
  for (const f of failures) console.log(`FAIL ${f}`);
  console.log(`dossier_browser: ${entries.length} pages, ${checks} checks, ${failures.length} failed`);
  process.exit(failures.length ? 1 : 0);
})().catch((e) => {
  console.error(`dossier_browser: ${e.stack || e}`);
  process.exit(1);
});
