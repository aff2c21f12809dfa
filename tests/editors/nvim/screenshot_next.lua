-- Real Neovim in tmux for docs/nvim-next-edit.png (run by tests/editors/test_nvim.py).
--
-- Learns the print -> logger.info skill from two edits, accepts the marked next edit with <M-l>
-- twice (jump, accept) and waits for the next site to be marked (sign, struck-through old text,
-- preview). Then it writes KENETIC_TEST_RESULT ("marked" or "error: ..."); the test captures
-- the tmux pane. A watchdog quits after 40 s.

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
  vim.o.signcolumn = 'yes'
  vim.o.statusline = " %t %=%{v:lua.require'kenetic'.status()} "
  vim.o.laststatus = 2
  vim.cmd.edit(vim.fn.fnameescape(ws .. '/app.py'))
  assert(vim.wait(15000, function()
    local c = require('kenetic').client(0)
    return c and c.initialized
  end, 50), 'no kenetic client')
  local nextedit = require('kenetic.nextedit')
  vim.cmd('5s/print/logger.info/')
  vim.wait(400)
  vim.cmd('7s/print/logger.info/')
  vim.cmd('nohlsearch')
  assert(vim.wait(15000, function()
    return nextedit.current() ~= nil
  end, 50), 'nothing marked')
  nextedit.next() -- jump
  nextedit.next() -- accept
  local accepted = vim.api.nvim_win_get_cursor(0)[1]
  assert(vim.wait(10000, function()
    local m = nextedit.current()
    return m and m.edit.range.start.line + 1 ~= accepted
  end, 50), 'the next site not marked')
  vim.cmd('redraw!')
  vim.defer_fn(function()
    report('marked')
  end, 300)
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
