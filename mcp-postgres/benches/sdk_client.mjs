// The TypeScript half of the `sdk` bench: the official TypeScript SDK client (npm
// `@modelcontextprotocol/client`, which validates `structuredContent` against the tool's
// `outputSchema` with ajv) calling `query` on each server named on the command line, in
// alternating rounds. Same arguments and output as sdk_client.py; run from a directory
// where the SDK resolves (benches/sdk.rs copies it into the npm cache).
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

// The SQL comes from benches/common (MCP_BENCH_*); the point select runs 20x as often.
const CASES = [
  ['point select', process.env.MCP_BENCH_POINT, 20],
  ['10,000 rows', process.env.MCP_BENCH_MANY, 1],
];
const [iterations, rounds] = process.argv.slice(2, 4).map(Number);
const servers = [];
let current = null;
for (const arg of process.argv.slice(4)) {
  if (arg === '--') current = null;
  else if (!current) {
    const at = arg.indexOf('=');
    current = { name: arg.slice(0, at), command: arg.slice(at + 1), args: [] };
    servers.push(current);
  } else current.args.push(arg);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const s of servers) {
  s.client = new Client({ name: 'sdk-bench', version: '1.0.0' });
  const env = { ...process.env, MCP_LOG_LEVEL: 'warn' };
  await s.client.connect(new StdioClientTransport({ command: s.command, args: s.args, env, stderr: 'inherit' }));
  await s.client.listTools();
}
const call = async (s, sql) => {
  const r = await s.client.callTool({ name: 'query', arguments: { sql } });
  if (r.isError) throw new Error(`query failed: ${JSON.stringify(r.content)}`);
};
for (const [name, sql, scale] of CASES) {
  const n = iterations * scale;
  for (const s of servers) {
    s.medians = [];
    for (let i = 0; i < Math.max(2, Math.floor(n / 10)); i++) await call(s, sql);
  }
  for (let r = 0; r < rounds; r++) {
    for (const s of servers) {
      const samples = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        await call(s, sql);
        samples.push(performance.now() - started);
      }
      s.medians.push(median(samples));
    }
  }
  for (const s of servers) console.log(JSON.stringify({ server: s.name, case: name, median_us: median(s.medians) * 1000 }));
}
for (const s of servers) await s.client.close();
