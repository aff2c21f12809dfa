-- The kenetic language server (https://github.com/... kenetic): learns code rewrites from your
-- edits and offers them back as code actions, inline completions and next edits.
--
-- Enable with `vim.lsp.enable('kenetic')`; change anything with `vim.lsp.config('kenetic', {...})`
-- or `require('kenetic').setup{...}` (which also adds :Kenetic, inline suggestions and command
-- episodes).

---@type vim.lsp.Config
return {
  cmd = { 'kenetic', 'serve' },
  -- the languages kenetic mines skills in (tree-sitter grammars it ships)
  filetypes = {
    'python',
    'javascript',
    'javascriptreact',
    'typescript',
    'typescriptreact',
    'go',
    'rust',
    'java',
    'c',
    'cpp',
    'lua',
    'ruby',
  },
  root_markers = { '.kenetic', '.git', '.hg', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' },
  -- kenetic's own settings (capture.idleGapMs, capture.ignore, skills.minExamples, ...), read at
  -- start; `settings` below is sent again as workspace/didChangeConfiguration
  init_options = {},
  settings = {},
}
