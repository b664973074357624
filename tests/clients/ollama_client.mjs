// The official Ollama JavaScript client against `terraferma serve` on 127.0.0.1:PORT.
import { Ollama } from 'ollama';
import assert from 'node:assert/strict';

const port = process.argv[2];
const ollama = new Ollama({ host: `http://127.0.0.1:${port}` });

const tags = await ollama.list();
assert.equal(tags.models.length, 1);
const model = tags.models[0].name;
const version = await ollama.version();
assert.ok(version.version);

const messages = [{ role: 'user', content: 'Say hello.' }];
const options = { temperature: 0, num_predict: 8 };
const once = await ollama.chat({ model, messages, options });
assert.equal(once.done, true);
assert.equal(once.eval_count, 8);

let streamed = '';
let last = null;
for await (const part of await ollama.chat({ model, messages, options, stream: true })) {
  streamed += part.message.content;
  last = part;
}
assert.equal(streamed, once.message.content);
assert.equal(last.done, true);
assert.equal(last.done_reason, 'length');

// logprobs: one per generated token, spelling the answer; the same when streamed.
const withLp = await ollama.chat({ model, messages, options, logprobs: true, top_logprobs: 2 });
assert.equal(withLp.logprobs.length, withLp.eval_count);
assert.equal(withLp.logprobs.map((t) => t.token).join(''), withLp.message.content);
assert.ok(withLp.logprobs.every((t) => t.logprob <= 0 && t.top_logprobs.length === 2 && t.top_logprobs[0].logprob === t.logprob));
const streamedLp = [];
for await (const part of await ollama.chat({ model, messages, options, logprobs: true, top_logprobs: 2, stream: true })) {
  streamedLp.push(...(part.logprobs ?? []));
}
assert.deepEqual(streamedLp, withLp.logprobs);
assert.equal(once.logprobs, undefined);

const gen = await ollama.generate({ model, prompt: 'Once upon a time', options });
assert.equal(gen.done, true);
assert.equal(typeof gen.response, 'string');

// format: a JSON schema.
const format = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
let ended = 0;
for (let seed = 1; seed <= 4; seed++) {
  const r = await ollama.chat({ model, messages, format, options: { seed, num_predict: 40 } });
  if (r.done_reason !== 'stop') continue;
  ended++;
  assert.equal(typeof JSON.parse(r.message.content).ok, 'boolean');
}
assert.ok(ended > 0, 'no constrained answer finished');
// Tools are rendered through the template; a reply without a call is plain content.
const withTools = await ollama.chat({ model, messages, options, tools: [{ type: 'function', function: { name: 'get_weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }] });
assert.equal(withTools.done, true);
assert.equal(typeof withTools.message.content, 'string');

// Embeddings: one vector per input, unit length, the same text giving the same vector.
const e = await ollama.embed({ model, input: ['first document', 'second document', 'first document'] });
assert.equal(e.embeddings.length, 3);
assert.deepEqual(e.embeddings[0], e.embeddings[2]);
assert.notDeepEqual(e.embeddings[0], e.embeddings[1]);
assert.ok(Math.abs(e.embeddings[0].reduce((s, x) => s + x * x, 0) - 1) < 1e-4);
const legacy = await ollama.embeddings({ model, prompt: 'first document' });
assert.equal(legacy.embedding.length, e.embeddings[0].length);

const ps = await ollama.ps();
assert.equal(ps.models.length, 1);
console.log(`ollama client: ok (${ended} structured answers)`);
