// examples/forwarder.mjs answering real dig queries on loopback: a tiny upstream (node:dgram,
// answering with dnspect.encode) runs in this process, the example in a child process, and dig
// (/usr/bin/dig) asks the example. Every wait is bounded; every process is stopped by its PID.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { decode, encode } from "dnspect";
import { seed758 } from "./fixtures.mjs";

const DIG = "/usr/bin/dig";
const example = fileURLToPath(new URL("../examples/forwarder.mjs", import.meta.url));

/** The upstream's answers: www.example. A, the incident's 758-byte uncompressed answer, NXDOMAIN. */
function answer(query) {
  const q = decode(query);
  const name = q.questions[0]?.name.toLowerCase();
  const header = { id: q.header.id, qr: true, rd: q.header.rd, ra: true };
  const edns = q.edns && { udp_size: 1232 };
  if (name === "api-push.vivo.com.cn." && q.questions[0].type === "A") {
    // The incident's upstream: every name written in full, 758 bytes, sent as it is over UDP.
    const bytes = seed758.slice();
    bytes[0] = q.header.id >> 8;
    bytes[1] = q.header.id & 255;
    return bytes;
  }
  if (name === "www.example." && q.questions[0].type === "A") {
    return encode({
      header,
      questions: q.questions,
      answers: [{ name: "www.example.", type: "A", ttl: 300, rdata: { kind: "a", address: "192.0.2.80" } }],
      edns,
    });
  }
  return encode({ header: { ...header, rcode: 3 }, questions: q.questions, edns });
}

function startUpstream() {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket("udp4");
    const seen = [];
    sock.on("message", (msg, from) => {
      seen.push(decode(msg).questions[0]?.name);
      sock.send(answer(msg), from.port, from.address);
    });
    sock.once("error", reject);
    sock.bind(0, "127.0.0.1", () => resolve({ sock, port: sock.address().port, seen }));
  });
}

/** Starts the example and resolves with its process and port once it says it is listening. */
function startExample(upstreamPort) {
  const child = spawn(process.execPath, [example, "--listen", "127.0.0.1:0", "--upstream", `127.0.0.1:${upstreamPort}`, "--log"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the example did not start within 10 s:\n${output}`));
    }, 10_000);
    const onData = (chunk) => {
      output += chunk;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timeout);
        resolve({ child, port: Number(m[1]), log: () => output });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (c) => (output += c));
    child.once("exit", (code) => {
      clearTimeout(timeout);
      reject(new Error(`the example exited (${code}) before listening:\n${output}`));
    });
  });
}

/** Stops a child by its PID: SIGTERM, then SIGKILL after 5 s. */
function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => process.kill(child.pid, "SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(child.pid, "SIGTERM");
  });
}

function dig(port, ...args) {
  return new Promise((resolve, reject) => {
    execFile(DIG, ["@127.0.0.1", "-p", String(port), ...args, "+tries=1", "+time=2"], { timeout: 15_000 }, (err, stdout) =>
      err ? reject(new Error(`dig ${args.join(" ")}: ${err.message}\n${stdout}`)) : resolve(stdout),
    );
  });
}

test("the Forwarder example answers dig on loopback", { skip: !existsSync(DIG) && `${DIG} is not installed`, timeout: 60_000 }, async () => {
  const upstream = await startUpstream();
  let ex;
  try {
    ex = await startExample(upstream.port);

    const a = await dig(ex.port, "www.example.", "A");
    assert.match(a, /status: NOERROR/, a);
    assert.match(a, /ANSWER: 1,/, a);
    assert.match(a, /^www\.example\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80$/m, a);

    // Again: from the engine's cache, the upstream is not asked twice.
    const again = await dig(ex.port, "www.example.", "A");
    assert.match(again, /192\.0\.2\.80/, again);
    assert.equal(upstream.seen.filter((n) => n === "www.example.").length, 1, `upstream saw ${upstream.seen}`);

    // Incident 000: the upstream's 758-byte uncompressed answer reaches a client without EDNS
    // whole, re-compressed to 358 bytes, instead of SERVFAIL or TC.
    const big = await dig(ex.port, "api-push.vivo.com.cn.", "A", "+noedns", "+ignore");
    assert.match(big, /status: NOERROR/, big);
    assert.match(big, /flags: qr rd ra;/, big);
    assert.match(big, /ANSWER: 20,/, big);
    assert.match(big, /MSG SIZE {2}rcvd: 358/, big);

    // The same over TCP.
    const overTcp = await dig(ex.port, "api-push.vivo.com.cn.", "A", "+tcp");
    assert.match(overTcp, /ANSWER: 20,/, overTcp);

    const nx = await dig(ex.port, "nothing.example.", "A");
    assert.match(nx, /status: NXDOMAIN/, nx);

    assert.match(ex.log(), /re-compressed to 358 B/, "the engine's events are logged");
  } finally {
    if (ex) await stop(ex.child);
    upstream.sock.close();
  }
});
