// The official TypeScript SDK client (v2) against our example server, in one era.
// Usage: node ts-client.mjs legacy|auto URL|COMMAND [ARGS...]
// 'legacy' forces the initialize handshake; 'auto' lets the SDK pick 2026-07-28.
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

const [mode, target, ...args] = process.argv.slice(2);
const transport = target.startsWith('http')
  ? new StreamableHTTPClientTransport(new URL(target))
  : new StdioClientTransport({ command: target, args, stderr: 'inherit' });
const client = new Client({ name: 'interop-ts-client', version: '1.0.0' }, { versionNegotiation: { mode } });
await client.connect(transport);

const { tools } = await client.listTools();
assert.ok(tools.some((t) => t.name === 'echo'), 'echo tool listed');
const echo = await client.callTool({ name: 'echo', arguments: { message: 'interop' } });
assert.equal(echo.content[0].text, 'interop');
const add = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
assert.equal(add.structuredContent.sum, 5);
const bad = await client.callTool({ name: 'echo', arguments: { message: 7 } });
assert.equal(bad.isError, true);
const text = await client.readResource({ uri: 'test://static-text' });
assert.equal(text.contents[0].text, 'This is the content of the static text resource.');
const prompt = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } });
assert.match(prompt.messages[0].content.text, /arg1='a'/);
const version = client.getNegotiatedProtocolVersion?.() ?? client.getProtocolVersion?.() ?? 'unknown';
await client.close();
console.log(JSON.stringify({ ok: true, mode, target, version, tools: tools.length }));
