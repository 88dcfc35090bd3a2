/**
 * The one wrk Lua script the bench uses: a request list (METHOD \t PATH \t BODY per line; JSON
 * bodies have no tabs or newlines) pre-formatted once in init, cycled from a random start, and a
 * BENCHJSON line from the done() hook with counts, latency percentiles (ms) and the duration (µs).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

let seq = 0;

/** Writes the request list and the script into `dir`; returns the script's path. */
export function writeWrkScript(dir, requests) {
  const n = seq++;
  const listFile = path.join(dir, `wrk-requests-${process.pid}-${n}.txt`);
  writeFileSync(listFile, `${requests.map((r) => `${r.method}\t${r.path}\t${r.body ?? ''}`).join('\n')}\n`);
  const script = path.join(dir, `wrk-${process.pid}-${n}.lua`);
  writeFileSync(script, `
local reqs = {}
local i = 1
-- Formatted in init (per thread), once wrk.headers holds the Host header.
init = function(args)
  local json = { ["Content-Type"] = "application/json" }
  for line in io.lines("${listFile}") do
    local method, p, body = line:match("^(%u+)\t([^\t]*)\t(.*)$")
    if body == "" then reqs[#reqs + 1] = wrk.format(method, p) else reqs[#reqs + 1] = wrk.format(method, p, json, body) end
  end
  math.randomseed(os.time())
  i = math.random(#reqs)
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  io.write(string.format("BENCHJSON {\\"requests\\":%d,\\"non2xx\\":%d,\\"errors\\":%d,\\"timeouts\\":%d,\\"bytes\\":%d,\\"p50\\":%f,\\"p90\\":%f,\\"p99\\":%f,\\"p999\\":%f,\\"max\\":%f,\\"mean\\":%f,\\"us\\":%d}\\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000, summary.duration))
end
`);
  return script;
}

/**
 * The done() hook's numbers from wrk's output: { requests, non2xx, errors (connect+read+write),
 * timeouts, bytes, p50, p90, p99, p999, max, mean (ms), us (duration) }.
 */
export function parseWrkOutput(out) {
  const line = out.stdout.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (!line) throw new Error(`cannot parse wrk output:\n${out.stdout}\n${out.stderr}`);
  return JSON.parse(line.slice('BENCHJSON '.length));
}
