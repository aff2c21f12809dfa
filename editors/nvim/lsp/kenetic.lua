-- The kenetic language server (https://github.com/... kenetic): learns code rewrites from your
-- edits and offers them back as code actions, inline completions and next edits.
--
-- Enable with `vim.lsp.enable('kenetic')`; change anything with `vim.lsp.config('kenetic', {...})`
-- or `require('kenetic').setup{...}` (which also adds :Kenetic, inline suggestions and command
-- episodes).

--- `kenetic` from $PATH; else, when this plugin lives in a kenetic checkout, the checkout's
--- `.venv/bin/kenetic` (what `make` builds). plugin/kenetic.lua says once when neither is there.
local function default_cmd()
  if vim.fn.executable('kenetic') == 1 then
    return { 'kenetic', 'serve' }
  end
  local here = debug.getinfo(1, 'S').source:gsub('^@', '')
  local checkout = vim.fn.fnamemodify(here, ':p:h:h:h:h') -- <checkout>/editors/nvim/lsp/kenetic.lua
  local venv = checkout .. '/.venv/bin/kenetic'
  if vim.fn.executable(venv) == 1 then
    return { venv, 'serve' }
  end
  return { 'kenetic', 'serve' }
end

---@type vim.lsp.Config
return {
  cmd = default_cmd(),
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
