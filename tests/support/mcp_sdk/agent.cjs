// An agent built on MCP's TypeScript SDK, as Claude Desktop/Code, Cursor and the MCP
// Inspector are: tests/test_mcp.py runs it with node against /workbench/mcp.
//
//   node agent.cjs SDK URL   (env MCP_SDK_HOME, MCP_TOKEN, MCP_OTHER_TOKEN, MCP_TABLE,
//                             MCP_QUERY)
//
// SDK is the package to load from MCP_SDK_HOME's node_modules (package.json there names
// each release). With MCP_TOKEN it initializes a session, lists the tools, searches the
// catalog, previews MCP_TABLE, lists the resources, reads MCP_TABLE's schema resource, then lets MCP_OTHER_TOKEN try
// that session through the same SDK, ends the session (DELETE) and tries it once more.
// It prints what it saw as one JSON object; the test asserts on it.
"use strict";

const { createRequire } = require("node:module");
const path = require("node:path");

const [sdk, url] = process.argv.slice(2);
const { MCP_SDK_HOME, MCP_TOKEN, MCP_OTHER_TOKEN, MCP_TABLE, MCP_QUERY } = process.env;
const load = createRequire(path.join(MCP_SDK_HOME, "package.json"));
const { Client } = load(`${sdk}/client/index.js`);
const { StreamableHTTPClientTransport } = load(`${sdk}/client/streamableHttp.js`);

function connect(token, sessionId) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `token ${token}` } },
    sessionId,
  });
  const client = new Client({ name: "workbench-test-agent", version: "1.0.0" });
  return { client, transport };
}

/** The protocol version the server's answer to initialize gave (every release's way). */
function watchInitialize(transport, seen) {
  let handler;
  Object.defineProperty(transport, "onmessage", {
    get: () => handler,
    set: (next) => {
      handler =
        next &&
        ((message, extra) => {
          if (message.result && message.result.protocolVersion) {
            seen.protocol = message.result.protocolVersion;
          }
          return next(message, extra);
        });
    },
  });
}

function text(result) {
  return result.isError ? { error: result.content[0].text } : JSON.parse(result.content[0].text);
}

/** null if ``call`` succeeded; else the SDK's error: its message and the HTTP status
 * (newer releases give it as the error's code, older ones only in the message). */
async function refused(call) {
  try {
    await call();
    return null;
  } catch (error) {
    const message = String(error.message || error);
    const status = /HTTP (\d{3})/.exec(message);
    return { message, status: status ? Number(status[1]) : (error.code ?? null) };
  }
}

async function resumed(token, sessionId, protocol) {
  const { client, transport } = connect(token, sessionId);
  transport.setProtocolVersion?.(protocol); // (1.12 sends no version header at all)
  try {
    await client.connect(transport);
    return await client.listTools();
  } finally {
    await client.close();
  }
}

async function main() {
  const seen = { sdk };
  const { client, transport } = connect(MCP_TOKEN);
  watchInitialize(transport, seen);
  await client.connect(transport); // initialize, then notifications/initialized
  seen.session = transport.sessionId ?? null;
  seen.server = client.getServerVersion();
  seen.tools = (await client.listTools()).tools.map((tool) => tool.name);
  seen.search = text(await client.callTool({ name: "search_catalog", arguments: { query: MCP_QUERY } }));
  seen.preview = text(
    await client.callTool({ name: "preview_table", arguments: { table: MCP_TABLE, limit: 3 } }),
  );
  seen.templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
  seen.resources = (await client.listResources()).resources.map((r) => r.uri);
  const schema = await client.readResource({ uri: `workbench://tables/${MCP_TABLE}/schema` });
  seen.schema = JSON.parse(schema.contents[0].text);

  // Another user's token with this session's id, through the same SDK (which resumes a
  // session given its id, without initializing again): the session is not theirs.
  seen.other = await refused(() => resumed(MCP_OTHER_TOKEN, seen.session, seen.protocol));

  // The user ends the session (DELETE); its id then reaches nothing, even with their token.
  await transport.terminateSession();
  seen.sessionAfterEnd = transport.sessionId ?? null;
  await client.close();
  seen.ended = await refused(() => resumed(MCP_TOKEN, seen.session, seen.protocol));
  process.stdout.write(`${JSON.stringify(seen)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
