"""`kenetic mcp`: what kenetic knows about a workspace, served to other agents over MCP (stdio).

- workspace.py: the folder, its settings, sandbox and ignore rules, and its store opened only
  where one exists (never created), read-mostly beside an editor's server on the same file.
- sites.py: where a skill applies in a file or folder, the edits, and writing them atomically.
- app.py: the tools and the notes resource on the official SDK's MCPServer.

docs/mcp.md is the user's side of it.
"""
