// A Connect client in another language: @connectrpc/connect-node with
// @bufbuild/protobuf, no code generation. The Echo service comes from a
// FileDescriptorSet that `protoc -o` wrote at test time. Calls unary and
// server-streaming in both the binary and the JSON format (and a server
// stream with gzip accepted whose later messages get compressed) against the
// weft server and prints one line per check; exits non-zero on any mismatch.
//
// With http version 1.1 every call goes over HTTP/1.1, and unary calls are
// also made with Connect GET (useHttpGet; Unary has no side effects).
//
// usage: node connect_client.mjs <node_modules dir> <echo.fds> <base url>
//        [http version: 2 (default) or 1.1]
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const [modules, fdsFile, baseUrl, httpArg] = process.argv.slice(2);
const httpVersion = httpArg || "2";
const require = createRequire(path.join(modules, "x.js"));
const { createFileRegistry, fromBinary } = require("@bufbuild/protobuf");
const { FileDescriptorSetSchema } = require("@bufbuild/protobuf/wkt");
const { createClient, ConnectError, Code } = require("@connectrpc/connect");
const { createConnectTransport, compressionGzip } =
  require("@connectrpc/connect-node");

const fds = fromBinary(FileDescriptorSetSchema, readFileSync(fdsFile));
const registry = createFileRegistry(fds);
const Echo = registry.getService("weft.test.Echo");
if (!Echo) throw new Error("weft.test.Echo not in the descriptor set");

let failed = 0;
function check(name, ok, detail) {
  console.log(`${ok ? "ok" : "FAIL"} ${name}${ok ? "" : ": " + detail}`);
  if (!ok) failed++;
}

for (const binary of [true, false]) {
  const fmt = binary ? "proto" : "json";
  const transport = createConnectTransport({
    baseUrl,
    httpVersion,
    useBinaryFormat: binary,
  });
  const client = createClient(Echo, transport);
  // Accepting gzip only: the server must announce it in the stream's
  // headers before it compresses any envelope (a first message too small to
  // compress, then large ones).
  const gzClient = createClient(Echo, createConnectTransport({
    baseUrl,
    httpVersion,
    useBinaryFormat: binary,
    acceptCompression: [compressionGzip],
  }));

  const r = await client.unary({ text: `hello ${fmt}`, payload: new Uint8Array([1, 2, 255]) });
  check(`unary ${fmt}`, r.text === `hello ${fmt}` && r.payload.length === 3 &&
        r.payload[2] === 255, JSON.stringify(r));

  try {
    await client.unary({ text: "x", failCode: Code.NotFound, failMessage: "gone" });
    check(`unary error ${fmt}`, false, "no error");
  } catch (e) {
    const ce = ConnectError.from(e);
    check(`unary error ${fmt}`, ce.code === Code.NotFound && ce.rawMessage === "gone",
          `${ce.code} ${ce.rawMessage}`);
  }

  if (httpVersion === "1.1") {
    const getClient = createClient(Echo, createConnectTransport({
      baseUrl,
      httpVersion,
      useBinaryFormat: binary,
      useHttpGet: true,
    }));
    const g = await getClient.unary({ text: `get ${fmt}` });
    check(`unary GET ${fmt}`, g.text === `get ${fmt}`, JSON.stringify(g));
  }

  const seen = [];
  for await (const m of client.serverStream({ text: "s", repeat: 5 }))
    seen.push(m.index);
  check(`server stream ${fmt}`, seen.join(",") === "0,1,2,3,4", seen.join(","));

  try {
    const sizes = [];
    // delayMs: the first message's headers leave before the large ones
    for await (const m of gzClient.serverStream({ text: "g", repeat: 4, grow: 5000,
                                                  delayMs: 30 }))
      sizes.push(m.text.length);
    check(`server stream gzip ${fmt}`, sizes.join(",") === "1,5001,10001,15001",
          sizes.join(","));
  } catch (e) {
    check(`server stream gzip ${fmt}`, false, String(e));
  }

  try {
    const got = [];
    for await (const m of client.serverStream({ text: "s", repeat: 2,
                                                failCode: Code.PermissionDenied,
                                                failMessage: "no" }))
      got.push(m);
    check(`server stream error ${fmt}`, false, `no error after ${got.length}`);
  } catch (e) {
    const ce = ConnectError.from(e);
    check(`server stream error ${fmt}`, ce.code === Code.PermissionDenied,
          `${ce.code} ${ce.rawMessage}`);
  }
}
process.exit(failed ? 1 : 0);
