// mcp_sdk.mjs: the official TypeScript MCP client (@modelcontextprotocol/sdk from npm) against crec, for
// tests/integration/mcp.sh. Usage: node mcp_sdk.mjs SDK_DIR stdio CREC DB MODEL KEY | http URL KEY
// The SDK validates every structuredContent against the tool's outputSchema from tools/list, so calling each
// tool checks that the schemas crec publishes are true of its answers.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [sdkDir, mode, ...rest] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(path.join(sdkDir, "dist/esm", p)).href);
const { Client } = await load("client/index.js");
let transport;
if (mode === "stdio") {
  const { StdioClientTransport } = await load("client/stdio.js");
  const [crec, db, model, key] = rest;
  transport = new StdioClientTransport({ command: crec, args: ["mcp", "--db", db, "--model", model, "--key", key],
                                         env: { ...process.env, CREC_API_KEYS: key }, stderr: "ignore" });
} else {
  const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");
  const [url, key] = rest;
  transport = new StreamableHTTPClientTransport(new URL(url),
                                                { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
}
let fails = 0;
const check = (name, cond, detail) => {
  console.log(`${cond ? "ok  " : "FAIL"} sdk ${mode}: ${name}${cond ? "" : "  " + JSON.stringify(detail).slice(0, 400)}`);
  if (!cond) fails++;
};
const client = new Client({ name: "crec-sdk-test", version: "1.0.0" });
await client.connect(transport);
check("server name", client.getServerVersion()?.name === "crec", client.getServerVersion());
const { tools } = await client.listTools();
check("listTools: 7 tools", tools.length === 7, tools.map((t) => t.name));
const rec = await client.callTool({ name: "recommend", arguments: { user: "u1", k: 5 } });
check("callTool recommend", !rec.isError && rec.structuredContent.items.length === 5, rec);
const attr = rec.structuredContent.items[0].attributes.at(-1);
const calls = [
  ["recommend", { history: ["i1", "i2"], k: 3, must_not_have: [attr] }],
  ["similar_items", { item: "i3", k: 3 }],
  ["popular", { attribute: attr, k: 3 }],
  ["search_items", { query: attr, k: 3, match_all: false }],
  ["explain", { user: "u1", item: rec.structuredContent.items[1].id }],
  ["user_history", { user: "u1", limit: 3 }],
  ["record_feedback", { user: "u1", item: "i9", type: "like" }],
];
for (const [name, args] of calls) {
  try {
    const r = await client.callTool({ name, arguments: args });
    check(`callTool ${name} (output schema validated)`, !r.isError && r.structuredContent, r);
  } catch (e) {
    check(`callTool ${name}`, false, String(e));
  }
}
try {
  await client.callTool({ name: "recommend", arguments: { k: 0 } });
  check("invalid params rejected", false, "no error");
} catch (e) {
  check("invalid params -> McpError -32602", e.code === -32602 && /'k'/.test(e.message), String(e));
}
await client.close();
process.exit(fails ? 1 : 0);
