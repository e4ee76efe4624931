// gRPC and gRPC-Web clients in another language against weft's HTTP/2 port:
// @connectrpc/connect-node's createGrpcTransport / createGrpcWebTransport
// (httpVersion "2"), no code generation (the Echo service comes from a
// FileDescriptorSet written by `protoc -o` at test time). Unary and server
// streaming in the binary and the JSON format, errors with a message that
// needs percent-encoding, a deadline; gRPC adds client streaming and bidi,
// gRPC-Web checks that those are refused as UNIMPLEMENTED. Prints one line
// per check; exits non-zero on any mismatch.
//
// usage: node grpc_client.mjs <node_modules dir> <echo.fds> <base url> grpc|grpc-web [1.1|2]
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const [modules, fdsFile, baseUrl, protocol, httpArg] = process.argv.slice(2);
const httpVersion = httpArg || "2";
const require = createRequire(path.join(modules, "x.js"));
const { createFileRegistry, fromBinary } = require("@bufbuild/protobuf");
const { FileDescriptorSetSchema } = require("@bufbuild/protobuf/wkt");
const { createClient, ConnectError, Code } = require("@connectrpc/connect");
const { createGrpcTransport, createGrpcWebTransport, compressionGzip } =
  require("@connectrpc/connect-node");

const fds = fromBinary(FileDescriptorSetSchema, readFileSync(fdsFile));
const Echo = createFileRegistry(fds).getService("weft.test.Echo");
if (!Echo) throw new Error("weft.test.Echo not in the descriptor set");
const make = protocol === "grpc" ? createGrpcTransport : createGrpcWebTransport;

let failed = 0;
function check(name, ok, detail) {
  console.log(`${ok ? "ok" : "FAIL"} ${protocol} ${name}${ok ? "" : ": " + detail}`);
  if (!ok) failed++;
}

async function expectError(name, fn, code, message) {
  try {
    await fn();
    check(name, false, "no error");
  } catch (e) {
    const ce = ConnectError.from(e);
    check(name, ce.code === code && (message === undefined || ce.rawMessage === message),
          `${Code[ce.code]} ${JSON.stringify(ce.rawMessage)}`);
  }
}

async function* requests(texts) {
  for (const t of texts) yield { text: t };
}

for (const binary of [true, false]) {
  const fmt = binary ? "proto" : "json";
  const client = createClient(Echo, make({ baseUrl, httpVersion,
                                           useBinaryFormat: binary }));
  const gz = createClient(Echo, make({ baseUrl, httpVersion, useBinaryFormat: binary,
                                       sendCompression: compressionGzip,
                                       acceptCompression: [compressionGzip],
                                       compressMinBytes: 1 }));

  const r = await client.unary({ text: `hello ${fmt}`, payload: new Uint8Array([1, 2, 255]) });
  check(`unary ${fmt}`, r.text === `hello ${fmt}` && r.payload.length === 3 &&
        r.payload[2] === 255, JSON.stringify(r));

  const big = "y".repeat(20000);
  const rz = await gz.unary({ text: big });
  check(`unary gzip ${fmt}`, rz.text === big, rz.text.length);

  const msg = "gone: 100% \u263a\r\n";
  await expectError(`unary error ${fmt}`,
    () => client.unary({ text: "x", failCode: Code.NotFound, failMessage: msg }),
    Code.NotFound, msg);

  const seen = [];
  for await (const m of client.serverStream({ text: "s", repeat: 5 }))
    seen.push(m.index);
  check(`server stream ${fmt}`, seen.join(",") === "0,1,2,3,4", seen.join(","));

  const sizes = [];
  for await (const m of gz.serverStream({ text: "g", repeat: 3, grow: 5000 }))
    sizes.push(m.text.length);
  check(`server stream gzip ${fmt}`, sizes.join(",") === "1,5001,10001", sizes.join(","));

  let got = 0;
  await expectError(`server stream error ${fmt}`, async () => {
    for await (const _ of client.serverStream({ text: "s", repeat: 2,
                                                failCode: Code.PermissionDenied,
                                                failMessage: "no" }))
      got++;
  }, Code.PermissionDenied, "no");
  check(`server stream error after messages ${fmt}`, got === 2, got);

  await expectError(`deadline ${fmt}`,
    () => client.unary({ text: "slow", delayMs: 3000 }, { timeoutMs: 200 }),
    Code.DeadlineExceeded);

  if (protocol === "grpc") {
    const cs = await client.clientStream(requests(["a", "b", "c"]));
    check(`client stream ${fmt}`, cs.text === "abc" && cs.index === 3, JSON.stringify(cs));
    const echoed = [];
    for await (const m of client.bidi(requests(["x", "y"])))
      echoed.push(`${m.index}${m.text}`);
    check(`bidi ${fmt}`, echoed.join(",") === "0x,1y", echoed.join(","));
  } else {
    await expectError(`client stream refused ${fmt}`,
      () => client.clientStream(requests(["a"])), Code.Unimplemented);
  }
}
process.exit(failed ? 1 : 0);
