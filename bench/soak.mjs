// Soak test for `terraferma serve` (issue 29): mixed load for a fixed time — streamed and
// non-streamed chats, structured answers, completions, embeddings, clients that leave mid-answer,
// slow clients — checking that
//   - no request gets a 5xx other than a 503 admission refusal,
//   - resident memory stays flat (sampled from /metrics),
//   - time to first token of admitted streamed requests stays bounded (p50/p99 reported),
//   - every answer equals the same request answered alone (fixed seeds: determinism under load).
// Node 18+ only (global fetch), no packages. Usage:
//   node bench/soak.mjs --port P [--minutes 30] [--clients 12]
import net from 'node:net';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
}, []));
const port = Number(args.port);
const minutes = Number(args.minutes ?? 30);
const clients = Number(args.clients ?? 12);
if (!port) {
    console.error('usage: node bench/soak.mjs --port P [--minutes 30] [--clients 12]');
    process.exit(2);
}
const base = `http://127.0.0.1:${port}`;

const chat = (text, seed, extra = {}) => ({
    model: 'any', messages: [{role: 'user', content: text}], max_tokens: 48, temperature: 0.9, seed, ...extra,
});
const invoiceSchema = {
    type: 'object',
    properties: {number: {type: 'integer', minimum: 1, maximum: 9999}, paid: {type: 'boolean'}, customer: {type: 'string', maxLength: 24}},
    required: ['number', 'paid', 'customer'], additionalProperties: false,
};
// The requests whose answers are compared with the same request answered alone.
const fixed = [
    {kind: 'chat', path: '/v1/chat/completions', body: chat('Write a short poem about the sea.', 11)},
    {kind: 'chat', path: '/v1/chat/completions', body: chat('List three colours.', 12)},
    {kind: 'structured', path: '/v1/chat/completions',
     body: chat('Extract: invoice 42, paid, customer ACME.', 13, {response_format: {type: 'json_schema', json_schema: {name: 'inv', schema: invoiceSchema}}})},
    {kind: 'completion', path: '/v1/completions', body: {model: 'any', prompt: 'Once upon a time', max_tokens: 32, temperature: 0.8, seed: 14}},
    {kind: 'embedding', path: '/v1/embeddings', body: {model: 'any', input: ['the quick brown fox', 'invoice total 1.234,56 EUR']}},
];

const stats = {requests: 0, ok: 0, refused503: 0, other5xx: 0, other: 0, mismatches: 0, disconnects: 0, slow: 0, ttft: [], errors: []};

function answerOf(kind, json) {
    if (kind === 'embedding') return JSON.stringify(json.data.map((d) => d.embedding));
    if (kind === 'completion') return json.choices[0].text;
    return json.choices[0].message.content;
}

async function post(path, body, signal) {
    return fetch(base + path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body), signal});
}

function count(status) {
    stats.requests++;
    if (status === 200) stats.ok++;
    else if (status === 503) stats.refused503++;
    else if (status >= 500) stats.other5xx++;
    else stats.other++;
}

async function plain(req, reference) {
    const r = await post(req.path, req.body);
    count(r.status);
    const text = await r.text();
    if (r.status !== 200) {
        if (r.status !== 503 && stats.errors.length < 20) stats.errors.push(`${r.status} ${text.slice(0, 200)}`);
        return;
    }
    if (answerOf(req.kind, JSON.parse(text)) !== reference.get(req)) stats.mismatches++;
}

async function streamed(req, reference) {
    const t0 = performance.now();
    const r = await post(req.path, {...req.body, stream: true});
    count(r.status);
    if (r.status !== 200) {
        await r.text();
        return;
    }
    let text = '', buf = '', first = true;
    const decoder = new TextDecoder();
    for await (const piece of r.body) {
        if (first) {
            stats.ttft.push(performance.now() - t0);
            first = false;
        }
        buf += decoder.decode(piece, {stream: true});
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
            const c = JSON.parse(line.slice(6)).choices?.[0];
            text += c?.delta?.content ?? c?.text ?? '';
        }
    }
    if (text !== reference.get(req)) stats.mismatches++;
}

