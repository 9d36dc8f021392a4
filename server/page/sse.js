// Server-Sent Events from a fetch() body: the bytes are read from its ReadableStream as they
// arrive and decoded by one TextDecoder in stream mode, so a UTF-8 character whose bytes are split
// between two reads is held back until it is whole instead of turning into U+FFFD.

// One event: its name, data lines joined, id (null if none), the comment lines it came with, and
// `arrival`, the performance.now() of the read that completed it.
function parseBlock(block) {
  const ev = { event: '', data: '', id: null, comments: [], arrival: 0 };
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) { ev.comments.push(line.slice(1).trim()); continue; }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') ev.event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') ev.id = value;
  }
  ev.data = data.join('\n');
  return ev;
}

// Yields the events of `body` (a ReadableStream of bytes) as they complete.
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const arrival = performance.now();
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block) continue;
        const ev = parseBlock(block);
        ev.arrival = arrival;
        yield ev;
      }
    }
    buffer += decoder.decode();
  } finally {
    reader.releaseLock();
  }
}

// The server's own time to first token, from the comment ladle sends before a stream's first text
// (": server-ttft-ms 12.345"), or null.
export function serverTtftOf(ev) {
  for (const c of ev.comments) {
    if (c.startsWith('server-ttft-ms ')) return Number(c.slice('server-ttft-ms '.length));
  }
  return null;
}
