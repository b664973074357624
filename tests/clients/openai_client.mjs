// The official OpenAI SDK against `terraferma serve` on 127.0.0.1:PORT. Exits non-zero on the
// first failed expectation.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const port = process.argv[2];
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'test-key', maxRetries: 0 });

const models = await client.models.list();
assert.ok(models.data.length === 1 && models.data[0].object === 'model');

const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }];
const plain = await client.chat.completions.create({ model: models.data[0].id, messages, max_tokens: 10, temperature: 0 });
assert.equal(plain.object, 'chat.completion');
assert.equal(plain.choices[0].message.role, 'assistant');
assert.equal(plain.choices[0].finish_reason, 'length');
assert.equal(plain.usage.completion_tokens, 10);

// Streaming with usage: the deltas add up to the same greedy text.
const stream = await client.chat.completions.create({
  model: 'whatever', messages, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true },
});
let text = '';
let usage = null;
let finish = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    text += c.delta?.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
}
assert.equal(text, plain.choices[0].message.content);
assert.equal(finish, 'length');
assert.equal(usage.completion_tokens, 10);

// Structured output, strict JSON schema.
const schema = { type: 'object', properties: { city: { type: 'string', maxLength: 20 }, rank: { type: 'integer', minimum: 1, maximum: 10 } },
                 required: ['city', 'rank'], additionalProperties: false };
let ended = 0;
for (let seed = 1; seed <= 4; seed++) {
  const r = await client.chat.completions.create({
    model: 'm', messages, max_tokens: 80, seed,
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
  });
  if (r.choices[0].finish_reason !== 'stop') continue;
  ended++;
  const doc = JSON.parse(r.choices[0].message.content);
  assert.equal(typeof doc.city, 'string');
  assert.ok(Number.isInteger(doc.rank) && doc.rank >= 1 && doc.rank <= 10);
}
assert.ok(ended > 0, 'no constrained answer finished');

// Tools, forced: the SDK gets tool_calls with JSON-string arguments.
const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 20 } }, required: ['city'] } } }];
let called = 0;
for (let seed = 1; seed <= 4; seed++) {
  const r = await client.chat.completions.create({ model: 'm', messages, tools, tool_choice: 'required', max_tokens: 120, seed });
  if (r.choices[0].finish_reason !== 'tool_calls') continue;
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
  called++;
}
assert.ok(called > 0, 'no forced tool call finished');

// Embeddings: the SDK asks for base64 and decodes it; the same vectors as encoding_format float.
const emb = await client.embeddings.create({ model: 'm', input: ['The invoice is due.', 'Die Rechnung ist fällig.'] });
assert.equal(emb.data.length, 2);
const v0 = emb.data[0].embedding;
assert.ok(Array.isArray(v0) && v0.length > 0);
assert.ok(Math.abs(v0.reduce((s, x) => s + x * x, 0) - 1) < 1e-4, 'embeddings have unit length');
const asFloat = await client.embeddings.create({ model: 'm', input: 'The invoice is due.', encoding_format: 'float' });
assert.deepEqual(asFloat.data[0].embedding.map((x) => Math.fround(x)), v0);
assert.ok(emb.usage.prompt_tokens > 0);

// Log-probabilities: one entry per generated token, their bytes spell the answer, greedy picks
// the most probable alternative, and streaming reports the same values chunk by chunk.
const lpReq = { model: 'm', messages, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3 };
const lp = await client.chat.completions.create(lpReq);
const content = lp.choices[0].logprobs.content;
assert.equal(content.length, lp.usage.completion_tokens);
assert.equal(Buffer.from(content.flatMap((t) => t.bytes)).toString('utf8'), lp.choices[0].message.content);
for (const t of content) {
  assert.ok(t.logprob <= 0 && typeof t.token === 'string');
  assert.equal(t.top_logprobs.length, 3);
  assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob && t.top_logprobs[1].logprob >= t.top_logprobs[2].logprob);
  assert.equal(t.top_logprobs[0].token, t.token);
  assert.equal(t.top_logprobs[0].logprob, t.logprob);
  assert.ok(t.top_logprobs.reduce((s, x) => s + Math.exp(x.logprob), 0) <= 1 + 1e-6);
}
const lpStream = await client.chat.completions.create({ ...lpReq, stream: true });
const streamed = [];
for await (const chunk of lpStream) {
  for (const c of chunk.choices) streamed.push(...(c.logprobs?.content ?? []));
}
assert.deepEqual(streamed, content);
const noLp = await client.chat.completions.create({ model: 'm', messages, max_tokens: 2, temperature: 0 });
assert.equal(noLp.choices[0].logprobs, null);
const legacy = await client.completions.create({ model: 'm', prompt: 'The capital of France is', max_tokens: 6, temperature: 0, logprobs: 2 });
const L = legacy.choices[0].logprobs;
assert.equal(L.tokens.length, legacy.usage.completion_tokens);
assert.equal(L.tokens.join(''), legacy.choices[0].text);
assert.equal(L.text_offset[0], 0);
assert.ok(L.top_logprobs.every((o) => Object.keys(o).length >= 1 && Object.keys(o).length <= 2));
await assert.rejects(client.chat.completions.create({ model: 'm', messages, top_logprobs: 2 }), (e) => e.status === 400);

// n choices: choice i samples with seed + i (choice 0 is the n = 1 answer), they run together
// in the scheduler, and a streamed request gives the same texts per index.
const nReq = { model: 'm', messages, max_tokens: 6, seed: 5, temperature: 1 };
const single = await client.chat.completions.create(nReq);
const three = await client.chat.completions.create({ ...nReq, n: 3 });
assert.deepEqual(three.choices.map((c) => c.index), [0, 1, 2]);
assert.equal(three.choices[0].message.content, single.choices[0].message.content);
assert.equal(three.usage.prompt_tokens, single.usage.prompt_tokens);
const perIndex = ['', '', ''];
for await (const chunk of await client.chat.completions.create({ ...nReq, n: 3, stream: true })) {
  for (const c of chunk.choices) perIndex[c.index] += c.delta?.content ?? '';
}
assert.deepEqual(perIndex, three.choices.map((c) => c.message.content));
const legacyN = await client.completions.create({ model: 'm', prompt: 'Once upon a time', max_tokens: 5, seed: 9, temperature: 1, n: 2 });
assert.deepEqual(legacyN.choices.map((c) => c.index), [0, 1]);
await assert.rejects(client.chat.completions.create({ ...nReq, n: 17 }), (e) => e.status === 400);

// Errors surface as the SDK's typed errors.
await assert.rejects(client.chat.completions.create({ model: 'm', messages, temperature: 7 }), (e) => e.status === 400);

console.log(`openai client: ok (${ended} structured answers, ${called} tool calls)`);
