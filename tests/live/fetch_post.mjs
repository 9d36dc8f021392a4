// Node's built-in fetch (undici, what the official OpenAI Node SDK sends with) POSTs a body of
// the given size to a URL, without Expect: 100-continue, and prints what it read:
// {"status": N, "body": "..."} or {"error": "..."} when it never got the response.
// usage: node fetch_post.mjs URL BODY_BYTES
const [url, size] = process.argv.slice(2);
const body = '{"prompt":"' + 'a'.repeat(Math.max(0, Number(size) - 14)) + '"}';
try {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  console.log(JSON.stringify({ status: res.status, body: await res.text() }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e) + (e.cause ? ' (' + String(e.cause) + ')' : '') }));
}
