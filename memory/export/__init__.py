"""Skills exported as codemod rules (ast-grep, semgrep): see docs/export.md."""
