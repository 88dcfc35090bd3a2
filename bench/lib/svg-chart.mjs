/**
 * Latency-vs-throughput charts as plain SVG (no chart library): x = achieved req/s (log scale
 * when the points span more than 20×, as batches do), y = latency in ms on a log scale. Per server: p99 as a solid line through the fixed-rate points, p50 dashed,
 * and the saturation run as a hollow diamond (closed-loop latency at maximum throughput).
 */
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 800;
const H = 440;
const M = { left: 70, right: 240, top: 40, bottom: 56 };

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(max, ticks) {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

/** The largest 1, 2 or 5 × 10^k not above v. */
function niceFloor(v) {
  const d = 10 ** Math.floor(Math.log10(v));
  return [5, 2, 1].map((m) => m * d).find((x) => x <= v) ?? d;
}

const fmtRate = (v) => (v >= 1000 ? `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k` : String(Math.round(v)));
const fmtMs = (v) => (v >= 1 ? String(Number(v.toPrecision(3))) : String(Number(v.toPrecision(2))));

/** series: [{label, rate: [{x, p50, p99}], saturation: {x, p50, p99} | null}] */
export function latencyChart({ title, subtitle, series }) {
  const points = series.flatMap((s) => [...s.rate, ...(s.saturation ? [s.saturation] : [])]).filter((p) => p.x > 0 && p.p99 > 0);
  if (points.length === 0) return null;
  const xMaxRaw = Math.max(...points.map((p) => p.x));
  const xMinRaw = Math.min(...points.map((p) => p.x));
  const logX = xMaxRaw / xMinRaw > 20;
  const xMax = logX ? 10 ** Math.ceil(Math.log10(xMaxRaw * 1.05)) : xMaxRaw * 1.08;
  const xMin = logX ? niceFloor(xMinRaw * 0.9) : 0;
  const ys = points.flatMap((p) => [p.p50, p.p99]).filter((v) => v > 0);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = logX
    ? (x) => M.left + ((Math.log10(Math.max(x, xMin)) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * pw
    : (x) => M.left + (x / xMax) * pw;
  const sy = (y) => M.top + ph - ((Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${M.left}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="${M.left}" y="34" fill="#555">${esc(subtitle)}</text>`);
  // Grid and axes.
  const xTicks = [];
  if (logX) {
    for (let d = 10 ** Math.floor(Math.log10(xMin)); d <= xMax * 1.0001; d *= 10) {
      for (const m of [1, 2, 5]) if (d * m >= xMin * 0.9999 && d * m <= xMax * 1.0001) xTicks.push(d * m);
    }
  }
  else for (let x = 0, step = niceStep(xMax, 6); x <= xMax; x += step) xTicks.push(x);
  for (const x of xTicks) {
    out.push(`<line x1="${sx(x)}" y1="${M.top}" x2="${sx(x)}" y2="${M.top + ph}" stroke="#eee"/>`);
    out.push(`<text x="${sx(x)}" y="${M.top + ph + 16}" text-anchor="middle">${fmtRate(x)}</text>`);
  }
  for (let d = yMin; d <= yMax * 1.0001; d *= 10) {
    for (const m of [1, 2, 5]) {
      const y = d * m;
      if (y > yMax * 1.0001) break;
      out.push(`<line x1="${M.left}" y1="${sy(y)}" x2="${M.left + pw}" y2="${sy(y)}" stroke="${m === 1 ? '#ddd' : '#f3f3f3'}"/>`);
      out.push(`<text x="${M.left - 6}" y="${sy(y) + 4}" text-anchor="end" fill="${m === 1 ? '#000' : '#888'}">${fmtMs(y)}</text>`);
    }
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">achieved throughput (requests/s${logX ? ', log scale' : ''})</text>`);
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const rate = [...s.rate].filter((p) => p.x > 0).sort((a, b) => a.x - b.x);
    const line = (key, dash) => {
      if (rate.length === 0) return;
      const d = rate.map((p, j) => `${j === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p[key]).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="${dash ? 1.5 : 2.2}"${dash ? ' stroke-dasharray="5,4" opacity="0.75"' : ''}/>`);
      for (const p of rate) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p[key]).toFixed(1)}" r="${dash ? 2.5 : 3.5}" fill="${c}"><title>${esc(s.label)} ${key} ${p[key]} ms at ${Math.round(p.x)} req/s (offered ${p.offered})</title></circle>`);
    };
    line('p99', false);
    line('p50', true);
    if (s.saturation && s.saturation.x > 0) {
      const { x, p99 } = s.saturation;
      const [cx, cy] = [sx(x), sy(p99)];
      out.push(`<path d="M${cx},${cy - 6} L${cx + 6},${cy} L${cx},${cy + 6} L${cx - 6},${cy} Z" fill="#fff" stroke="${c}" stroke-width="2"><title>${esc(s.label)} saturation: ${Math.round(x)} req/s, p99 ${p99} ms</title></path>`);
    }
    const ly = M.top + 10 + i * 34;
    const lx = M.left + pw + 14;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${c}" stroke-width="2.2"/>`);
    out.push(`<text x="${lx + 28}" y="${ly + 4}">${esc(s.label)}</text>`);
    if (s.saturation) out.push(`<text x="${lx + 28}" y="${ly + 18}" fill="#555" font-size="11">max ${fmtRate(s.saturation.x)} req/s</text>`);
  });
  const ky = M.top + 10 + series.length * 34 + 8;
  const kx = M.left + pw + 14;
  out.push(`<text x="${kx}" y="${ky}" fill="#555" font-size="11">solid: p99, dashed: p50</text>`);
  out.push(`<text x="${kx}" y="${ky + 14}" fill="#555" font-size="11">dots: fixed offered rates</text>`);
  out.push(`<text x="${kx}" y="${ky + 28}" fill="#555" font-size="11">◇: saturation (p99)</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
