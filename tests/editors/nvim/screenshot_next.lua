-- Real Neovim in tmux for docs/nvim-next-edit.png (run by tests/editors/test_nvim.py).
--
-- Learns the print -> logger.info skill from two edits, accepts the marked next edit with <M-l>
-- twice (jump, accept) and waits for the next site to be marked (sign, struck-through old text,
-- preview). Then it writes KENETIC_TEST_RESULT ("marked" or "error: ..."); the test captures
-- the tmux pane. A watchdog quits after 40 s (shot.lua).

local shot = dofile(assert(os.getenv('KENETIC_REPO')) .. '/tests/editors/nvim/shot.lua')

shot.start(function()
  vim.o.signcolumn = 'yes'
  vim.o.statusline = " %t %=%{v:lua.require'kenetic'.status()} "
  vim.o.laststatus = 2
  local nextedit = require('kenetic.nextedit')
  shot.two_edits()
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
    shot.report('marked')
  end, 300)
end)
