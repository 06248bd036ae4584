// Turns benchmark records into the Markdown summary and one recall-vs-QPS SVG per dataset.

export const THRESHOLDS = [0.9, 0.95, 0.99];

/** Highest QPS among settings reaching `recall`, or null. */
export function bestQps(records, recall) {
  const ok = records.filter((r) => r.recall_at_10 >= recall);
  return ok.length ? Math.max(...ok.map((r) => r.qps)) : null;
}

const fmt = (v, digits = 0) => (v === null || v === undefined ? '–' : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const mb = (v) => (v === null || v === undefined ? '–' : (v / 1048576).toFixed(1));
// What a store keeps in storage per vector: a live store's files (the storage
// tier: checkpoint, journal and rows), else what saving it writes (its snapshot).
const stored = (r) => {
  const bytes = r.stored_bytes ?? r.serialized_bytes;
  return bytes === null || bytes === undefined ? '–' : Math.round(bytes / r.n).toLocaleString('en-US');
};

export function markdownSummary(records, { environment }) {
  const lines = [];
  const datasets = [...new Set(records.map((r) => r.dataset))];
  for (const ds of datasets) {
    const rows = records.filter((r) => r.dataset === ds && r.environment === environment);
    if (!rows.length) continue;
    const first = rows.find((r) => r.n);
    lines.push(`### ${ds} (${environment}${first ? `, ${first.n.toLocaleString('en-US')} x ${first.dim}, ${first.metric}, ${first.queries} queries` : ''})`, '');
    lines.push('| contender | build vec/s | QPS @ recall ≥ 0.90 | @ 0.95 | @ 0.99 | max recall | ratio to tabvec @ 0.95 | p50 µs @ 0.95 | WASM MiB | heap B/vector | stored B/vector | serialized MiB | load ms | gzip KiB |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    const byName = new Map();
    for (const r of rows) byName.set(r.contender, [...(byName.get(r.contender) ?? []), r]);
    const tabvec95 = bestQps(byName.get('tabvec') ?? [], 0.95);
    for (const [name, rs] of byName) {
      const skipped = rs.find((r) => r.skipped);
      if (skipped) {
        lines.push(`| ${name} | ${skipped.skipped} | | | | | | | | | | | |`);
        continue;
      }
      const q95 = bestQps(rs, 0.95);
      const at95 = rs.filter((r) => r.recall_at_10 >= 0.95).sort((a, b) => b.qps - a.qps)[0];
      const r0 = rs[0];
      const ratio = q95 && tabvec95 ? `${(q95 / tabvec95).toFixed(2)}x` : '–';
      lines.push(`| ${name} ${r0.version ?? ''} | ${fmt(r0.build_vps)} | ${fmt(bestQps(rs, 0.9))} | ${fmt(q95)} | ${fmt(bestQps(rs, 0.99))} | ${fmt(Math.max(...rs.map((r) => r.recall_at_10)), 4)} | ${ratio} | ${fmt(at95?.p50_us)} | ${mb(r0.wasm_memory_bytes)} | ${r0.index_bytes ? fmt(r0.index_bytes / r0.n) : '–'} | ${stored(r0)} | ${mb(r0.serialized_bytes)} | ${fmt(r0.load_ms)} | ${r0.package_gzip_bytes ? fmt(r0.package_gzip_bytes / 1024, 1) : '–'} |`);
    }
    const notes = [...new Set(rows.map((r) => r.note).filter(Boolean))];
    if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
    lines.push('');
  }
  return lines.join('\n');
}

const COLORS = { tabvec: '#d62728', 'tabvec-rerank-f16': '#ff7f0e', 'tabvec-rerank-f32': '#bcbd22', 'tabvec-f32': '#17becf', 'hnswlib-wasm': '#1f77b4', 'hnswlib-node': '#2ca02c', edgevec: '#9467bd', 'voy-search': '#8c564b', 'client-vector-search': '#e377c2' };

/** Recall@10 (x) against queries/s (y, log scale): one line per contender. */
export function recallQpsSvg(records, dataset, environment) {
  const rows = records.filter((r) => r.dataset === dataset && r.environment === environment && !r.skipped && r.qps > 0);
  const W = 720, H = 440, L = 70, R = 170, T = 40, B = 50;
  // The x axis starts just below the lowest recall measured, so the region
  // that matters (0.9-1.0) is not squashed.
  const minRecall = Math.min(...rows.map((r) => r.recall_at_10));
  const x0 = Math.max(0, Math.floor((minRecall - 0.005) * 20) / 20);
  const tick = 1 - x0 <= 0.1 ? 0.01 : 1 - x0 <= 0.3 ? 0.05 : 0.1;
  const qs = rows.map((r) => r.qps);
  const y0 = Math.log10(Math.max(1, Math.min(...qs) / 1.5));
  const y1 = Math.log10(Math.max(...qs) * 1.5);
  const px = (recall) => L + ((recall - x0) / (1 - x0)) * (W - L - R);
  const py = (qps) => H - B - ((Math.log10(qps) - y0) / (y1 - y0)) * (H - T - B);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="15" font-weight="bold">${dataset} (${environment}): recall@10 vs queries/s (up and right is better)</text>`];
  for (let i = 0; x0 + i * tick <= 1.0001; i++) {
    const r = x0 + i * tick;
    out.push(`<line x1="${px(r)}" y1="${T}" x2="${px(r)}" y2="${H - B}" stroke="#eee"/><text x="${px(r)}" y="${H - B + 16}" text-anchor="middle">${r.toFixed(tick < 0.05 ? 2 : tick < 0.1 ? 2 : 1)}</text>`);
  }
  for (let e = Math.ceil(y0); e <= y1; e++) {
    out.push(`<line x1="${L}" y1="${py(10 ** e)}" x2="${W - R}" y2="${py(10 ** e)}" stroke="#eee"/><text x="${L - 6}" y="${py(10 ** e) + 4}" text-anchor="end">${(10 ** e).toLocaleString('en-US')}</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">recall@10</text>`);
  out.push(`<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">queries/s (log)</text>`);
  let legend = T + 10;
  for (const name of [...new Set(rows.map((r) => r.contender))]) {
    const pts = rows.filter((r) => r.contender === name).sort((a, b) => a.recall_at_10 - b.recall_at_10);
    const color = COLORS[name] ?? '#555';
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p.recall_at_10).toFixed(1)},${py(p.qps).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.recall_at_10).toFixed(1)}" cy="${py(p.qps).toFixed(1)}" r="3" fill="${color}"/>`);
    out.push(`<rect x="${W - R + 14}" y="${legend - 9}" width="12" height="12" fill="${color}"/><text x="${W - R + 32}" y="${legend + 1}">${name}</text>`);
    legend += 20;
  }
  out.push('</svg>');
  return out.join('\n');
}
