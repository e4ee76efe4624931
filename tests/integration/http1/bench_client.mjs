// The peer's figure for DISABLED_UnaryRate (h1_node_test.cc): n sequential
// unary Connect calls over HTTP/1.1 with connect-node's own client.
// usage: node bench_client.mjs <node_modules dir> <echo.fds> <base url> <n>
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const [modules, fdsFile, baseUrl, n] = process.argv.slice(2);
const require = createRequire(path.join(modules, "x.js"));
const { createFileRegistry, fromBinary } = require("@bufbuild/protobuf");
const { FileDescriptorSetSchema } = require("@bufbuild/protobuf/wkt");
const { createClient } = require("@connectrpc/connect");
const { createConnectTransport } = require("@connectrpc/connect-node");

const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(fdsFile)));
const client = createClient(registry.getService("weft.test.Echo"),
  createConnectTransport({ baseUrl, httpVersion: "1.1" }));
await client.unary({ text: "warm" });
const t0 = process.hrtime.bigint();
for (let i = 0; i < Number(n); i++) await client.unary({ text: "hello" });
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${(Number(n) / s).toFixed(0)}`);
