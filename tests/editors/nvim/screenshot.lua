-- Real Neovim in tmux for docs/nvim-skill-action.png (run by tests/editors/test_nvim.py).
--
-- Learns the print -> logger.info skill from two edits, puts the cursor on a third site and opens
-- the code action menu with vim.lsp.buf.code_action() (Neovim's own vim.ui.select). When the
-- menu is up it writes KENETIC_TEST_RESULT ("menu" or "error: ..."); the test then captures the
-- tmux pane. A watchdog quits after 40 s.

vim.g.loaded_python3_provider = 0
vim.g.loaded_node_provider = 0
vim.g.loaded_perl_provider = 0
vim.g.loaded_ruby_provider = 0
vim.o.swapfile = false
vim.o.termguicolors = true
vim.o.number = true
vim.o.cursorline = true
vim.o.showmode = false
vim.o.shortmess = vim.o.shortmess .. 'FI'

local repo = assert(os.getenv('KENETIC_REPO'))
local ws = assert(os.getenv('KENETIC_TEST_WS'))
local result_path = assert(os.getenv('KENETIC_TEST_RESULT'))

vim.opt.rtp:prepend(repo .. '/editors/nvim')
vim.cmd('filetype on')
vim.cmd('syntax on')

local function report(text)
  local f = assert(io.open(result_path, 'w'))
  f:write(text)
  f:close()
end

vim.defer_fn(function()
  report('error: watchdog')
  vim.cmd('qall!')
end, 40000)

require('kenetic').setup({
  cmd = { assert(os.getenv('KENETIC_BIN')), 'serve' },
  settings = { capture = { idleGapMs = 100 } },
})

local function run()
  vim.cmd.edit(vim.fn.fnameescape(ws .. '/app.py'))
  assert(vim.wait(15000, function()
    local c = require('kenetic').client(0)
    return c and c.initialized
  end, 50), 'no kenetic client')
  local client = require('kenetic').client(0)
  vim.cmd('5s/print/logger.info/')
  vim.wait(400)
  vim.cmd('7s/print/logger.info/')
  vim.cmd('nohlsearch')
  vim.wait(400)
  assert(vim.wait(15000, function()
    local answer = client:request_sync('kenetic/skills', vim.empty_dict(), 3000, 0)
    return answer and answer.result and #answer.result.skills > 0
  end, 100), 'no skill learned')
  vim.api.nvim_win_set_cursor(0, { 9, 6 })
  vim.cmd('redraw!')
  -- the menu blocks in vim.ui.select (inputlist): report from a timer once it is drawn
  vim.defer_fn(function()
    report('menu')
  end, 700)
  vim.lsp.buf.code_action()
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = pcall(run)
      if not ok then
        report('error: ' .. tostring(err))
      end
    end)
  end,
})
