"""The kenetic language server: everything that speaks LSP or acts for the user."""

__version__ = "0.1.0"