async function leaver() {
    const ac = new AbortController();
    const r = post('/v1/chat/completions', {...chat('Tell a very long story.', 99), max_tokens: 2000, stream: true}, ac.signal);
    setTimeout(() => ac.abort(), 150 + Math.random() * 300);
    try {
        const res = await r;
        count(res.status);
        for await (const _ of res.body) { /* until aborted */ }
    } catch {
        stats.disconnects++;
    }
}

function slowClient() {
    // Headers a line every 400 ms, then a small request: answered, or cut at the header deadline.
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        const body = JSON.stringify(chat('Hi', 5, {max_tokens: 4}));
        const lines = ['POST /v1/chat/completions HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n', 'Content-Type: application/json\r\n',
                       `Content-Length: ${Buffer.byteLength(body)}\r\n`, 'Connection: close\r\n', '\r\n' + body];
        let i = 0, got = '';
        const timer = setInterval(() => {
            if (i < lines.length) s.write(lines[i++]);
        }, 400);
        s.on('data', (d) => { got += d; });
        s.on('error', () => {});
        s.on('close', () => {
            clearInterval(timer);
            stats.slow++;
            const status = Number(got.slice(9, 12));
            if (status) count(status);
            resolve();
        });
    });
}

async function metric(name) {
    const t = await (await fetch(base + '/metrics')).text();
    return t.split('\n').filter((l) => l.startsWith(name + ' ') || l.startsWith(name + '{')).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}

const pct = (xs, p) => {
    if (!xs.length) return 0;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};

async function main() {
    // Each fixed request answered alone first: the reference.
    const reference = new Map();
    for (const req of fixed) {
        const r = await post(req.path, req.body);
        if (r.status !== 200) throw new Error(`reference ${req.path}: ${r.status} ${await r.text()}`);
        reference.set(req, answerOf(req.kind, await r.json()));
    }
    const rss = [await metric('terraferma_resident_memory_bytes')];
    const end = Date.now() + minutes * 60000;
    const sampler = setInterval(async () => {
        rss.push(await metric('terraferma_resident_memory_bytes'));
        const mb = rss.map((x) => (x / 1048576).toFixed(0));
        console.error(`[soak] ${((minutes * 60000 - (end - Date.now())) / 60000).toFixed(1)} min: ${stats.requests} requests, ${stats.refused503} refused, ` +
                      `${stats.other5xx} other 5xx, ${stats.mismatches} mismatches, RSS ${mb[0]} -> ${mb[mb.length - 1]} MiB`);
    }, 30000);
    const worker = async () => {
        while (Date.now() < end) {
            const x = Math.random();
            const req = fixed[Math.floor(Math.random() * fixed.length)];
            try {
                if (x < 0.05) await leaver();
                else if (x < 0.08) await slowClient();
                else if (x < 0.5 && req.kind !== 'embedding') await streamed(req, reference);
                else await plain(req, reference);
            } catch (e) {
                if (stats.errors.length < 20) stats.errors.push(String(e));
            }
        }
    };
    await Promise.all(Array.from({length: clients}, worker));
    clearInterval(sampler);
    rss.push(await metric('terraferma_resident_memory_bytes'));
    // Flat: the last sample within 5 % of the first one taken after warming (the second).
    const warm = rss[Math.min(1, rss.length - 1)], last = rss[rss.length - 1];
    const result = {
        minutes, clients, ...stats, ttft: undefined,
        ttft_ms_p50: pct(stats.ttft, 0.5), ttft_ms_p99: pct(stats.ttft, 0.99),
        rss_mib_first: rss[0] / 1048576, rss_mib_warm: warm / 1048576, rss_mib_last: last / 1048576,
        rss_mib_max: Math.max(...rss) / 1048576, rss_flat: Math.abs(last - warm) <= 0.05 * warm,
    };
    console.log(JSON.stringify(result, null, 1));
    process.exit(result.other5xx === 0 && result.mismatches === 0 && result.rss_flat ? 0 : 1);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
