"""A tiny MCP server for the tests, on the same SDK's MCPServer (FastMCP in mcp 1.x), over stdio."""

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("echo")


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@app.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason given (a ToolError's message reaches the client)."""
    raise ToolError(reason)


if __name__ == "__main__":
    app.run()
