// An independent Connect / gRPC / gRPC-Web server for weft's HTTP/1.1
// client: @connectrpc/connect-node's connectNodeAdapter on Node's own HTTP
// servers, serving weft.test.Echo (tests/support/echo.proto, read from a
// FileDescriptorSet that `protoc -o` wrote at test time; no code
// generation). It behaves as weft's test Echo service does (echo_service.c)
// for what the client tests use: echo text and payload, fail_code /
// fail_message, delay_ms, repeat, grow, client-stream concatenation, x-*
// metadata echoed as headers and trailers.
//
// usage: node echo_server.mjs <node_modules dir> <echo.fds> <mode> [cert key]
//   mode h1:    http.createServer (HTTP/1.1, plain)
//   mode h1tls: https.createServer (HTTP/1.1 over TLS, no ALPN)
//   mode h2tls: http2.createSecureServer, ALPN h2 and http/1.1
//   mode h1short: as h1, closing idle keep-alive connections after 50 ms
// Prints "port N" once listening; exits when stdin closes.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import http2 from "node:http2";
import path from "node:path";

const [modules, fdsFile, mode, certFile, keyFile] = process.argv.slice(2);
const require = createRequire(path.join(modules, "x.js"));
const { createFileRegistry, fromBinary } = require("@bufbuild/protobuf");
const { FileDescriptorSetSchema } = require("@bufbuild/protobuf/wkt");
const { ConnectError } = require("@connectrpc/connect");
const { connectNodeAdapter } = require("@connectrpc/connect-node");

const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(fdsFile)));
const Echo = registry.getService("weft.test.Echo");

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); reject(signal.reason); });
  });
}

function echoMetadata(ctx) {
  for (const [k, v] of ctx.requestHeader)
    if (k.startsWith("x-")) {
      ctx.responseHeader.set(k, v);
      ctx.responseTrailer.set(k, v);
    }
}

function failIfAsked(req) {
  if (req.failCode) throw new ConnectError(req.failMessage, req.failCode);
}

const impl = {
  async unary(req, ctx) {
    echoMetadata(ctx);
    if (req.delayMs) await sleep(req.delayMs, ctx.signal);
    failIfAsked(req);
    return { text: req.text, payload: req.payload };
  },
  async *serverStream(req, ctx) {
    echoMetadata(ctx);
    for (let i = 0; i < req.repeat; i++) {
      if (req.delayMs) await sleep(req.delayMs, ctx.signal);
      yield { text: req.text + "x".repeat(i * req.grow), index: i,
              payload: req.payload };
    }
    failIfAsked(req);
  },
  async clientStream(reqs, ctx) {
    echoMetadata(ctx);
    let text = "", n = 0;
    for await (const req of reqs) {
      failIfAsked(req);
      text += req.text;
      n++;
    }
    return { text, index: n };
  },
  async *bidi(reqs) {
    let i = 0;
    for await (const req of reqs) yield { text: req.text, index: i++ };
  },
};

const adapter = connectNodeAdapter({
  routes: (router) => router.service(Echo, impl),
});
// x-conn names the connection a request came on, so the client's
// keep-alive reuse can be checked.
const conns = new WeakMap();
let nconns = 0;
function handler(req, res) {
  const sock = req.stream ? req.stream.session : req.socket;
  if (!conns.has(sock)) conns.set(sock, String(++nconns));
  res.setHeader("x-conn", conns.get(sock));
  // h1short: close the connection 50 ms after each response, as a server
  // timing out an idle keep-alive connection does (its Connection header
  // still says keep-alive). keepAliveTimeout cannot go below its timer's
  // granularity here.
  if (mode === "h1short")
    res.on("finish", () => setTimeout(() => req.socket.destroy(), 50));
  adapter(req, res);
}
let server;
if (mode === "h1" || mode === "h1short") {
  server = http.createServer(handler);

} else if (mode === "h1tls") {
  server = https.createServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler);
} else if (mode === "h2tls") {
  server = http2.createSecureServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile),
      allowHTTP1: true }, handler);
} else {
  throw new Error(`unknown mode ${mode}`);
}
server.listen(0, "127.0.0.1", () => {
  console.log(`port ${server.address().port}`);
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
