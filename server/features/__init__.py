"""LSP features, one small module each; server.setup registers them all in one place."""
