"""Agents: the workbench as an MCP server (tools, resources, audit), over HTTP and stdio."""
