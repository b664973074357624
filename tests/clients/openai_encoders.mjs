// The official OpenAI SDK and a plain rerank request against `terraferma serve` with a chat
// model, a BERT embedding model and a BERT reranker loaded side by side (127.0.0.1:PORT).
// argv: PORT REFERENCE_OUTPUTS_DIR. Exits non-zero on the first failed expectation.
import OpenAI from 'openai';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const [port, outputs] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}/v1`;
const client = new OpenAI({ baseURL: base, apiKey: 'test-key', maxRetries: 0 });

const ids = (await client.models.list()).data.map((m) => m.id).sort();
assert.deepEqual(ids, ['bge', 'chat', 'rerank']);

// Embeddings from the encoder: unit length, the direction of llama.cpp's CLS embedding.
const ref = JSON.parse(readFileSync(`${outputs}/tiny-bert.json`, 'utf8'));
const emb = await client.embeddings.create({ model: 'bge', input: ref.prompts.map((p) => p.text) });
assert.equal(emb.data.length, ref.prompts.length);
emb.data.forEach((d, i) => {
  const bytes = readFileSync(`${outputs}/${ref.prompts[i].embedding_file}`);
  const raw = Array.from({ length: bytes.length / 4 }, (_, k) => bytes.readFloatLE(4 * k));
  const norm = Math.sqrt(raw.reduce((s, x) => s + x * x, 0));
  const cos = d.embedding.reduce((s, x, k) => s + x * raw[k], 0) / norm;
  assert.equal(d.embedding.length, 32);
  assert.ok(Math.abs(d.embedding.reduce((s, x) => s + x * x, 0) - 1) < 1e-5, 'unit length');
  assert.ok(cos > 0.99999, `prompt ${i}: cosine ${cos} to llama.cpp's embedding`);
});
assert.equal(emb.usage.prompt_tokens, ref.prompts.reduce((s, p) => s + p.tokens.length, 0));

// An embedding model does not chat: a 400 naming it.
await assert.rejects(client.chat.completions.create({ model: 'bge', messages: [{ role: 'user', content: 'hi' }] }), (e) => {
  assert.equal(e.status, 400);
  assert.match(e.message, /embedding model/);
  return true;
});
// The chat model still chats next to them.
const chat = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
assert.equal(chat.usage.completion_tokens, 4);

// Rerank, in the shape llama-server, Jina and Cohere share.
const pairs = JSON.parse(readFileSync(`${outputs}/tiny-bert-rerank.json`, 'utf8')).pairs;
const query = pairs[0].query;
const docs = pairs.filter((p) => p.query === query).map((p) => p.document);
const res = await fetch(`${base}/rerank`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ model: 'rerank', query, documents: docs, top_n: docs.length, return_documents: true }),
});
assert.equal(res.status, 200);
const rr = await res.json();
assert.equal(rr.results.length, docs.length);
for (let i = 1; i < rr.results.length; ++i) assert.ok(rr.results[i - 1].relevance_score >= rr.results[i].relevance_score);
for (const r of rr.results) {
  assert.equal(r.document.text, docs[r.index]);
  const expected = pairs.find((p) => p.query === query && p.document === docs[r.index]).scores[0];
  assert.ok(Math.abs(r.relevance_score - expected) < 4e-3 * Math.max(1, Math.abs(expected)), `${r.relevance_score} vs ${expected}`);
}
assert.ok(rr.usage.prompt_tokens > 0);
const one = await (await fetch(`${base}/rerank`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ model: 'rerank', query, documents: docs, top_n: 1 }),
})).json();
assert.equal(one.results.length, 1);
assert.equal(one.results[0].index, rr.results[0].index);
assert.equal(one.results[0].document, undefined);
// A chat model is not a reranker.
const bad = await fetch(`${base}/rerank`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ model: 'chat', query, documents: docs }),
});
assert.equal(bad.status, 400);
console.log(`encoders: ${emb.data.length} embeddings, ${rr.results.length} reranked`);
