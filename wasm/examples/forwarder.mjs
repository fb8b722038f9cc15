#!/usr/bin/env node
// A caching DNS forwarder in Node on dnspect's engine: the engine decides (which upstream, when to
// retry over TCP, what to cache, how to fit an answer to the client), this file only moves bytes
// with node:dgram and node:net and keeps the clock.
//
//   node examples/forwarder.mjs --listen 127.0.0.1:8553 --upstream 9.9.9.9:53 [--upstream ...] [--log]
//   dig @127.0.0.1 -p 8553 example.com A
//
// --listen takes port 0 for any free port; the line "listening on ADDRESS:PORT" says which.
// The engine is a sans-io state machine: after every input (a client query, an upstream answer,
// a failed send, a timer), poll() until it says when to wake it next.
import dgram from "node:dgram";
import net from "node:net";
import { parseArgs } from "node:util";
import { Forwarder } from "dnspect";

const { values: args } = parseArgs({
  options: {
    listen: { type: "string", default: "127.0.0.1:8553" },
    upstream: { type: "string", multiple: true, default: [] },
    log: { type: "boolean", default: false },
  },
});

/** `ADDRESS:PORT` or `[IPv6]:PORT`, with an IP address (answers are matched by address). */
function hostPort(s) {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m || !net.isIP(m[1]) || Number(m[2]) > 65535) throw new Error(`expected IP:PORT, got ${s}`);
  return { host: m[1], port: Number(m[2]) };
}

if (args.upstream.length === 0) {
  console.error("usage: forwarder.mjs --listen HOST:PORT --upstream HOST:PORT [--upstream ...] [--log]");
  process.exit(2);
}
const listen = hostPort(args.listen);
const upstreams = args.upstream.map(hostPort);
const family = (host) => (net.isIPv6(host) ? "udp6" : "udp4");

const engine = new Forwarder(
  { upstreams: upstreams.map((u) => ({ label: `${u.host}:${u.port}` })) },
  crypto.getRandomValues(new Uint8Array(32)),
);
const start = performance.now();
const now = () => performance.now() - start;

// Clients waiting for an answer, by the id the engine knows them by: one id per query.
const clients = new Map();
let nextClient = 1;
function addClient(reply) {
  const id = nextClient++;
  clients.set(id, { reply, since: now() });
  return id;
}

// ---- the engine loop -------------------------------------------------------------------------------

let timer = null;

/** Sends everything the engine wants sent, logs its events, and arms the timer it asks for. */
function drain() {
  for (let i = 0; i < 100_000; i++) {
    const out = engine.poll();
    if (out.type === "wake") {
      clearTimeout(timer);
      timer = out.at === null ? null : setTimeout(tick, Math.max(0, out.at - now()));
      return;
    }
    if (out.type === "event") {
      if (args.log) console.log(`${(out.event.at_ms / 1000).toFixed(3)} ${out.text}`);
    } else if (out.type === "done") {
      // The engine no longer waits on that upstream query. The UDP socket is shared per
      // upstream here, so there is nothing to free; TCP connections close on their answer.
    } else if (out.type === "dropped") {
      clients.delete(out.client);
    } else if ("client" in out.to) {
      const c = clients.get(out.to.client);
      clients.delete(out.to.client);
      c?.reply(out.bytes);
    } else {
      sendUpstream(out.to.upstream, out.transport, out.bytes, out.token);
    }
  }
  throw new Error("the engine did not settle");
}

function tick() {
  timer = null;
  engine.handleTick(now());
  drain();
  // A safety net: the engine says which clients it dropped ("dropped"); forget any left over.
  for (const [id, c] of clients) if (now() - c.since > 30_000) clients.delete(id);
}

// ---- upstreams: one UDP socket each, a TCP connection per TCP query -------------------------------

const upstreamSockets = upstreams.map((u, index) => {
  const s = dgram.createSocket(family(u.host));
  s.on("message", (msg, from) => {
    if (from.address !== u.host || from.port !== u.port) return; // not from that upstream
    engine.handleResponse(now(), index, "udp", msg);
    drain();
  });
  s.on("error", (e) => console.error(`upstream ${u.host}:${u.port}: ${e.message}`));
  s.bind(0);
  return s;
});

function sendUpstream(index, transport, bytes, token) {
  const u = upstreams[index];
  const failed = () => {
    engine.handleFailure(now(), token);
    drain();
  };
  if (transport === "udp") {
    upstreamSockets[index].send(bytes, u.port, u.host, (e) => e && failed());
    return;
  }
  const sock = net.connect({ host: u.host, port: u.port });
  let buf = Buffer.alloc(0);
  let answered = false;
  sock.setTimeout(10_000, () => sock.destroy());
  sock.on("connect", () => sock.write(Buffer.concat([lengthPrefix(bytes.length), bytes])));
  sock.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      answered = true;
      // One connection per query: the answer is bound to its transmit by the token.
      engine.handleResponse(now(), index, "tcp", buf.subarray(2, 2 + buf.readUInt16BE(0)), token);
      drain();
      sock.end();
    }
  });
  sock.on("error", () => {});
  sock.on("close", () => answered || failed());
}

function lengthPrefix(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

// ---- clients: UDP, and TCP on the same port ------------------------------------------------------

const udp = dgram.createSocket(family(listen.host));
udp.on("message", (msg, from) => {
  const id = addClient((answer) => udp.send(answer, from.port, from.address));
  engine.handleQuery(now(), id, "udp", msg);
  drain();
});

const tcp = net.createServer((sock) => {
  let buf = Buffer.alloc(0);
  sock.setTimeout(30_000, () => sock.destroy());
  sock.on("error", () => {});
  sock.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    // Every complete length-prefixed query in the buffer (RFC 7766 pipelining).
    for (let i = 0; i < 1000 && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0); i++) {
      const query = buf.subarray(2, 2 + buf.readUInt16BE(0));
      buf = buf.subarray(2 + query.length);
      const id = addClient((answer) => sock.destroyed || sock.write(Buffer.concat([lengthPrefix(answer.length), answer])));
      engine.handleQuery(now(), id, "tcp", query);
      drain();
    }
  });
});

udp.bind(listen.port, listen.host, () => {
  const { address, port } = udp.address();
  tcp.listen(port, address, () => {
    console.log(`listening on ${address}:${port} (UDP and TCP), upstreams ${engine.stats().upstreams.map((u) => u.label).join(", ")}`);
  });
});

function stop() {
  clearTimeout(timer);
  udp.close();
  tcp.close();
  for (const s of upstreamSockets) s.close();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
